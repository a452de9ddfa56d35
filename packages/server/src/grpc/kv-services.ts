/**
 * etcd's KV and Lease services over the member's request API (Watch is in
 * watch-stream.ts).
 */
import type * as grpc from "@grpc/grpc-js";
import { keepAliveAsEtcd } from "../recipes/kv.js";
import { admitStream, failStream, unary, writeOptionsOf } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import type { GrpcServices } from "./services.js";

type Handlers = grpc.UntypedServiceImplementation;

export function kvService({ admit }: GrpcServices): Handlers {
  return {
    Range: unary(admit, async (m: Decoded, { kv }) => codec.encodeRangeResponse(await kv.range(codec.decodeRangeRequest(m)))),
    Put: unary(admit, async (m: Decoded, { kv }, { metadata }) => codec.encodePutResponse(await kv.put(codec.decodePutRequest(m), writeOptionsOf(metadata)))),
    DeleteRange: unary(admit, async (m: Decoded, { kv }, { metadata }) =>
      codec.encodeDeleteRangeResponse(await kv.deleteRange(codec.decodeDeleteRangeRequest(m), writeOptionsOf(metadata))),
    ),
    Txn: unary(admit, async (m: Decoded, { kv }, { metadata }) => codec.encodeTxnResponse(await kv.txn(codec.decodeTxnRequest(m), writeOptionsOf(metadata)))),
    Compact: unary(admit, async (m: Decoded, { kv }, { metadata }) => codec.headerOnly(await kv.compact(m.revision, writeOptionsOf(metadata)))),
  };
}

export function leaseService({ admit }: GrpcServices): Handlers {
  return {
    LeaseGrant: unary(admit, async (m: Decoded, { kv }, { metadata }) => {
      const granted = await kv.leaseGrant(m.TTL, m.ID, writeOptionsOf(metadata));
      return { header: codec.encodeHeader(granted.header), ID: granted.id, TTL: granted.ttl };
    }),
    LeaseRevoke: unary(admit, async (m: Decoded, { kv }, { metadata }) => codec.headerOnly(await kv.leaseRevoke(m.ID, writeOptionsOf(metadata)))),
    LeaseTimeToLive: unary(admit, async (m: Decoded, { kv }) => codec.encodeTimeToLive(await kv.leaseTimeToLive(m.ID, m.keys))),
    LeaseLeases: unary(admit, async (_m, { kv }) => {
      const { header, leases } = await kv.leaseLeases();
      return { header: codec.encodeHeader(header), leases: leases.map((id) => ({ ID: id })) };
    }),
    LeaseKeepAlive: async (call: grpc.ServerDuplexStream<Decoded, unknown>) => {
      const scope = await admitStream(call, admit);
      if (!scope) return;
      const { kv } = scope;
      // One renewal at a time, answered in the order asked.
      let previous = Promise.resolve();
      call.on("data", (m: Decoded) => {
        previous = previous
          .then(async () => {
            const renewed = await keepAliveAsEtcd(kv, m.ID);
            if (!call.destroyed) call.write({ header: codec.encodeHeader(renewed.header), ID: renewed.id, TTL: renewed.ttl });
          })
          .catch((error: unknown) => failStream(call, error));
      });
      call.on("end", () => void previous.then(() => call.end()));
    },
  };
}
