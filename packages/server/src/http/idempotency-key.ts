/**
 * The Idempotency-Key header, which both HTTP APIs take on their writes: the
 * client's request id for a write it may retry. The store applies a write
 * once per id within its window and answers retries with the first outcome
 * (see WriteOptions).
 */
import { MAX_REQUEST_ID_LENGTH } from "@raftkv/mvcc";
import type { WriteOptions } from "../kv/api.js";

export interface IdempotencyKeyHeaders {
  readonly "idempotency-key"?: string;
}

/** The header's route schema: an empty or overlong key is refused with a 400 that names the header. */
export const IDEMPOTENCY_KEY_HEADERS = {
  type: "object",
  properties: { "idempotency-key": { type: "string", minLength: 1, maxLength: MAX_REQUEST_ID_LENGTH } },
} as const;

export function writeOptionsOf(headers: IdempotencyKeyHeaders): WriteOptions {
  const key = headers["idempotency-key"];
  return key === undefined ? {} : { requestId: key };
}
