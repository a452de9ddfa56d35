/**
 * The json output's shapes: etcdctl's field names (snake_case as in etcd's
 * protobuf messages, `ID`/`peerURLs` for members), keys and values in
 * base64 as etcdctl prints them, numbers as numbers. Scripts written against
 * `etcdctl -w json` read these unchanged.
 */
import type { KeyValue, Member, ResponseHeader } from "@raftkv/client";

export function headerJson(header: ResponseHeader): object {
  return { cluster_id: header.clusterId, member_id: header.memberId, revision: header.revision, raft_term: header.raftTerm };
}

export function keyValueJson(kv: KeyValue): object {
  return {
    key: kv.key.toString("base64"),
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    value: kv.value.toString("base64"),
    lease: kv.lease,
  };
}

export function memberJson(member: Member): object {
  return { ID: member.id, name: member.name, peerURLs: member.peerUrls, clientURLs: member.clientUrls, isLearner: member.isLearner };
}
