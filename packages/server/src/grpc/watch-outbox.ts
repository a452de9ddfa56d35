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
 * for one response where it would have paid for many. The watches of a
 * stream handed the same events one after the other (a put to a key many
 * of them watch) wait as one response with their ids, encoded once and
 * sent as a message per id.
 */
import type { Event, ResponseHeader } from "../kv/api.js";
import { MAX_REQUEST_BYTES } from "../recipes/kv.js";
import type { BatchWriter } from "./send-together.js";
import { messagesOf, type Outgoing, type SharedEvents, type WatchMessage } from "./watch-encoding.js";

/**
 * Joined events stop growing a response at about this many bytes, the
 * request limit, so that joining never makes a response larger than one
 * revision's events may already be (clients' message limits are larger).
 */
const JOIN_LIMIT_BYTES = MAX_REQUEST_BYTES;
/** Roughly what an event adds to a response besides its keys and values: tags, lengths, revisions, version, lease. */
const EVENT_OVERHEAD_BYTES = 48;

/**
 * A watch as its stream's outbox knows it: its id, and the events response
 * still waiting that its next events may join. The stream keeps one per
 * watch, so that a fan-out finds it with the watch rather than in a map.
 */
export class Recipient {
  /** Its events response in the queue, if that may take more of its events, and its place among that response's watches. */
  waiting: WaitingEvents | undefined;
  place = 0;

  constructor(readonly watchId: number) {}
}

/**
 * An events response while it waits, for every watch of the stream handed
 * the same events in a row (the watches of one key get the same array from
 * the hub), later events of each joining it. One object for them all, as a
 * fan-out reaches a stream's watches one after the other; a watch that
 * moves on with a later lot of events takes it with the lots before.
 */
class WaitingEvents {
  readonly watchIds: number[] = [];
  /** Set once the response went to the writer: it takes no more events. */
  sent = false;
  /** How many of the lots each watch of `watchIds` takes, from the first; made when a second lot joins (a stream that falls behind). */
  private taken: number[] | undefined;
  /** The lots of events: the first as delivered, each later one as it joined; the header each came with. */
  private readonly lots: (readonly Event[])[];
  private readonly headers: ResponseHeader[];
  /** About how many bytes the lots hold, up to and with each. */
  private readonly bytesUpTo: number[];

  constructor(
    header: ResponseHeader,
    events: readonly Event[],
    /** Whether the watches asked for a revision too large for one response to come in parts (not the response's own `fragment`). */
    readonly inParts: boolean,
  ) {
    this.lots = [events];
    this.headers = [header];
    this.bytesUpTo = [bytesOf(events)];
  }

  /** Whether a watch handed `events` with `header` may be one more id of this response. */
  takesAsFirst(header: ResponseHeader, events: readonly Event[], inParts: boolean): boolean {
    return this.lots.length === 1 && this.lots[0] === events && this.headers[0] === header && this.inParts === inParts;
  }

  add(recipient: Recipient): void {
    recipient.waiting = this;
    recipient.place = this.watchIds.length;
    this.watchIds.push(recipient.watchId);
    this.taken?.push(1);
  }

  /** Adds a watch's next events to what it takes here; false if they do not fit (over the limit, or after another lot). */
  join({ place }: Recipient, header: ResponseHeader, events: readonly Event[]): boolean {
    this.taken ??= this.watchIds.map(() => 1);
    const next = this.taken[place]!;
    if (next < this.lots.length) {
      // Another watch of this response joined a lot here already: these must be the same events.
      if (this.lots[next] !== events || this.headers[next] !== header) return false;
    } else {
      const bytes = this.bytesUpTo[next - 1]! + bytesOf(events);
      if (bytes > JOIN_LIMIT_BYTES) return false;
      this.lots.push(events);
      this.headers.push(header);
      this.bytesUpTo.push(bytes);
    }
    this.taken[place] = next + 1;
    return true;
  }

  /** What goes out: one shared response for the watches that take the same lots, with the newest header of them. */
  responses(): SharedEvents[] {
    const taken = this.taken;
    if (!taken) return [{ header: this.headers[0]!, events: this.lots[0]!, watchIds: this.watchIds }];
    const byLots = new Map<number, number[]>();
    for (let i = 0; i < this.watchIds.length; i++) {
      let ids = byLots.get(taken[i]!);
      if (!ids) {
        ids = [];
        byLots.set(taken[i]!, ids);
      }
      ids.push(this.watchIds[i]!);
    }
    return [...byLots].map(([lots, watchIds]) => ({ header: this.headers[lots - 1]!, events: this.lots.slice(0, lots).flat(), watchIds }));
  }
}

export class WatchOutbox {
  private queue: (WatchMessage | WaitingEvents)[] = [];
  /** The last of the queue, when it is an events response more watches may share. */
  private tail: WaitingEvents | undefined;
  private writing = false;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly write: BatchWriter<Outgoing>,
    /** A response of a watch that asked for fragments, in the parts it goes out in. */
    private readonly fragmentsOf: (message: WatchMessage) => WatchMessage[],
  ) {}

  /** A response of its own; the events response of the watch it is for (`about`) still waiting takes no more events after it. */
  add(message: WatchMessage, about?: Recipient): void {
    if (about) about.waiting = undefined;
    this.tail = undefined;
    this.enqueue(message);
  }

  /**
   * A watch's events: joined to its events response still waiting if there
   * is room, else one more id of the last response if that carries the same
   * events, else a response of their own.
   */
  addEvents(recipient: Recipient, header: ResponseHeader, events: readonly Event[], fragment: boolean): void {
    if (this.closed) return;
    const waiting = recipient.waiting;
    if (waiting && !waiting.sent && waiting.join(recipient, header, events)) return;
    let response = this.tail;
    if (!response?.takesAsFirst(header, events, fragment)) {
      response = new WaitingEvents(header, events, fragment);
      this.enqueue(response);
      this.tail = response;
    }
    response.add(recipient);
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
    this.tail = undefined;
  }

  private enqueue(message: WatchMessage | WaitingEvents): void {
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
    const batch: Outgoing[] = [];
    for (const item of this.queue) this.addOutgoing(batch, item);
    this.queue = [];
    this.tail = undefined;
    this.writing = true;
    this.write(batch, () => {
      this.writing = false;
      this.flush();
    });
  }

  /** What a queued item sends, added to `batch`: a waiting events response as shared responses, or in parts, a message each, for watches that asked for fragments. */
  private addOutgoing(batch: Outgoing[], item: WatchMessage | WaitingEvents): void {
    if (!(item instanceof WaitingEvents)) {
      batch.push(item);
      return;
    }
    item.sent = true;
    const responses = item.responses();
    if (item.inParts) for (const message of responses.flatMap(messagesOf)) batch.push(...this.fragmentsOf(message));
    else batch.push(...responses);
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
