/**
 * What a Watch stream has to send, sent in batches. Responses queue until
 * the end of the event loop's turn (so the answer to the put whose events
 * they carry, settled in the same turn, leaves before they are encoded,
 * and the responses of one fan-out leave together), and while the
 * stream's last batch is still being written. A
 * watch's events that arrive while its last events response still waits
 * join that response, as etcd joins the events of a watcher that fell
 * behind: when puts come faster than a stream's batches go out, a watcher
 * gets one response with several revisions' events, and the stream pays
 * for one response where it would have paid for many.
 */
import type { Event, ResponseHeader } from "../kv/api.js";
import { MAX_REQUEST_BYTES } from "../recipes/kv.js";
import type { BatchWriter } from "./send-together.js";
import type { WatchMessage } from "./watch-encoding.js";

/**
 * Joined events stop growing a response at about this many bytes, the
 * request limit, so that joining never makes a response larger than one
 * revision's events may already be (clients' message limits are larger).
 */
const JOIN_LIMIT_BYTES = MAX_REQUEST_BYTES;
/** Roughly what an event adds to a response besides its keys and values: tags, lengths, revisions, version, lease. */
const EVENT_OVERHEAD_BYTES = 48;

/** A watch's events response while it waits: later events join it. One object, as a fan-out makes one per watch. */
class JoinedEvents implements WatchMessage {
  /** The events once a second lot joined the first (the deliverer's array is never changed). */
  private joined: Event[] | undefined;

  constructor(
    public header: ResponseHeader,
    readonly watch_id: number,
    private readonly delivered: readonly Event[],
    /** About how many bytes the events hold. */
    public bytes: number,
    /** Whether the watch asked for a revision too large for one response to come in parts (not the response's own `fragment`). */
    readonly inParts: boolean,
  ) {}

  get events(): readonly Event[] {
    return this.joined ?? this.delivered;
  }

  join(header: ResponseHeader, events: readonly Event[], bytes: number): void {
    this.header = header;
    this.joined ??= [...this.delivered];
    for (const event of events) this.joined.push(event);
    this.bytes += bytes;
  }
}

export class WatchOutbox {
  private queue: WatchMessage[] = [];
  /** Each watch's events response in the queue that may take more events. */
  private readonly joinable = new Map<number, JoinedEvents>();
  /** Whether some response in the queue may go out in parts. */
  private fragments = false;
  private writing = false;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly write: BatchWriter<WatchMessage>,
    /** A response of a watch that asked for fragments, in the parts it goes out in. */
    private readonly fragmentsOf: (message: WatchMessage) => WatchMessage[],
  ) {}

  /** A response of its own; the watch's events response still waiting takes no more events after it. */
  add(message: WatchMessage): void {
    if (message.watch_id !== undefined) this.joinable.delete(message.watch_id);
    this.enqueue(message);
  }

  /** A watch's events: joined to its events response still waiting, if there is room, else a response of their own. */
  addEvents(watchId: number, header: ResponseHeader, events: readonly Event[], fragment: boolean): void {
    const bytes = bytesOf(events);
    const waiting = this.joinable.get(watchId);
    if (waiting && waiting.bytes + bytes <= JOIN_LIMIT_BYTES) return waiting.join(header, events, bytes);
    const response = new JoinedEvents(header, watchId, events, bytes, fragment);
    this.joinable.set(watchId, response);
    this.fragments ||= fragment;
    this.enqueue(response);
  }

  /** Sends what is queued now, whatever is still being written (the stream keeps the order), and takes nothing more. */
  end(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  /** Drops what is queued and takes nothing more: the stream is gone. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.joinable.clear();
  }

  private enqueue(message: WatchMessage): void {
    if (this.closed) return;
    this.queue.push(message);
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.writing) this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.queue.length === 0) return;
    const batch = this.fragments ? this.queue.flatMap((message) => this.partsOf(message)) : this.queue;
    this.queue = [];
    this.joinable.clear();
    this.fragments = false;
    this.writing = true;
    this.write(batch, () => {
      this.writing = false;
      this.flush();
    });
  }

  private partsOf(message: WatchMessage): WatchMessage[] {
    return message instanceof JoinedEvents && message.inParts ? this.fragmentsOf(message) : [message];
  }
}

function bytesOf(events: readonly Event[]): number {
  let bytes = 0;
  for (const { kv, prevKv } of events) {
    bytes += EVENT_OVERHEAD_BYTES + kv.key.length + kv.value.length;
    if (prevKv) bytes += EVENT_OVERHEAD_BYTES + prevKv.key.length + prevKv.value.length;
  }
  return bytes;
}
