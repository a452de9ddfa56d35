/**
 * Backups: what a snapshot file holds, and turning one into the data
 * directory of a member of a NEW cluster (etcd's `snapshot restore`). Every
 * member of the new cluster restores the same file with the same
 * --initial-cluster; the old cluster's membership is replaced by the new one.
 */
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MvccStore } from "@raftkv/mvcc";
import type { SnapshotMeta } from "@raftkv/raft";
import { readSnapshotFile, verifySnapshotFile, writeSnapshotFile, checksumOf } from "@raftkv/snapshot";
import { Wal } from "@raftkv/wal";
import { memberIdOf } from "./config.js";
import { invalidArgument } from "./errors.js";
import { MemberRegistry, type Member } from "./members.js";
import type { SnapshotAppState } from "./snapshots.js";

export interface SnapshotStatus {
  readonly sha256: string;
  readonly index: number;
  readonly term: number;
  readonly revision: number;
  readonly keyCount: number;
  readonly bytes: number;
  readonly members: readonly string[];
}

/** Verifies a snapshot file and describes it, loading it into a scratch store to count its keys. */
export async function snapshotStatus(file: string, bytes: number): Promise<SnapshotStatus> {
  const { header, chunks } = await readSnapshotFile<SnapshotAppState>(file);
  const scratch = await mkdtemp(join(tmpdir(), "raftkv-snapshot-status-"));
  try {
    const store = await MvccStore.open(scratch);
    try {
      await store.importSnapshot(chunks);
      const status = await store.status();
      return {
        sha256: await checksumOf(file),
        index: header.raft.index,
        term: header.raft.term,
        revision: status.revision,
        keyCount: status.keyCount,
        bytes,
        members: header.app.members.map((member) => member.name || String(member.id)),
      };
    } finally {
      await store.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export interface RestoreOptions {
  readonly file: string;
  readonly dataDir: string;
  /** name=peerUrl pairs of the new cluster. */
  readonly initialCluster: ReadonlyMap<string, string>;
  readonly initialClusterToken: string;
}

/** Creates a member's data directory for a new cluster serving exactly the snapshot's data. */
export async function restoreSnapshot(options: RestoreOptions): Promise<{ index: number; members: readonly Member[] }> {
  if ((await readdir(options.dataDir).catch(() => [])).length > 0) {
    throw invalidArgument(`data dir ${options.dataDir} is not empty: restore creates a new member`);
  }
  const original = await verifySnapshotFile<SnapshotAppState>(options.file);
  const members = [...options.initialCluster].map(([name, url]) => ({
    id: memberIdOf(url, options.initialClusterToken),
    name,
    peerUrls: [url],
    clientUrls: [],
    isLearner: false,
  }));
  const meta: SnapshotMeta = {
    index: original.raft.index,
    term: original.raft.term,
    conf: { voters: members.map((member) => member.id).sort((a, b) => a - b), learners: [] },
  };
  await mkdir(join(options.dataDir, "snap"), { recursive: true });
  await importStore(options.file, join(options.dataDir, "kv"));
  const { chunks } = await readSnapshotFile<SnapshotAppState>(options.file);
  await writeSnapshotFile(join(options.dataDir, "snap"), { raft: meta, app: { members } }, chunks);
  const registry = await MemberRegistry.load(options.dataDir);
  await registry.replaceAll(members);
  const wal = await Wal.open(join(options.dataDir, "wal"));
  try {
    await wal.save({ snapshot: meta, hardState: { term: meta.term, vote: 0, commit: meta.index } });
  } finally {
    await wal.close();
  }
  return { index: meta.index, members };
}

async function importStore(file: string, location: string): Promise<void> {
  const { chunks } = await readSnapshotFile(file);
  const store = await MvccStore.open(location);
  try {
    await store.importSnapshot(chunks);
  } finally {
    await store.close();
  }
}
