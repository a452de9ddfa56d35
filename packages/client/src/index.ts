export { Client, DEFAULT_ENDPOINTS, ENDPOINTS_VARIABLE, endpointsFromEnvironment, type ClientOptions } from "./client.js";
export { prefixEnd, type Bytes } from "./bytes.js";
export {
  CompactedError,
  EtcdError,
  GrpcCode,
  LeaseLostError,
  NoEndpointAvailableError,
  NoInstanceError,
  NotLeaderError,
  OutcomeUnknownError,
  grpcCodeName,
  type EndpointFailure,
  type GrpcCodeName,
} from "./errors.js";
export type { CallOptions, ClientTlsOptions, RetryPolicy } from "./transport.js";
export type { Credentials } from "./auth-session.js";
export type { AuthClient, Permission, PermissionType } from "./auth.js";
export type { KeyValue, ResponseHeader } from "./wire.js";
export type {
  KvClient,
  Compare,
  CompareResult,
  DeleteOptions,
  DeleteResult,
  GetOptions,
  GetResult,
  PutOptions,
  PutResult,
  RangeSelection,
  SortOrder,
  SortTarget,
  Txn,
  TxnOp,
  TxnOpResult,
  TxnResult,
} from "./kv.js";
export type { LeaseClient, LeaseGrant, LeaseKeepAlive, LeaseTimeToLive, KeepAliveOptions } from "./lease.js";
export type { WatchClient, WatchEvent, WatchOptions, Watcher } from "./watch.js";
export type { ClusterClient, MemberAddResult, MemberListResult } from "./cluster.js";
export type { Member, NativeDeleteReply, NativeKv, NativeKvList, NativePutReply, StatusResponse } from "./shared-types.js";
export type { NativeClient, NativeList, NativeListOptions, NativeWriteOptions } from "./native.js";
export type { AlarmMember, EndpointHealth, EndpointStatus, HashKvResult, MaintenanceClient, MemberCallOptions, MemberStatus } from "./maintenance.js";
export { Lock, HeldLock, DEFAULT_LOCK_TTL_SECONDS, type LockOptions } from "./recipes/lock.js";
export { Election, Leadership, DEFAULT_ELECTION_TTL_SECONDS, type ElectionOptions, type LeaderView } from "./recipes/election.js";
export {
  ServiceRegistry,
  Registration,
  ServiceView,
  DEFAULT_SERVICE_TTL_SECONDS,
  type InstanceDescription,
  type RegisterOptions,
  type ServiceChange,
  type ServiceInstance,
} from "./recipes/service-registry.js";
export { ServicePicker, weightOf, type Pick, type PickStrategy } from "./recipes/picker.js";
export { ConfigStore, type ConfigChange, type ConfigStoreOptions } from "./recipes/config-store.js";
