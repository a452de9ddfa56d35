/**
 * etcd's Lock and Election services: the member runs the recipes for its
 * client, as etcd's v3lock and v3election do.
 */
import type * as grpc from "@grpc/grpc-js";
import { campaign, currentLeader, observeLeader, proclaim, resign, type LeaderView } from "../recipes/election.js";
import { acquireLock, releaseLock } from "../recipes/lock.js";
import { abortWhenCancelled, admitStream, failStream, unary, writeOptionsOf } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import type { GrpcServices } from "./services.js";

type Handlers = grpc.UntypedServiceImplementation;

export function lockService({ admit }: GrpcServices): Handlers {
  return {
    Lock: unary(admit, async (m: Decoded, { kv }, { signal }) => {
      const held = await acquireLock(kv, m.name, m.lease, signal);
      return { header: codec.encodeHeader(held.header), key: held.key };
    }),
    Unlock: unary(admit, async (m: Decoded, { kv }, { metadata }) => ({
      header: codec.encodeHeader(await releaseLock(kv, m.key, writeOptionsOf(metadata))),
    })),
  };
}

export function electionService({ admit }: GrpcServices): Handlers {
  return {
    Campaign: unary(admit, async (m: Decoded, { kv }, { signal }) => {
      const elected = await campaign(kv, m.name, m.lease, m.value, signal);
      return { header: codec.encodeHeader(elected.header), leader: codec.encodeLeaderKey(elected.leader) };
    }),
    Proclaim: unary(admit, async (m: Decoded, { kv }, { metadata }) => ({
      header: codec.encodeHeader(await proclaim(kv, codec.decodeLeaderKey(m.leader), m.value, writeOptionsOf(metadata))),
    })),
    Leader: unary(admit, async (m: Decoded, { kv }) => encodeLeaderView(await currentLeader(kv, m.name))),
    Resign: unary(admit, async (m: Decoded, { kv }, { metadata }) => ({
      header: codec.encodeHeader(await resign(kv, codec.decodeLeaderKey(m.leader), writeOptionsOf(metadata))),
    })),
    Observe: async (call: grpc.ServerWritableStream<Decoded, unknown>) => {
      const scope = await admitStream(call, admit);
      if (!scope) return;
      const observe = async (): Promise<void> => {
        for await (const view of observeLeader(scope.kv, call.request.name, abortWhenCancelled(call))) call.write(encodeLeaderView(view));
      };
      observe().then(
        () => call.end(),
        (error: unknown) => failStream(call, error),
      );
    },
  };
}

function encodeLeaderView(view: LeaderView): unknown {
  return { header: codec.encodeHeader(view.header), kv: codec.encodeKv(view.kv) };
}
