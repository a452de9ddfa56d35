/**
 * Snapshots and log compaction for one member: every `snapshotCount` applied
 * entries (at indexes staggered across the members, see snapshot-schedule.ts)
 * the state machine is exported to a snapshot file in the background; the
 * in-memory log and the WAL are then released below it, keeping a tail for
 * followers slightly behind. A follower that needs
 * compacted entries is streamed the file on its own connection, verifies it,
 * and installs it.
 *
 * Install order makes every crash recoverable: the received file is durable
 * first, then the WAL records the snapshot (replacing the log), then the
 * store imports it. A member that finds its store behind the WAL's snapshot
 * at start-up imports the file again.
 */
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { MvccStore } from "@raftkv/mvcc";
import type { MemoryStorage, Message, NodeId, Snapshot, SnapshotMeta } from "@raftkv/raft";
import {
  checksumOf,
  fileBytes,
  pruneSnapshots,
  readSnapshotFile,
  receiveSnapshotFile,
  snapshotFileName,
  writeSnapshotFile,
  type SnapshotHeader,
} from "@raftkv/snapshot";
import type { Wal } from "@raftkv/wal";
import type { Logger } from "pino";
import type { AlarmMember, AlarmRegistry } from "./alarms.js";
import type { Member, MemberRegistry } from "./members.js";
import { snapshotDue, snapshotPhase } from "./snapshot-schedule.js";
import { isStorageError, type StorageHealth } from "./storage-failure.js";

/** What a snapshot carries besides the store: the member list and the alarms at that index. */
export interface SnapshotAppState {
  readonly members: readonly Member[];
  /** Absent from snapshots taken before alarms existed. */
  readonly alarms?: readonly AlarmMember[];
}

/** What raft's Snapshot.data holds for us: a reference to the file (its checksum), not the state itself. */
interface SnapshotRef {
  readonly sha256: string;
}

export interface SnapshotterOptions {
  readonly dataDir: string;
  readonly store: MvccStore;
  readonly storage: MemoryStorage;
  readonly wal: Wal;
  readonly registry: MemberRegistry;
  readonly alarms: AlarmRegistry;
  readonly logger: Logger;
  /** Told when writing a snapshot fails for want of a working disk (a failure of any other kind is tried again). */
  readonly storageHealth: Pick<StorageHealth, "fail">;
  /** This member's id: its rank among the members staggers its snapshots from theirs. */
  readonly memberId: NodeId;
  /** Applied entries between snapshots (at this member's own indexes, see snapshot-schedule.ts). */
  readonly snapshotCount: number;
  /** Entries kept below a snapshot for followers slightly behind. */
  readonly retainedEntries: number;
}

/**
 * Runs a capture where the store, the member list and raft's membership stand
 * at one applied index, and resolves with what it returned (RaftHost.atApplyBoundary).
 */
export type ApplyBoundary = <T>(capture: (appliedIndex: number, conf: SnapshotMeta["conf"]) => T) => Promise<T>;

export interface SnapshotTransport {
  sendSnapshot(to: NodeId, message: Message, chunks: AsyncIterable<Uint8Array>): Promise<{ delivered: boolean }>;
}

/** Snapshot files kept: the newest, and the one before in case a follower is still being sent it. */
const FILES_KEPT = 2;

export class Snapshotter {
  /** The snapshot being taken, if one is. */
  private taking: Promise<void> | undefined;

  private constructor(
    private readonly options: SnapshotterOptions,
    private readonly dir: string,
  ) {}

  static async open(options: SnapshotterOptions): Promise<Snapshotter> {
    const dir = join(options.dataDir, "snap");
    await mkdir(dir, { recursive: true });
    return new Snapshotter(options, dir);
  }

  /**
   * At start-up: hands the WAL's latest snapshot to raft's storage and, if
   * the store is behind it (a crash during install, or an unsynced store),
   * imports the snapshot file into the store. A store that is not behind
   * needs nothing from the file, so the file is left unread (reading and
   * hashing all of it made every restart of a large store slower): it is
   * verified where it is read, by an import here or by the follower it is
   * sent to.
   */
  async recover(meta: SnapshotMeta | undefined): Promise<Snapshot | undefined> {
    if (!meta) return undefined;
    const path = join(this.dir, snapshotFileName(meta));
    if (this.options.store.appliedIndex < meta.index) {
      const { header, chunks } = await readSnapshotFile<SnapshotAppState>(path);
      this.options.logger.info({ index: meta.index }, "store is behind the last snapshot: importing it");
      await this.options.store.importSnapshot(chunks);
      await this.takeAppState(header.app);
    }
    return { meta, data: encodeRef({ sha256: await checksumOf(path) }) };
  }

  /** Called after each apply: starts a snapshot in the background when one is due. */
  maybeTake(appliedIndex: number, conf: SnapshotMeta["conf"]): void {
    const { storage, memberId, snapshotCount } = this.options;
    if (this.taking || !snapshotDue(storage.snapshot().meta.index, appliedIndex, snapshotCount, snapshotPhase(memberId, conf, snapshotCount))) return;
    this.startTaking(appliedIndex, conf).catch((error: unknown) => {
      if (isStorageError(error)) this.options.storageHealth.fail("snapshot", error);
      else this.options.logger.error({ err: error }, "snapshot failed; will try again");
    });
  }

