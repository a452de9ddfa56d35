/**
 * Auth over gRPC on a real in-process member, through grpc-js's client:
 * etcd's whole Auth service, the `token` metadata checked by the same guard
 * the gateway's requests pass, etcd's codes and messages for a missing,
 * invalid or voided token, and watches checked create by create.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { bytes, call, clientOf, messagesOf, rejection, startMember, untilLeader, type Client, type Member, type Message } from "./support/grpc.js";

const MIN_BCRYPT_COST = 4;

function withToken(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set("token", token);
  return metadata;
}

/** The status of a refused call, as [code, details]. */
async function refusal(promise: Promise<unknown>): Promise<[number, string]> {
  const { code, details } = await rejection(promise);
  return [code, details];
}

const text = (value: Uint8Array) => Buffer.from(value).toString();

describe("auth over gRPC", () => {
  let member: Member;
  let kv: Client;
  let auth: Client;
  let maintenance: Client;
  const tokens = new Map<string, grpc.Metadata>();
  const as = (user: string): grpc.Metadata => tokens.get(user) ?? assert.fail(`${user} has not logged in`);
  const login = async (user: string, password: string): Promise<void> => {
    const { token } = await call(auth, "Authenticate", { name: user, password });
    tokens.set(user, withToken(token as string));
  };

  before(async () => {
    member = await startMember(0, { bcryptCost: MIN_BCRYPT_COST });
    kv = clientOf("KV", member.address);
    auth = clientOf("Auth", member.address);
    maintenance = clientOf("Maintenance", member.address);
    await untilLeader(() => call(kv, "Put", { key: bytes("app/x"), value: bytes("1") }));
  });
  after(async () => {
    for (const client of [kv, auth, maintenance]) client?.close();
    await member?.stop();
  });

  test("enabling auth: etcd's answers before and after the root user and role exist", async () => {
    assert.deepEqual(await refusal(call(auth, "Authenticate", { name: "root", password: "pw" })), [
      grpc.status.FAILED_PRECONDITION,
      "etcdserver: authentication is not enabled",
    ]);
    assert.deepEqual(await refusal(call(auth, "AuthEnable", {})), [grpc.status.FAILED_PRECONDITION, "etcdserver: root user does not exist"]);
    await call(auth, "UserAdd", { name: "root", password: "pw" });
    assert.deepEqual(await refusal(call(auth, "UserAdd", { name: "root", password: "pw" })), [
      grpc.status.FAILED_PRECONDITION,
      "etcdserver: user name already exists",
    ]);
    assert.deepEqual(await refusal(call(auth, "AuthEnable", {})), [grpc.status.FAILED_PRECONDITION, "etcdserver: root user does not have root role"]);
    await call(auth, "RoleAdd", { name: "root" });
    await call(auth, "UserGrantRole", { user: "root", role: "root" });
    const enabled = await call(auth, "AuthEnable", {});
    assert.equal(enabled.header.member_id, member.node.memberId);
  });

  test("without a token a call is nobody, with a bad one it is refused, with a good one it is its user", async () => {
    assert.deepEqual(await refusal(call(kv, "Range", { key: bytes("app/x") })), [grpc.status.INVALID_ARGUMENT, "etcdserver: user name is empty"]);
    assert.deepEqual(await refusal(call(kv, "Range", { key: bytes("app/x") }, withToken("forged.1"))), [
      grpc.status.UNAUTHENTICATED,
      "etcdserver: invalid auth token",
    ]);
    assert.deepEqual(await refusal(call(auth, "Authenticate", { name: "root", password: "wrong" })), [
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: authentication failed, invalid user ID or password",
    ]);
    await login("root", "pw");
    assert.equal(text((await call(kv, "Range", { key: bytes("app/x") }, as("root"))).kvs[0].value), "1");
    // etcd reads no token on Authenticate: a stale one sent along does not stop a client from logging in again.
    const stale = await call(auth, "Authenticate", { name: "root", password: "pw" }, withToken("forged.1"));
    assert.match(stale.token as string, /\S/);
  });

  test("users and roles managed through the Auth service", async () => {
    const root = as("root");
    await call(auth, "RoleAdd", { name: "reader" }, root);
    await call(auth, "RoleGrantPermission", { name: "reader", perm: { permType: "READ", key: bytes("app/"), range_end: bytes("app0") } }, root);
    assert.deepEqual(await refusal(call(auth, "RoleGrantPermission", { name: "reader" }, root)), [
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: permission not given",
    ]);
    assert.deepEqual(await refusal(call(auth, "RoleGrantPermission", { name: "ghost", perm: { key: bytes("a") } }, root)), [
      grpc.status.FAILED_PRECONDITION,
      "etcdserver: role name not found",
    ]);
    const reader = await call(auth, "RoleGet", { role: "reader" }, root);
    assert.deepEqual(
      reader.perm.map((p: Message) => [p.permType, text(p.key), text(p.range_end)]),
      [["READ", "app/", "app0"]],
    );
    await call(auth, "UserAdd", { name: "alice", password: "apw" }, root);
    await call(auth, "UserAdd", { name: "bob", options: { no_password: true } }, root);
    await call(auth, "UserGrantRole", { user: "alice", role: "reader" }, root);
    assert.deepEqual(await refusal(call(auth, "UserGrantRole", { user: "alice", role: "ghost" }, root)), [
      grpc.status.FAILED_PRECONDITION,
      "etcdserver: role name not found",
    ]);
    assert.deepEqual(await refusal(call(auth, "UserGet", { name: "ghost" }, root)), [grpc.status.FAILED_PRECONDITION, "etcdserver: user name not found"]);
    assert.deepEqual((await call(auth, "UserGet", { name: "alice" }, root)).roles, ["reader"]);
    assert.deepEqual((await call(auth, "UserList", {}, root)).users, ["alice", "bob", "root"]);
    assert.deepEqual((await call(auth, "RoleList", {}, root)).roles, ["reader", "root"]);
    // A user added without a password cannot log in with one (it is for certificate CNs).
    assert.deepEqual(await refusal(call(auth, "Authenticate", { name: "bob", password: "" })), [
      grpc.status.INVALID_ARGUMENT,
      "etcdserver: authentication failed, invalid user ID or password",
    ]);
  });

  test("a user gets what its roles allow and etcd's permission denied for the rest", async () => {
    await login("alice", "apw");
    const alice = as("alice");
    assert.equal((await call(kv, "Range", { key: bytes("app/x") }, alice)).count, 1);
    const denied = [grpc.status.PERMISSION_DENIED, "etcdserver: permission denied"];
    assert.deepEqual(await refusal(call(kv, "Put", { key: bytes("app/x"), value: bytes("2") }, alice)), denied);
    assert.deepEqual(await refusal(call(kv, "Range", { key: bytes("other") }, alice)), denied);
    assert.deepEqual(await refusal(call(auth, "UserList", {}, alice)), denied);
    assert.deepEqual(await refusal(call(maintenance, "Defragment", {}, alice)), denied);
    assert.deepEqual(await refusal(call(maintenance, "Status", {}, alice)), denied);
    // As in etcd, a user may read itself and the roles it holds.
    assert.deepEqual((await call(auth, "UserGet", { name: "alice" }, alice)).roles, ["reader"]);
    assert.equal((await call(auth, "RoleGet", { role: "reader" }, alice)).perm.length, 1);
    assert.ok((await call(maintenance, "Defragment", {}, as("root"))).header.revision > 0);
  });

  test("every service passes the same checks: txns, leases, locks, elections, members and the snapshot stream", async () => {
    const alice = as("alice");
    const denied = [grpc.status.PERMISSION_DENIED, "etcdserver: permission denied"];
    const lease = clientOf("Lease", member.address);
    const lock = clientOf("Lock", member.address);
    const election = clientOf("Election", member.address);
    const cluster = clientOf("Cluster", member.address);
    try {
      const readOnly = {
        compare: [{ key: bytes("app/x"), target: "VERSION", result: "GREATER", version: 0 }],
        success: [{ request_range: { key: bytes("app/x") } }],
      };
      assert.equal((await call(kv, "Txn", readOnly, alice)).succeeded, true);
      assert.deepEqual(await refusal(call(kv, "Txn", { ...readOnly, failure: [{ request_put: { key: bytes("app/x"), value: bytes("3") } }] }, alice)), denied);
      // As in etcd, granting a lease needs no user at all; revoking one needs write on its keys.
      const granted = await call(lease, "LeaseGrant", { TTL: 60 });
      await call(kv, "Put", { key: bytes("app/leased"), value: bytes("v"), lease: granted.ID }, as("root"));
      assert.deepEqual(await refusal(call(lease, "LeaseRevoke", { ID: granted.ID }, alice)), denied);
      assert.deepEqual(await refusal(call(lock, "Lock", { name: bytes("app/lock"), lease: granted.ID }, alice)), denied);
      assert.deepEqual(await refusal(call(election, "Campaign", { name: bytes("app/chief"), lease: granted.ID, value: bytes("me") }, alice)), denied);
      assert.deepEqual(await refusal(call(cluster, "MemberAdd", { peerURLs: ["http://127.0.0.1:1"] }, alice)), denied);
      const snapshot = clientOf("Maintenance", member.address).Snapshot({}, alice) as grpc.ClientReadableStream<Message>;
      assert.deepEqual(await refusal(messagesOf(snapshot).atLeast(1)), denied);
      await call(lease, "LeaseRevoke", { ID: granted.ID }, as("root"));
    } finally {
      for (const client of [lease, lock, election, cluster]) client.close();
    }
  });

  test("each watch create is checked when it comes: refused ones are created and canceled as etcd 3.4 answers them", async () => {
    const stream = clientOf("Watch", member.address).Watch(as("alice")) as grpc.ClientDuplexStream<Message, Message>;
    const messages = messagesOf(stream);
    stream.write({ create_request: { key: bytes("app/"), range_end: bytes("app0") } });
    stream.write({ create_request: { key: bytes("other") } });
    await messages.atLeast(2);
    // Changing alice's password voids the token the stream carries: the next create is refused for it.
    await call(auth, "UserChangePassword", { name: "alice", password: "new" }, as("root"));
    stream.write({ create_request: { key: bytes("app/y") } });
    const [allowed, denied, voided] = await messages.atLeast(3);
    stream.cancel();
    assert.deepEqual([allowed!.watch_id, allowed!.created, allowed!.canceled], [0, true, false]);
    const refusedAs = (reason: string) => ({ watch_id: -1, created: true, canceled: true, cancel_reason: reason });
    const fields = (m: Message) => ({ watch_id: m.watch_id, created: m.created, canceled: m.canceled, cancel_reason: m.cancel_reason });
    assert.deepEqual(fields(denied!), refusedAs("rpc error: code = PermissionDenied desc = etcdserver: permission denied"));
    assert.deepEqual(fields(voided!), refusedAs("rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"));

    const anonymous = clientOf("Watch", member.address).Watch() as grpc.ClientDuplexStream<Message, Message>;
    anonymous.write({ create_request: { key: bytes("app/x") } });
    const [nobody] = await messagesOf(anonymous).atLeast(1);
    anonymous.cancel();
    assert.deepEqual(fields(nobody!), refusedAs("rpc error: code = InvalidArgument desc = etcdserver: user name is empty"));
  });

  test("revoking, deleting and disabling take effect at once", async () => {
    const root = as("root");
    await login("alice", "new");
    await call(auth, "RoleRevokePermission", { role: "reader", key: bytes("app/"), range_end: bytes("app0") }, root);
    assert.deepEqual(await refusal(call(kv, "Range", { key: bytes("app/x") }, as("alice"))), [grpc.status.PERMISSION_DENIED, "etcdserver: permission denied"]);
    assert.deepEqual(await refusal(call(auth, "RoleRevokePermission", { role: "reader", key: bytes("app/") }, root)), [
      grpc.status.FAILED_PRECONDITION,
      "etcdserver: permission is not granted to the role",
    ]);
    await call(auth, "UserRevokeRole", { name: "alice", role: "reader" }, root);
    assert.deepEqual((await call(auth, "UserGet", { name: "alice" }, root)).roles, []);
    await call(auth, "UserDelete", { name: "alice" }, root);
    assert.deepEqual(await refusal(call(kv, "Range", { key: bytes("app/x") }, as("alice"))), [grpc.status.UNAUTHENTICATED, "etcdserver: invalid auth token"]);
    await call(auth, "RoleDelete", { role: "reader" }, root);
    assert.deepEqual((await call(auth, "RoleList", {}, root)).roles, ["root"]);
    await call(auth, "AuthDisable", {}, root);
    assert.equal((await call(kv, "Range", { key: bytes("app/x") })).count, 1);
  });
});
