/**
 * etcd's KV, Watch and Lease services over the member's request API.
 */
import type * as grpc from "@grpc/grpc-js";
import type { Watch, WatchUpdate } from "../kv/api.js";
import { keepAliveAsEtcd } from "../recipes/kv.js";
import { failStream, streamMayStart, toServiceError, unary, writeOptionsOf } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import { sendQueuedTogether } from "./send-together.js";
import type { GrpcServices } from "./services.js";

type Handlers = grpc.UntypedServiceImplementation;

export function kvService({ kv, admit }: GrpcServices): Handlers {
  return {
    Range: unary(admit, async (m: Decoded) => codec.encodeRangeResponse(await kv.range(codec.decodeRangeRequest(m)))),
    Put: unary(admit, async (m: Decoded, metadata) => codec.encodePutResponse(await kv.put(codec.decodePutRequest(m), writeOptionsOf(metadata)))),
    DeleteRange: unary(admit, async (m: Decoded, metadata) =>
      codec.encodeDeleteRangeResponse(await kv.deleteRange(codec.decodeDeleteRangeRequest(m), writeOptionsOf(metadata))),
    ),
    Txn: unary(admit, async (m: Decoded, metadata) => {
      return codec.encodeTxnResponse(await kv.txn(codec.decodeTxnRequest(m), writeOptionsOf(metadata)));
    }),
    Compact: unary(admit, async (m: Decoded, metadata) => codec.headerOnly(await kv.compact(m.revision, writeOptionsOf(metadata)))),
  };
}

export function leaseService({ kv, admit }: GrpcServices): Handlers {
  return {
    LeaseGrant: unary(admit, async (m: Decoded, metadata) => {
      const granted = await kv.leaseGrant(m.TTL, m.ID, writeOptionsOf(metadata));
      return { header: codec.encodeHeader(granted.header), ID: granted.id, TTL: granted.ttl };
    }),
    LeaseRevoke: unary(admit, async (m: Decoded, metadata) => codec.headerOnly(await kv.leaseRevoke(m.ID, writeOptionsOf(metadata)))),
    LeaseTimeToLive: unary(admit, async (m: Decoded) => codec.encodeTimeToLive(await kv.leaseTimeToLive(m.ID, m.keys))),
    LeaseLeases: unary(admit, async () => {
      const { header, leases } = await kv.leaseLeases();
      return { header: codec.encodeHeader(header), leases: leases.map((id) => ({ ID: id })) };
    }),
    LeaseKeepAlive: (call: grpc.ServerDuplexStream<Decoded, unknown>) => {
      if (!streamMayStart(call, admit)) return;
      // One renewal at a time, answered in the order asked.
      let previous = Promise.resolve();
      call.on("data", (m: Decoded) => {
        previous = previous.then(async () => {
          const renewed = await keepAliveAsEtcd(kv, m.ID);
          if (!call.destroyed) call.write({ header: codec.encodeHeader(renewed.header), ID: renewed.id, TTL: renewed.ttl });
        }).catch((error: unknown) => failStream(call, error));
      });
      call.on("end", () => void previous.then(() => call.end()));
    },
  };
}

/** The id etcd's progress responses carry: they belong to no watch. */
const NO_WATCH_ID = -1;

/**
 * One Watch stream carries many watches. Ids are the client's, or the
 * lowest free one from 0 up, as etcd assigns them. A watch's first message
 * says it was created; updates the watch produced meanwhile (history) follow it.
 */
export function watchService({ kv, admit }: GrpcServices): Handlers {
  return {
    Watch: (call: grpc.ServerDuplexStream<Decoded, unknown>) => {
      if (!streamMayStart(call, admit)) return;
      sendQueuedTogether(call);
      const watches = new Map<number, Watch>();
      let nextId = 0;
      const send = (message: unknown): void => {
        if (!call.destroyed && call.writable) call.write(message);
      };
      const create = async (m: Decoded): Promise<void> => {
        let id = m.watch_id as number;
        if (id === 0) {
          while (watches.has(nextId)) nextId += 1;
          id = nextId;
        }
        if (watches.has(id)) {
          send({ header: codec.encodeHeader(kv.header()), watch_id: id, created: true, canceled: true, cancel_reason: "mvcc: duplicate watch ID provided on the WatchStream" });
          return;
        }
        const early: WatchUpdate[] = [];
        let created = false;
        const deliver = (update: WatchUpdate): void => {
          if (!created) early.push(update);
          else sendUpdate(update);
        };
        const sendUpdate = (update: WatchUpdate): void => {
          // A compacted start ends the watch.
          if (update.kind === "compacted") watches.delete(id);
          send(encodeWatchUpdate(update, id));
        };
        try {
          watches.set(id, await kv.watch(codec.decodeWatchCreate(m), deliver));
        } catch (error) {
          const reason = toServiceError(error).details;
          send({ header: codec.encodeHeader(kv.header()), watch_id: id, created: true, canceled: true, cancel_reason: reason });
          return;
        }
        send({ header: codec.encodeHeader(kv.header()), watch_id: id, created: true });
        created = true;
        for (const update of early) sendUpdate(update);
      };
      const cancel = (id: number): void => {
        const watch = watches.get(id);
        if (!watch) return;
        watch.cancel();
        watches.delete(id);
        send({ header: codec.encodeHeader(kv.header()), watch_id: id, canceled: true });
      };
      let previous = Promise.resolve();
      call.on("data", (m: Decoded) => {
        previous = previous.then(async () => {
          if (m.request_union === "create_request") await create(m.create_request);
          else if (m.request_union === "cancel_request") cancel(m.cancel_request.watch_id);
          else if (m.request_union === "progress_request") send({ header: codec.encodeHeader(kv.header()), watch_id: NO_WATCH_ID });
        }).catch((error: unknown) => failStream(call, error));
      });
      const stopAll = (): void => {
        for (const watch of watches.values()) watch.cancel();
        watches.clear();
      };
      call.on("end", () => {
        stopAll();
        call.end();
      });
      call.on("cancelled", stopAll);
      call.on("error", stopAll);
    },
  };
}

/** A watch update as etcd sends it; a compacted start revision cancels the watch. */
function encodeWatchUpdate(update: WatchUpdate, id: number): unknown {
  const common = { header: codec.encodeHeader(update.header), watch_id: id };
  switch (update.kind) {
    case "events":
      return { ...common, events: update.events.map(codec.encodeEvent) };
    case "progress":
      return common;
    case "compacted":
      return { ...common, canceled: true, compact_revision: update.compactRevision };
  }
}
