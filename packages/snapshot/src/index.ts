export {
  SnapshotCorruptError,
  checksumOf,
  fileBytes,
  pruneSnapshots,
  readSnapshotFile,
  receiveSnapshotFile,
  snapshotFileName,
  verifySnapshotFile,
  writeSnapshotFile,
  type SnapshotHeader,
  type SnapshotSummary,
} from "./snapshot-file.js";
