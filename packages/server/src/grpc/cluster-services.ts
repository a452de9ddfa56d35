/**
 * etcd's Cluster and Maintenance services over the member's request API.
 */
import { createHash } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import type { MaintenanceApi } from "../kv/api.js";
import { admitStream, failStream, unary } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import { answerOnLeader } from "./leader-only.js";
import type { GrpcServices } from "./services.js";

type Handlers = grpc.UntypedServiceImplementation;

export function clusterService({ admit, memberTls }: GrpcServices): Handlers {
  return {
    MemberList: unary(admit, async (_m, { cluster }) => codec.encodeMembers(await cluster.memberList())),
    MemberAdd: unary(admit, async (m: Decoded, scope) =>
      answerOnLeader(scope, memberTls, {
        path: "/v3/cluster/member/add",
        body: { peerURLs: m.peerURLs, isLearner: m.isLearner },
        answerHere: async () => codec.encodeMembers(await scope.cluster.memberAdd(m.peerURLs, m.isLearner)),
      }),
    ),
    MemberRemove: unary(admit, async (m: Decoded, scope) =>
      answerOnLeader(scope, memberTls, {
        path: "/v3/cluster/member/remove",
        body: { ID: m.ID },
        answerHere: async () => codec.encodeMembers(await scope.cluster.memberRemove(m.ID)),
      }),
    ),
    MemberUpdate: unary(admit, async (m: Decoded, { cluster }) => codec.encodeMembers(await cluster.memberUpdate(m.ID, m.peerURLs))),
    MemberPromote: unary(admit, async (m: Decoded, scope) =>
      answerOnLeader(scope, memberTls, {
        path: "/v3/cluster/member/promote",
        body: { ID: m.ID },
        answerHere: async () => codec.encodeMembers(await scope.cluster.memberPromote(m.ID)),
      }),
    ),
  };
}

export function maintenanceService({ admit }: GrpcServices): Handlers {
  return {
    Status: unary(admit, async (_m, { maintenance }) => codec.encodeStatus(await maintenance.status())),
    Alarm: unary(admit, async (m: Decoded, { maintenance }) => codec.encodeAlarmResponse(await maintenance.alarm(codec.decodeAlarmRequest(m)))),
    HashKV: unary(admit, async (m: Decoded, { maintenance }) => {
      const { header, hash, compactRevision } = await maintenance.hashKv(m.revision);
      return { header: codec.encodeHeader(header), hash, compact_revision: compactRevision };
    }),
    // etcd hashes its whole database file; the closest here is the hash of every key and value now.
    Hash: unary(admit, async (_m, { maintenance }) => {
      const { header, hash } = await maintenance.hashKv(0);
      return { header: codec.encodeHeader(header), hash };
    }),
    Defragment: unary(admit, async (_m, { maintenance }) => codec.headerOnly(await maintenance.defragment())),
    MoveLeader: unary(admit, async (m: Decoded, { maintenance }) => codec.headerOnly(await maintenance.moveLeader(m.targetID))),
    Snapshot: async (call: grpc.ServerWritableStream<Decoded, unknown>) => {
      const scope = await admitStream(call, admit);
      if (!scope) return;
      sendSnapshot(scope.maintenance, call).then(
        () => call.end(),
        (error: unknown) => failStream(call, error),
      );
    },
  };
}

/** etcd pads a snapshot to a multiple of this before its SHA-256 trailer; etcdctl checks the size. */
const SNAPSHOT_ALIGNMENT = 512;

/**
 * The snapshot file as etcd streams its database: the bytes, zero padding up
 * to a multiple of 512, and the SHA-256 of all that, which etcdctl checks.
 * A raftkv snapshot file ends at its own checksum, so what follows it is
 * ignored when the saved file is restored.
 */
async function sendSnapshot(maintenance: MaintenanceApi, call: grpc.ServerWritableStream<Decoded, unknown>): Promise<void> {
  const snapshot = await maintenance.snapshot();
  const header = codec.encodeHeader(snapshot.header);
  const padding = (SNAPSHOT_ALIGNMENT - (snapshot.size % SNAPSHOT_ALIGNMENT)) % SNAPSHOT_ALIGNMENT;
  const digest = createHash("sha256");
  let remaining = snapshot.size + padding + 32;
  const send = async (blob: Uint8Array): Promise<void> => {
    remaining -= blob.byteLength;
    if (!call.write({ header, remaining_bytes: remaining, blob })) await new Promise((resolve) => call.once("drain", resolve));
  };
  for await (const chunk of snapshot.bytes) {
    if (call.cancelled) return;
    digest.update(chunk);
    await send(chunk);
  }
  const zeros = new Uint8Array(padding);
  digest.update(zeros);
  await send(zeros);
  await send(digest.digest());
}
