/**
 * A prefix of the store mirrored in memory and kept live: listed once, then
 * followed by a watch from the listing's revision on. If compaction ends the
 * watch, the prefix is listed again and the differences are reported as
 * changes, so followers never see a gap. The base of ServiceRegistry's views
 * and of ConfigStore.
 */
import type { Client } from "../client.js";
import { CompactedError } from "../errors.js";
import { pauseUnlessAborted } from "../pause.js";
import type { WatchEvent } from "../watch.js";
import type { KeyValue } from "../wire.js";

/** One key changed: `kv` is its new state, undefined once deleted. */
export interface MirrorChange {
  readonly key: string;
  readonly kv: KeyValue | undefined;
  readonly previous: KeyValue | undefined;
  readonly revision: number;
}

export interface MirrorHandlers {
  readonly change: (change: MirrorChange) => void;
  /** The watch failed and the mirror keeps trying; it is stale until it recovers. */
  readonly error: (error: unknown) => void;
}

const RETRY_AFTER_ERROR_MS = 500;

export class PrefixMirror {
  /** Keys (UTF-8) to their key-values. */
  readonly entries = new Map<string, KeyValue>();
  /** The revision the mirror reflects: every change up to it is applied. */
  revision = 0;
  /** The first listing fills the mirror silently: changes are what happens after it. */
  private loaded = false;
  private readonly stopped = new AbortController();
  private readonly waiters = new Set<{ revision: number; resolve: () => void }>();

  private constructor(
    private readonly client: Client,
    readonly prefix: string,
    private readonly handlers: MirrorHandlers,
  ) {}

  /** Lists the prefix, then follows it until closed. */
  static async start(client: Client, prefix: string, handlers: MirrorHandlers): Promise<PrefixMirror> {
    const mirror = new PrefixMirror(client, prefix, handlers);
    await mirror.relist();
    mirror.loaded = true;
    void mirror.follow();
    return mirror;
  }

  /** Resolves once the mirror reflects `revision`: the header revision of a write under the prefix, say. */
  async reached(revision: number): Promise<void> {
    if (this.revision >= revision) return;
    await new Promise<void>((resolve) => this.waiters.add({ revision, resolve }));
  }

  close(): void {
    this.stopped.abort();
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters.clear();
  }

  private async follow(): Promise<void> {
    const signal = this.stopped.signal;
    while (!signal.aborted) {
      try {
        for await (const event of this.client.watch.watch(this.prefix, { prefix: true, startRevision: this.revision + 1, signal })) this.apply(event);
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof CompactedError)) {
          this.handlers.error(error);
          await pauseUnlessAborted(RETRY_AFTER_ERROR_MS, signal);
        }
        await this.relist().catch((relistError: unknown) => this.handlers.error(relistError));
      }
    }
  }

  private apply(event: WatchEvent): void {
    const key = event.kv.key.toString("utf8");
    const kv = event.type === "PUT" ? event.kv : undefined;
    this.record(key, kv, event.kv.modRevision);
    this.advance(event.kv.modRevision);
  }

  /** Reads the whole prefix and reports what differs from the mirror as changes. */
  private async relist(): Promise<void> {
    const listing = await this.client.kv.get(this.prefix, { prefix: true, signal: this.stopped.signal });
    const revision = listing.header.revision;
    const listed = new Map(listing.kvs.map((kv) => [kv.key.toString("utf8"), kv]));
    for (const key of this.entries.keys()) if (!listed.has(key)) this.record(key, undefined, revision);
    for (const [key, kv] of listed) if (this.entries.get(key)?.modRevision !== kv.modRevision) this.record(key, kv, kv.modRevision);
    this.advance(revision);
  }

  private record(key: string, kv: KeyValue | undefined, revision: number): void {
    const previous = this.entries.get(key);
    if (kv) this.entries.set(key, kv);
    else this.entries.delete(key);
    if (this.loaded) this.handlers.change({ key, kv, previous, revision });
  }

  private advance(revision: number): void {
    this.revision = Math.max(this.revision, revision);
    for (const waiter of this.waiters) {
      if (waiter.revision > this.revision) continue;
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }
}
