/**
 * What a Watch stream has to send, sent in batches. Responses queue until
 * the end of the event loop's turn (so a put's answer leaves before the
 * fan-out of its event is encoded, and the responses of one fan-out leave
 * together), and while the stream's last batch is still being written.
 */
import type { Event, ResponseHeader } from "../kv/api.js";
import type { BatchWriter } from "./send-together.js";
import type { WatchMessage } from "./watch-encoding.js";

interface Queued {
  readonly message: WatchMessage;
  /** Whether the watch asked for a revision too large for one response to come in parts. */
  readonly fragment: boolean;
}

export class WatchOutbox {
  private queue: Queued[] = [];
  private writing = false;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly write: BatchWriter<WatchMessage>,
    /** A response of a watch that asked for fragments, in the parts it goes out in. */
    private readonly fragmentsOf: (message: WatchMessage) => WatchMessage[],
  ) {}

  add(message: WatchMessage): void {
    this.enqueue({ message, fragment: false });
  }

  addEvents(watchId: number, header: ResponseHeader, events: readonly Event[], fragment: boolean): void {
    this.enqueue({ message: { header, watch_id: watchId, events }, fragment });
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
  }

  private enqueue(queued: Queued): void {
    if (this.closed) return;
    this.queue.push(queued);
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.writing) this.flush();
    });
  }

  private flush(): void {
    if (this.closed || this.queue.length === 0) return;
    const batch = this.queue.flatMap(({ message, fragment }) => (fragment ? this.fragmentsOf(message) : [message]));
    this.queue = [];
    this.writing = true;
    this.write(batch, () => {
      this.writing = false;
      this.flush();
    });
  }
}
