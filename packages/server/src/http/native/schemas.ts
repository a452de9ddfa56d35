/** Schemas the native API's routes share: query flags, revisions, and the replies, errors included. */
import { object, type Schema } from "../schema.js";

/** A query flag: `?prefix`, `?prefix=true`, `?prefix=1`; `false` and `0` turn it off. */
export const FLAG: Schema = { type: "string", enum: ["", "true", "false", "1", "0"] };
export const REVISION: Schema = { type: "integer", minimum: 0 };
export const ENCODING: Schema = { type: "string", enum: ["utf8", "base64"], default: "utf8" };
export const INTEGER: Schema = { type: "integer" };

const ERROR_PROPERTIES = { error: { type: "string" }, code: INTEGER, message: { type: "string" } };
const ERROR_REPLY = object(ERROR_PROPERTIES);
const KV_REPLY = object({
  key: { type: "string" },
  value: { type: "string" },
  create_revision: INTEGER,
  mod_revision: INTEGER,
  version: INTEGER,
  lease: INTEGER,
});
export const KV_LIST_REPLY = object({ revision: INTEGER, count: INTEGER, more: { type: "boolean" }, kvs: { type: "array", items: KV_REPLY } });
export const WRITE_REPLY = object({ revision: INTEGER });
export const DELETE_REPLY = object({ deleted: INTEGER, revision: INTEGER });
export const COMPARE_FAILED_REPLY = object({ ...ERROR_PROPERTIES, current_revision: INTEGER });
export const INSTANCE_REPLY = object({
  id: { type: "string" },
  address: { type: "string" },
  port: INTEGER,
  tags: { type: "array", items: { type: "string" } },
  meta: { type: "object", additionalProperties: true },
  lease: INTEGER,
});
export const LAST_EVENT_ID: Schema = object({ "last-event-id": { type: "string", pattern: "^[0-9]+$" } });
export const NAME_PARAMS = object({ name: { type: "string", minLength: 1 } }, ["name"]);
export const INSTANCE_PARAMS = object({ name: { type: "string", minLength: 1 }, id: { type: "string", minLength: 1 } }, ["name", "id"]);

/** Every route may answer with an error; the app's handler renders it. */
export function replies(success: Schema, others: Record<number, Schema> = {}): Schema {
  return { 200: success, 400: ERROR_REPLY, 404: ERROR_REPLY, 503: ERROR_REPLY, ...others };
}
