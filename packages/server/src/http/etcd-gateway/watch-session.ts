/**
 * One watch stream carrying many watches, as etcd's Watch stream does over
 * its gateway's WebSocket: create (with the client's id, or the next free
 * one), cancel, progress requests. Messages are the gateway's proto3 JSON.
 */
import { RaftkvError } from "../../errors.js";
import type { KvApi, ResponseHeader, WatchUpdate } from "../../kv/api.js";
import { watchUpdates } from "../../recipes/watch.js";
import type { JsonObject, WatchCreate, WatchStreamRequest } from "./decode.js";
import { encodeHeader, encodeWatchCreated, encodeWatchRefused, encodeWatchUpdate } from "./encode.js";
import { encodeInt } from "./proto3-json.js";

/** The id etcd gives what belongs to no watch: progress responses and refused creates. */
const NO_WATCH_ID = -1;
const DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream";

interface OpenWatch {
  readonly stop: AbortController;
  /** False once canceled: nothing of the watch is sent after its `canceled` message. */
  live: boolean;
}

export class WatchSession {
  private readonly watches = new Map<number, OpenWatch>();
  /** Where etcd's search for a free id resumes: ids the stream gave out are not given again. */
  private nextId = 0;

  /** `kv`: the services as the client may use them (rejects when its token is bad: each create is refused with that). */
  /** `fail`: ends the stream with an error. */
  constructor(
    private readonly kv: () => Promise<KvApi>,
    private readonly header: () => ResponseHeader,
    /** A progress response's header: every event up to its revision is handed to the watches first. */
    private readonly progressHeader: () => ResponseHeader,
    private readonly send: (message: JsonObject) => void,
    private readonly fail: (error: unknown) => void,
  ) {}

  /** Acts on one request; the caller awaits each before the next, so that they take effect in order. */
  async handle(request: WatchStreamRequest): Promise<void> {
    if ("create" in request) await this.create(request.create);
    else if ("cancel" in request) this.cancel(request.cancel);
    else if ("progress" in request) await this.progress();
  }

  /** Stops every watch: the client left. */
  close(): void {
    for (const watch of this.watches.values()) this.end(watch);
    this.watches.clear();
  }

  private async create({ request, watchId }: WatchCreate): Promise<void> {
    if (watchId !== 0 && this.watches.has(watchId)) return this.refuse(DUPLICATE_ID);
    const id = watchId === 0 ? this.freeId() : watchId;
    const watch: OpenWatch = { stop: new AbortController(), live: true };
    let updates: AsyncGenerator<WatchUpdate>;
    try {
      updates = await watchUpdates(await this.kv(), request, watch.stop.signal);
    } catch (error) {
      if (!(error instanceof RaftkvError)) throw error;
      return this.send(encodeWatchRefused(this.header(), error));
    }
    this.watches.set(id, watch);
    this.send(encodeWatchCreated(this.header(), id));
    // A failure of the watch's source ends the stream as a stream's failure ends it, never the member.
    void this.forward(id, watch, updates).catch((error: unknown) => this.fail(error));
  }

  private async forward(id: number, watch: OpenWatch, updates: AsyncIterable<WatchUpdate>): Promise<void> {
    for await (const update of updates) {
      if (!watch.live) break;
      this.send(encodeWatchUpdate(update, id));
    }
    // A compacted start ends the watch: its id is free again.
    if (this.watches.get(id) === watch) this.watches.delete(id);
  }

  /**
   * etcd's progress response, sent after the events up to its revision:
   * those reach the socket through each watch's iterator a few promise
   * turns after the hub hands them out, all before the next turn.
   */
  private async progress(): Promise<void> {
    const header = this.progressHeader();
    await new Promise((resolve) => setImmediate(resolve));
    this.send({ result: { header: encodeHeader(header), watch_id: encodeInt(NO_WATCH_ID) } });
  }

  /** Canceling an id no watch has is answered with nothing, as etcd answers it. */
  private cancel(id: number): void {
    const watch = this.watches.get(id);
    if (!watch) return;
    this.watches.delete(id);
    this.end(watch);
    this.send({ result: { header: encodeHeader(this.header()), watch_id: encodeInt(id), canceled: true } });
  }

  private end(watch: OpenWatch): void {
    watch.live = false;
    watch.stop.abort();
  }

  private freeId(): number {
    while (this.watches.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }

  private refuse(reason: string): void {
    this.send({ result: { header: encodeHeader(this.header()), watch_id: encodeInt(NO_WATCH_ID), created: true, canceled: true, cancel_reason: reason } });
  }
}
