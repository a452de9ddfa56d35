/**
 * etcd's Lock and Election services: the member runs the recipes for its
 * client, as etcd's v3lock and v3election do.
 */
import type * as grpc from "@grpc/grpc-js";
import { campaign, currentLeader, observeLeader, proclaim, resign, type LeaderView } from "../recipes/election.js";
import { acquireLock, releaseLock } from "../recipes/lock.js";
import { abortWhenCancelled, failStream, streamMayStart, unary, writeOptionsOf } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import type { GrpcServices } from "./services.js";

type Handlers = grpc.UntypedServiceImplementation;

export function lockService({ kv: recipes, admit }: GrpcServices): Handlers {
  return {
    Lock: unary(admit, async (m: Decoded, _metadata, signal) => {
      const held = await acquireLock(recipes, m.name, m.lease, signal);
      return { header: codec.encodeHeader(held.header), key: held.key };
    }),
    Unlock: unary(admit, async (m: Decoded, metadata) => ({
      header: codec.encodeHeader(await releaseLock(recipes, m.key, writeOptionsOf(metadata))),
    })),
  };
}

export function electionService({ kv: recipes, admit }: GrpcServices): Handlers {
  return {
    Campaign: unary(admit, async (m: Decoded, _metadata, signal) => {
      const elected = await campaign(recipes, m.name, m.lease, m.value, signal);
      return { header: codec.encodeHeader(elected.header), leader: codec.encodeLeaderKey(elected.leader) };
    }),
    Proclaim: unary(admit, async (m: Decoded, metadata) => ({
      header: codec.encodeHeader(await proclaim(recipes, codec.decodeLeaderKey(m.leader), m.value, writeOptionsOf(metadata))),
    })),
    Leader: unary(admit, async (m: Decoded) => encodeLeaderView(await currentLeader(recipes, m.name))),
    Resign: unary(admit, async (m: Decoded, metadata) => ({
      header: codec.encodeHeader(await resign(recipes, codec.decodeLeaderKey(m.leader), writeOptionsOf(metadata))),
    })),
    Observe: (call: grpc.ServerWritableStream<Decoded, unknown>) => {
      if (!streamMayStart(call, admit)) return;
      const observe = async (): Promise<void> => {
        for await (const view of observeLeader(recipes, call.request.name, abortWhenCancelled(call))) call.write(encodeLeaderView(view));
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