  /**
   * A backup: the bytes of a snapshot file at least as new as the state at
   * the next apply boundary (taking one there unless a newer one exists), as
   * it would be streamed to a follower. Its header and checksum make it a
   * restorable file on its own.
   */
  async backup(atBoundary: ApplyBoundary): Promise<{ size: number; bytes: AsyncIterable<Uint8Array> }> {
    for (;;) {
      await this.taking;
      // The snapshot is wrapped: a promise returned as it is would be awaited with the boundary's.
      const outcome = await atBoundary((appliedIndex, conf) => {
        // One started at this boundary (maybeTake) or before it: wait for it, then look again.
        if (this.taking) return undefined;
        if (this.options.storage.snapshot().meta.index >= appliedIndex) return { taken: Promise.resolve() };
        return { taken: this.startTaking(appliedIndex, conf) };
      });
      if (outcome) {
        await outcome.taken;
        break;
      }
    }
    const path = join(this.dir, snapshotFileName(this.options.storage.snapshot().meta));
    return { size: (await stat(path)).size, bytes: fileBytes(path) };
  }

  /** Starts taking a snapshot; `taking` holds it (never rejecting) until it ends, the returned promise its outcome. */
  private startTaking(appliedIndex: number, conf: SnapshotMeta["conf"]): Promise<void> {
    const outcome = this.take(appliedIndex, conf).finally(() => {
      this.taking = undefined;
    });
    this.taking = outcome.catch(() => undefined);
    return outcome;
  }

  /**
   * Snapshots the state at `appliedIndex`. It must be called at an apply
   * boundary (after a Ready, or through RaftHost.atApplyBoundary): the member
   * list, the alarms and the store's export are captured synchronously here,
   * before anything else applies.
   */
  private async take(appliedIndex: number, conf: SnapshotMeta["conf"]): Promise<void> {
    const started = performance.now();
    const app: SnapshotAppState = { members: this.options.registry.list(), alarms: this.options.alarms.list() };
    const exported = await this.options.store.exportSnapshot();
    if (exported.appliedIndex !== appliedIndex)
      throw new Error(`snapshot at ${appliedIndex} taken off an apply boundary: the store is at ${exported.appliedIndex}`);
    // A snapshot from the leader may have overtaken ours meanwhile.
    if (this.supersededAt(appliedIndex)) {
      for await (const _ of exported.chunks) break;
      return;
    }
    const { storage, wal } = this.options;
    const meta: SnapshotMeta = { index: appliedIndex, term: storage.term(appliedIndex), conf };
    const header: SnapshotHeader<SnapshotAppState> = { raft: meta, app };
    const summary = await writeSnapshotFile(this.dir, header, exported.chunks);
    if (this.supersededAt(meta.index)) return; // the file is pruned with the older ones
    await wal.saveSnapshot(meta);
    storage.createSnapshot(meta.index, meta.conf, encodeRef({ sha256: summary.sha256 }));
    const compactTo = Math.max(0, meta.index - this.options.retainedEntries);
    storage.compact(compactTo);
    await wal.releaseTo(compactTo);
    await pruneSnapshots(this.dir, FILES_KEPT);
    this.options.logger.info(
      { index: meta.index, bytes: summary.bytes, ms: Math.round(performance.now() - started), compactedTo: compactTo },
      "snapshot taken",
    );
  }

  /**
   * Whether a snapshot from the leader at `index` or later was installed (or
   * is being recorded) while ours was taken: a lagging member can be sent one
   * mid-export, and the log then starts past ours.
   */
  private supersededAt(index: number): boolean {
    const superseded = this.options.wal.latestSnapshotIndex >= index;
    if (superseded) this.options.logger.info({ index }, "a newer snapshot arrived while this one was taken: it is dropped");
    return superseded;
  }

  private async takeAppState(app: SnapshotAppState): Promise<void> {
    await this.options.registry.replaceAll(app.members);
    await this.options.alarms.replaceAll(app.alarms ?? []);
  }

  /** Streams our snapshot file to a follower on its own connection. */
  async send(transport: SnapshotTransport, message: Message): Promise<boolean> {
    const meta = message.snapshot?.meta;
    if (!meta) return false;
    const path = join(this.dir, snapshotFileName(meta));
    const outcome = await transport.sendSnapshot(message.to, message, fileBytes(path));
    this.options.logger.info({ to: message.to, index: meta.index, delivered: outcome.delivered }, "snapshot sent");
    return outcome.delivered;
  }

  /** Receives a leader's snapshot file; resolves once it is durable and verified. */
  async receive(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const received = await receiveSnapshotFile<SnapshotAppState>(this.dir, chunks);
    this.options.logger.info({ index: received.raft.index, bytes: received.bytes }, "snapshot received");
  }

  /** Installs a snapshot raft has accepted (after the WAL recorded it): the store and the members. */
  async install(snapshot: Snapshot): Promise<void> {
    const path = join(this.dir, snapshotFileName(snapshot.meta));
    const { header, chunks } = await readSnapshotFile<SnapshotAppState>(path);
    await this.options.store.importSnapshot(chunks);
    await this.takeAppState(header.app);
    await pruneSnapshots(this.dir, FILES_KEPT);
    this.options.logger.info({ index: snapshot.meta.index }, "snapshot installed");
  }
}

function encodeRef(ref: SnapshotRef): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(ref));
}
