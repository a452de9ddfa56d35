export { MvccStore, type ApplyBatchOptions, type MvccStoreOptions, type SnapshotExport } from "./store.js";
export { levelDbAt, withoutFiles, type StoreDatabase } from "./database.js";
export { CompactedError, ETCD_ERRORS, MvccError, StoreUnavailableError, type MvccErrorCode } from "./errors.js";
export { prefixRangeEnd } from "./keys.js";
export { renewedSince } from "./leases.js";
export { AutoCompactor, type AutoCompactionPolicy } from "./auto-compactor.js";
export { DEFAULT_REQUEST_ID_WINDOW, MAX_REQUEST_ID_LENGTH } from "./request-ids.js";
export type * from "./types.js";
export { ByteReader, ByteWriter, readRequest, writeRequest } from "./request-codec.js";
