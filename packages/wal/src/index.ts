export { Wal, DEFAULT_SEGMENT_BYTES, type WalBatch, type WalOptions, type RecoveredState } from "./wal.js";
export type { TornTail } from "./recovery.js";
export { WalCorruptionError, WalFailedError, WalClosedError } from "./errors.js";
export { nodeFileSystem, type WalFile, type WalFileSystem } from "./fs.js";
export { SimDisk, type SimDiskOptions } from "./sim-disk.js";
