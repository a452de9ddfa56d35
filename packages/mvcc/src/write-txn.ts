import type { KeyRevision } from "./key-index.js";
import { fromKeyString, keyRange, toKeyString, type KeyString } from "./keys.js";
import { EMPTY } from "./layout.js";
import { keyValue, readRange } from "./read.js";
import type { MvccState } from "./state.js";
import type { DeleteRangeRequest, DeleteRangeResponse, KeyValue, PutRequest, PutResponse, RangeRequest, RangeResponse, WatchEvent } from "./types.js";

/**
 * The writes of one request, which all share one main revision: the n-th
 * write gets sub revision n, and the store's revision moves only if something
 * was written (a delete that matched nothing, or a read, leaves it). Reads
 * inside see the writes made so far.
 *
 * Callers check a request completely before running it: nothing here fails
 * on a request, so a request is applied whole or not at all.
 */
export class WriteTxn {
  readonly events: WatchEvent[] = [];
  private readonly main: number;
  private writes = 0;

  /** `prevKvInEvents`: whether events carry the previous key-value; without it, a put reads no old value it does not need. */
  constructor(
    private readonly state: MvccState,
    private readonly prevKvInEvents: boolean,
  ) {
    this.main = state.revision + 1;
  }

  /** The revision reads inside the txn see, and etcd reports for them. */
  get readRevision(): number {
    return this.writes > 0 ? this.main : this.state.revision;
  }

  range(request: RangeRequest): RangeResponse {
    return readRange(this.state, request, this.readRevision);
  }

  put(request: PutRequest): PutResponse {
    const key = toKeyString(request.key);
    const previous = this.state.index.visibleAt(key, this.readRevision);
    const needsPrevKv = this.prevKvInEvents || request.prevKv === true || request.ignoreValue === true;
    const prevKv = previous === undefined || !needsPrevKv ? undefined : keyValue({ key, revision: previous }, this.state.value(previous));
    // ignoreValue and ignoreLease were checked to have a previous version.
    const value = request.ignoreValue === true ? (prevKv?.value ?? EMPTY) : (request.value ?? EMPTY);
    const lease = request.ignoreLease === true ? (previous?.lease ?? 0) : (request.lease ?? 0);
    const revision: KeyRevision = {
      main: this.main,
      sub: this.writes++,
      createRevision: previous?.createRevision ?? this.main,
      version: (previous?.version ?? 0) + 1,
      lease,
      tombstone: false,
    };
    this.state.writeRevision(request.key, key, revision, value);
    this.state.leases.move(key, previous?.lease ?? 0, lease);
    const kv = keyValue({ key, revision }, value);
    this.events.push(this.event("PUT", kv, prevKv));
    return request.prevKv === true && prevKv !== undefined ? { op: "put", revision: this.main, prevKv } : { op: "put", revision: this.main };
  }

  deleteRange(request: DeleteRangeRequest): DeleteRangeResponse {
    const range = keyRange(request.key, request.rangeEnd);
    const victims = [...this.state.index.visibleInRange(range, this.readRevision)];
    const prevKvs = victims.map((victim) => this.deleteLive(victim.key, victim.revision, request.prevKv === true));
    return {
      op: "deleteRange",
      revision: this.readRevision,
      deleted: victims.length,
      prevKvs: request.prevKv === true ? prevKvs.filter((prevKv) => prevKv !== undefined) : [],
    };
  }

  /** Deletes a key known to be live, as a lease revocation does. */
  deleteKey(key: KeyString): void {
    const live = this.state.index.visibleAt(key, this.readRevision);
    if (live !== undefined) this.deleteLive(key, live, false);
  }

  /** Ends the txn; returns the store's revision after it. */
  commit(): number {
    if (this.writes > 0) this.state.revision = this.main;
    return this.state.revision;
  }

  /** Returns the deleted key-value if it was read: when `wanted`, or for the events. */
  private deleteLive(key: KeyString, live: KeyRevision, wanted: boolean): KeyValue | undefined {
    const prevKv = wanted || this.prevKvInEvents ? keyValue({ key, revision: live }, this.state.value(live)) : undefined;
    const tombstone: KeyRevision = {
      main: this.main,
      sub: this.writes++,
      createRevision: 0,
      version: 0,
      lease: 0,
      tombstone: true,
    };
    this.state.writeRevision(fromKeyString(key), key, tombstone, EMPTY);
    this.state.leases.move(key, live.lease, 0);
    this.events.push(this.event("DELETE", keyValue({ key, revision: tombstone }, EMPTY), prevKv));
    return prevKv;
  }

  private event(type: WatchEvent["type"], kv: KeyValue, prevKv: KeyValue | undefined): WatchEvent {
    return prevKv === undefined || !this.prevKvInEvents ? { type, kv } : { type, kv, prevKv };
  }
}
