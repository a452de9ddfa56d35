/** The native API's JSON views of the store: key-values as text or base64, and watch events as SSE messages. */
import type { NativeKv } from "@raftkv/client";
import type { Event, KeyValue } from "../../kv/api.js";
import { fromUtf8 } from "../../recipes/kv.js";
import type { ServiceChange } from "../../recipes/services.js";
import { withRevisionIds, type SseMessage } from "../sse.js";

/** How keys and values appear in JSON: UTF-8 text by default, base64 for binary data. */
export type TextEncoding = "utf8" | "base64";

export function nativeKv(kv: KeyValue, encoding: TextEncoding): NativeKv {
  return {
    key: asText(kv.key, encoding),
    value: asText(kv.value, encoding),
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

function asText(bytes: Uint8Array, encoding: TextEncoding): string {
  return encoding === "base64" ? Buffer.from(bytes).toString("base64") : fromUtf8(bytes);
}

/** The watch events of the key-value API, as SSE messages. */
export function kvEventMessages(events: readonly Event[], encoding: TextEncoding, withPrevious: boolean): SseMessage[] {
  return withRevisionIds(
    events.map((event) => {
      const { key, value, mod_revision, create_revision, version, lease } = nativeKv(event.kv, encoding);
      const prevValue = withPrevious && event.prevKv ? asText(event.prevKv.value, encoding) : undefined;
      return {
        revision: event.kv.modRevision,
        event: event.type === "PUT" ? "put" : "delete",
        data: { key, value, mod_revision, create_revision, version, lease, prev_value: prevValue },
      };
    }),
  );
}

/** Changes to a service's instances, as SSE messages: `register` with the instance, `deregister` with its id. */
export function serviceMessages(changes: readonly ServiceChange[]): SseMessage[] {
  return withRevisionIds(
    changes.map((change) =>
      change.kind === "register"
        ? { revision: change.revision, event: "register", data: change.instance }
        : { revision: change.revision, event: "deregister", data: { id: change.id } },
    ),
  );
}
