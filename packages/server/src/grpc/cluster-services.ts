/**
 * etcd's Cluster, Maintenance and Auth services over the member's request API.
 */
import { createHash } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import { GrpcCode, RaftkvError } from "../errors.js";
import { failStream, streamMayStart, unary } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import { answerOnLeader } from "./leader-only.js";
import type { GrpcServices } from "./services.js";

type Handlers = grpc.UntypedServiceImplementation;

export function clusterService({ cluster, admit }: GrpcServices): Handlers {
  return {
    MemberList: unary(admit, async () => codec.encodeMembers(await cluster.memberList())),
    MemberAdd: unary(admit, async (m: Decoded) =>
      answerOnLeader(cluster, {
        path: "/v3/cluster/member/add",
        body: { peerURLs: m.peerURLs, isLearner: m.isLearner },
        answerHere: async () => codec.encodeMembers(await cluster.memberAdd(m.peerURLs, m.isLearner)),
      }),
    ),
    MemberRemove: unary(admit, async (m: Decoded) =>
      answerOnLeader(cluster, {
        path: "/v3/cluster/member/remove",
        body: { ID: m.ID },
        answerHere: async () => codec.encodeMembers(await cluster.memberRemove(m.ID)),
      }),
    ),
    MemberUpdate: unary(admit, async (m: Decoded) => codec.encodeMembers(await cluster.memberUpdate(m.ID, m.peerURLs))),
    MemberPromote: unary(admit, async (m: Decoded) =>
      answerOnLeader(cluster, {
        path: "/v3/cluster/member/promote",
        body: { ID: m.ID },
        answerHere: async () => codec.encodeMembers(await cluster.memberPromote(m.ID)),
      }),
    ),
  };
}

export function maintenanceService({ kv, maintenance, admit }: GrpcServices): Handlers {
  return {
    Status: unary(admit, async () => codec.encodeStatus(await maintenance.status())),
    Alarm: unary(admit, async (m: Decoded) => codec.encodeAlarmResponse(await maintenance.alarm(codec.decodeAlarmRequest(m)))),
    HashKV: unary(admit, async (m: Decoded) => {
      const { header, hash, compactRevision } = await maintenance.hashKv(m.revision);
      return { header: codec.encodeHeader(header), hash, compact_revision: compactRevision };
    }),
    // etcd hashes its whole database file; the closest here is the hash of every key and value now.
    Hash: unary(admit, async () => {
      const { header, hash } = await maintenance.hashKv(0);
      return { header: codec.encodeHeader(header), hash };
    }),
    Defragment: unary(admit, async () => codec.headerOnly(await maintenance.defragment())),
    MoveLeader: unary(admit, async (m: Decoded) => codec.headerOnly(await maintenance.moveLeader(m.targetID))),
    Snapshot: (call: grpc.ServerWritableStream<Decoded, unknown>) => {
      if (!streamMayStart(call, admit)) return;
      sendSnapshot(maintenance, call).then(
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
async function sendSnapshot(maintenance: GrpcServices["maintenance"], call: grpc.ServerWritableStream<Decoded, unknown>): Promise<void> {
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

const AUTH_NOT_ENABLED = new RaftkvError(GrpcCode.FailedPrecondition, "etcdserver: authentication is not enabled");

/** Auth as etcd answers with authentication off; user and role management is not offered yet. */
export function authService({ admit }: GrpcServices): Handlers {
  return {
    Authenticate: unary(admit, async () => {
      throw AUTH_NOT_ENABLED;
    }),
  };
}
