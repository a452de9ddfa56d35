/**
 * The services as one identity may use them: every call is checked against
 * that identity's permissions before it reaches the services (etcd's rules:
 * read for ranges, compares and watches, write for puts and deletes, read
 * too when the previous value is asked for, every op and compare of a txn,
 * write on every key of a lease being revoked, read on the keys a lease's
 * time-to-live lists; root for compaction, membership changes and
 * maintenance). Writes carry the auth revision they were checked at, and
 * apply refuses them if auth changed since (auth/store.ts).
 *
 * Every front end gets its services from here, so none can forget a check;
 * the recipes (locks, elections, the service registry) run on the guarded
 * services too, so they need write on the names they use, as in etcd.
 */
import type * as api from "../kv/api.js";
import type { AuthService, Identity, KeyAccess } from "./auth.js";

const EMPTY = new Uint8Array(0);

export function guardedApis(apis: api.MemberApis, auth: AuthService, identity: Identity): api.MemberApis {
  return {
    kv: guardedKv(apis.kv, auth, identity),
    cluster: guardedCluster(apis.cluster, auth, identity),
    maintenance: guardedMaintenance(apis.maintenance, auth, identity),
  };
}

function guardedKv(kv: api.KvApi, auth: AuthService, identity: Identity): api.KvApi {
  const checked = (accesses: readonly KeyAccess[], options?: api.WriteOptions): api.WriteOptions => ({
    ...options,
    authRevision: auth.authorize(identity, accesses),
  });
  return {
    async range(request) {
      auth.authorize(identity, [read(request.key, request.rangeEnd)]);
      return kv.range(request);
    },
    put: async (request, options) => kv.put(request, checked(putAccesses(request), options)),
    deleteRange: async (request, options) => kv.deleteRange(request, checked(deleteAccesses(request), options)),
    txn: async (request, options) => kv.txn(request, checked(txnAccesses(request), options)),
    async compact(revision, options) {
      return kv.compact(revision, { ...options, authRevision: auth.authorizeRoot(identity) });
    },
    // As in etcd, granting a lease needs no permission, nor even a user.
    leaseGrant: async (ttl, id, options) => kv.leaseGrant(ttl, id, options),
    async leaseRevoke(id, options) {
      const { keys } = await kv.leaseTimeToLive(id, true);
      return kv.leaseRevoke(
        id,
        checked(
          keys.map((key) => write(key, EMPTY)),
          options,
        ),
      );
    },
    leaseKeepAlive: async (id) => kv.leaseKeepAlive(id),
    async leaseTimeToLive(id, keys) {
      const response = await kv.leaseTimeToLive(id, keys);
      auth.authorize(
        identity,
        response.keys.map((key) => read(key, EMPTY)),
      );
      return response;
    },
    leaseLeases: async () => kv.leaseLeases(),
    async watch(request, deliver) {
      auth.authorize(identity, [read(request.key, request.rangeEnd)]);
      return kv.watch(request, deliver);
    },
    header: () => kv.header(),
    watchProgressHeader: () => kv.watchProgressHeader(),
  };
}

function guardedCluster(cluster: api.ClusterApi, auth: AuthService, identity: Identity): api.ClusterApi {
  const root = (): void => void auth.authorizeRoot(identity);
  return {
    // As in etcd, anyone may list the members.
    memberList: async () => cluster.memberList(),
    memberAdd: async (peerUrls, isLearner) => {
      root();
      return cluster.memberAdd(peerUrls, isLearner);
    },
    memberRemove: async (id) => {
      root();
      return cluster.memberRemove(id);
    },
    memberUpdate: async (id, peerUrls) => {
      root();
      return cluster.memberUpdate(id, peerUrls);
    },
    memberPromote: async (id) => {
      root();
      return cluster.memberPromote(id);
    },
    leaderClientUrl: async () => cluster.leaderClientUrl(),
  };
}

/** Root for all of maintenance, as etcd 3.4.42 and later (3.4.23 let any user ask status, hash and alarms). */
function guardedMaintenance(maintenance: api.MaintenanceApi, auth: AuthService, identity: Identity): api.MaintenanceApi {
  const root = (): void => void auth.authorizeRoot(identity);
  return {
    status: async () => {
      root();
      return maintenance.status();
    },
    hashKv: async (revision) => {
      root();
      return maintenance.hashKv(revision);
    },
    snapshot: async () => {
      root();
      return maintenance.snapshot();
    },
    moveLeader: async (target) => {
      root();
      return maintenance.moveLeader(target);
    },
    alarm: async (request) => {
      root();
      return maintenance.alarm(request);
    },
    defragment: async () => {
      root();
      return maintenance.defragment();
    },
  };
}

function read(key: Uint8Array, rangeEnd: Uint8Array): KeyAccess {
  return { access: "read", key, rangeEnd };
}

function write(key: Uint8Array, rangeEnd: Uint8Array): KeyAccess {
  return { access: "write", key, rangeEnd };
}

function putAccesses(request: api.PutRequest): KeyAccess[] {
  return request.prevKv ? [write(request.key, EMPTY), read(request.key, EMPTY)] : [write(request.key, EMPTY)];
}

function deleteAccesses(request: api.DeleteRangeRequest): KeyAccess[] {
  const range = write(request.key, request.rangeEnd);
  return request.prevKv ? [range, read(request.key, request.rangeEnd)] : [range];
}

function txnAccesses(request: api.TxnRequest): KeyAccess[] {
  const compares = request.compare.map((compare) => read(compare.key, compare.rangeEnd));
  return [...compares, ...[...request.success, ...request.failure].flatMap(opAccesses)];
}

function opAccesses(op: api.RequestOp): KeyAccess[] {
  if ("range" in op) return [read(op.range.key, op.range.rangeEnd)];
  if ("put" in op) return putAccesses(op.put);
  if ("deleteRange" in op) return deleteAccesses(op.deleteRange);
  return txnAccesses(op.txn);
}
