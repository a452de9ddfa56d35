/**
 * Watches that survive the member serving them: the client remembers the
 * next revision it needs, and when the stream breaks (member killed, reset,
 * silent for too long) it opens a new one on another member from exactly
 * that revision. The server replays history from there, so no event is
 * missed; events below it are dropped, so none is delivered twice. If
 * compaction removed that history, the watch ends with a CompactedError:
 * re-list and watch again. A quiet stream gets a progress message every
 * 10 s; each one is the moment to check that the member still has a leader
 * (one cut off from the others would stay quiet forever).
 */
import type { Bytes } from "./bytes.js";
import { CompactedError, EtcdError, NoEndpointAvailableError } from "./errors.js";
import { streamResults } from "./json-lines.js";
import { encodeRange, type KvClient, type RangeSelection } from "./kv.js";
import { pauseUnlessAborted } from "./pause.js";
import type { Transport } from "./transport.js";
import { decodeKeyValue, type Int64, type KeyValue, type WireHeader, type WireKeyValue } from "./wire.js";

export interface WatchOptions extends RangeSelection {
  /** The first revision to deliver; by default, the first change after the watch starts. */
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
  /** A stream silent this long is taken for dead and resumed elsewhere (the server sends progress every 10 s). */
  readonly idleTimeoutMs?: number;
  /** Ends the watch, as close() does. */
  readonly signal?: AbortSignal;
}

export interface WatchEvent {
  readonly type: "PUT" | "DELETE";
  readonly kv: KeyValue;
  /** The key-value before this change, when the watch asked for it. */
  readonly prevKv: KeyValue | undefined;
}

interface WireWatchResult {
  readonly header?: WireHeader;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compact_revision?: Int64;
  readonly events?: readonly { readonly type?: "PUT" | "DELETE"; readonly kv?: WireKeyValue; readonly prev_kv?: WireKeyValue }[];
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
const RESUME_PAUSE_MS = 100;
const HEALTH_CHECK_TIMEOUT_MS = 2_000;

export class WatchClient {
  constructor(
    private readonly transport: Transport,
    private readonly kv: KvClient,
  ) {}

  /** Watches `key` (or a prefix or range of keys): iterate the result with `for await`. */
  watch(key: Bytes, options: WatchOptions = {}): Watcher {
    return new Watcher(this.transport, this.kv, key, options);
  }
}

/**
 * One watch, as an async iterable of events in revision order. Iterate it
 * once; leaving the loop or calling close() ends it.
 */
export class Watcher implements AsyncIterable<WatchEvent> {
  /** The next revision this watch will deliver; every earlier change in range has been delivered. */
  nextRevision: number;
  /** How many times the watch moved to a new stream after one broke. */
  resumes = 0;
  /** The member serving the current stream, once one is open. */
  endpoint: string | undefined;
  private readonly closer = new AbortController();
  private readonly signal: AbortSignal;

  constructor(
    private readonly transport: Transport,
    private readonly kv: KvClient,
    private readonly key: Bytes,
    private readonly options: WatchOptions,
  ) {
    this.nextRevision = options.startRevision ?? 0;
    this.signal = options.signal ? AbortSignal.any([options.signal, this.closer.signal]) : this.closer.signal;
  }

  close(): void {
    this.closer.abort();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return this.events();
  }

  private async *events(): AsyncGenerator<WatchEvent> {
    try {
      if (this.nextRevision === 0) this.nextRevision = await this.revisionAfterNow();
      let opened = false;
      while (!this.signal.aborted) {
        let endpoint: string | undefined;
        try {
          const stream = await this.open();
          opened = true;
          endpoint = this.endpoint = stream.endpoint;
          yield* this.read(stream.body, stream.endpoint);
          throw new Error("the watch stream ended");
        } catch (error) {
          if (this.signal.aborted) return;
          if (!this.mayResume(error, opened)) throw error;
          // The next stream should come from another member.
          if (endpoint !== undefined) this.transport.reportFailure(endpoint);
        }
        if (this.signal.aborted) return;
        this.resumes++;
        await pauseUnlessAborted(RESUME_PAUSE_MS, this.signal);
      }
    } finally {
      this.close();
    }
  }

  /** Pins "from now" to a revision, so that a resume before the first event still starts at the right place. */
  private async revisionAfterNow(): Promise<number> {
    const now = await this.kv.get(this.key, { ...this.options, countOnly: true, signal: this.signal });
    return now.header.revision + 1;
  }

  private async open(): Promise<{ endpoint: string; body: AsyncIterable<Buffer> }> {
    const { prevKv, noPut, noDelete } = this.options;
    const filters = [...(noPut ? ["NOPUT"] : []), ...(noDelete ? ["NODELETE"] : [])];
    const body = {
      create_request: { ...encodeRange(this.key, this.options), start_revision: this.nextRevision, prev_kv: prevKv, filters, progress_notify: true },
    };
    const call = { method: "POST", path: "/v3/watch", body: JSON.stringify(body), retry: "read" } as const;
    return this.transport.stream(call, this.signal, this.options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  }

  private async *read(body: AsyncIterable<Buffer>, endpoint: string): AsyncGenerator<WatchEvent> {
    for await (const result of streamResults<WireWatchResult>(body, endpoint)) {
      if (result.canceled && result.compact_revision !== undefined) throw new CompactedError(Number(result.compact_revision), this.nextRevision);
      const events = (result.events ?? []).map(decodeEvent);
      // A progress message: the stream is quiet. A member cut off from the cluster stays quiet too, so check it still has a leader.
      if (events.length === 0 && !result.created) await this.checkHealth(endpoint);
      for (const event of events) {
        // A resumed stream starts at nextRevision; anything older was delivered already.
        if (event.kv.modRevision >= this.nextRevision) yield event;
      }
      // Only events move the resume point. A progress message's revision would let a resume skip
      // quiet history, but the server may report a revision whose events it has not yet sent.
      const lastEvent = events[events.length - 1];
      if (lastEvent) this.nextRevision = Math.max(this.nextRevision, lastEvent.kv.modRevision + 1);
    }
  }

  /** Throws (so that the watch resumes elsewhere) if `endpoint` says it has no leader or does not answer. */
  private async checkHealth(endpoint: string): Promise<void> {
    await this.transport.call({ method: "GET", path: "/health", retry: "read", endpoint }, { signal: this.signal, timeoutMs: HEALTH_CHECK_TIMEOUT_MS });
  }

  /**
   * A broken stream, a member that cannot serve, or no member at all once
   * the watch has run: resume. Refusals (a compacted start, a bad request)
   * and no member at the very start: give up, with that error.
   */
  private mayResume(error: unknown, opened: boolean): boolean {
    if (error instanceof CompactedError) return false;
    if (error instanceof NoEndpointAvailableError) return opened;
    if (error instanceof EtcdError) return error.httpStatus >= 500;
    return true;
  }
}

function decodeEvent(event: NonNullable<WireWatchResult["events"]>[number]): WatchEvent {
  return { type: event.type ?? "PUT", kv: decodeKeyValue(event.kv ?? {}), prevKv: event.prev_kv && decodeKeyValue(event.prev_kv) };
}
