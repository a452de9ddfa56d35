/**
 * The outbound half of the conversation with one peer: a bounded queue of
 * messages, one persistent connection that carries them in batches, and the
 * redialing, with backoff, whenever that connection is lost.
 */
import type { Message, NodeId } from "@raftkv/raft";
import { backoffDelay, type BackoffPolicy } from "./backoff.js";
import { BoundedQueue } from "./bounded-queue.js";
import { ConnectionError, protocolFailure, type ConnectionFailure, type FailureCause } from "./failure.js";
import { dial, type FramedSocket, type PeerAddress } from "./framed-socket.js";
import type { Hello } from "./frames.js";
import type { Logger } from "./logger.js";
import type { Connector } from "./security.js";

export interface PeerLinkSettings {
  readonly maxQueuedMessages: number;
  readonly connectTimeoutMs: number;
  readonly backoff: BackoffPolicy;
  readonly logger: Logger;
  readonly connector: Connector;
  readonly hello: (to: NodeId) => Hello;
  readonly connected: (peer: NodeId) => void;
  readonly unreachable: (peer: NodeId, failure: ConnectionFailure) => void;
}

export interface PeerStats {
  readonly address: PeerAddress;
  /** The outbound connection is open and welcomed. */
  readonly connected: boolean;
  /** Messages waiting for the connection. */
  readonly queued: number;
  /** Messages handed to the socket. */
  readonly sent: number;
  /** Messages dropped because the queue was full (the oldest go first), the peer was unreachable, or it was removed. */
  readonly dropped: number;
  readonly framesSent: number;
  readonly bytesSent: number;
  /** Times the connection was opened again after being lost. */
  readonly reconnects: number;
  readonly framesReceived: number;
  readonly messagesReceived: number;
}

type LinkState = "idle" | "dialing" | "connected" | "backing-off" | "closed";

export class PeerLink {
  private readonly queue: BoundedQueue<Message>;
  private state: LinkState = "idle";
  private connection: FramedSocket | undefined;
  /** Tells a dial's late answer from the answer to the current dial. */
  private dialEpoch = 0;
  private failedDials = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private everConnected = false;
  /**
   * The cause of the current outage, once reported: one report per outage,
   * and one more if its cause changes (a peer that timed out while we were
   * busy starting, say, and then refuses us).
   */
  private reportedCause: FailureCause | undefined;
  private readonly counts = { sent: 0, dropped: 0, framesSent: 0, bytesSent: 0, reconnects: 0, framesReceived: 0, messagesReceived: 0 };

  constructor(
    readonly peer: NodeId,
    private currentAddress: PeerAddress,
    private readonly settings: PeerLinkSettings,
  ) {
    this.queue = new BoundedQueue(settings.maxQueuedMessages);
  }

  get address(): PeerAddress {
    return this.currentAddress;
  }

  /** Starts dialing; until then, messages only queue. */
  start(): void {
    if (this.state === "idle") this.dial();
  }

  /**
   * Queues `message` for the next batch, which leaves once the code now
   * running (and its microtasks) is done. While the link is down (between a
   * failed dial and the next) the message is dropped: Raft resends what still
   * matters, and what it sent meanwhile would arrive stale, a deposed
   * leader's heartbeat making a restarted peer follow a leader that is gone.
   */
  enqueue(message: Message): void {
    if (this.state === "closed" || this.state === "backing-off") {
      this.counts.dropped++;
      return;
    }
    if (this.queue.push(message)) this.counts.dropped++;
    this.scheduleFlush();
  }

  /** Points the link at a new address: the current connection is dropped and the new address dialed at once. */
  moveTo(address: PeerAddress): void {
    if (address.host === this.currentAddress.host && address.port === this.currentAddress.port) return;
    this.currentAddress = address;
    if (this.state === "idle" || this.state === "closed") return;
    this.disconnect();
    this.failedDials = 0;
    this.dial();
  }

  /**
   * The peer just dialed us, so it is up: a link waiting out its backoff
   * dials now rather than leave the peer unreachable for up to the longest
   * backoff after it restarted.
   */
  peerIsUp(): void {
    if (this.state !== "backing-off") return;
    clearTimeout(this.retryTimer);
    this.failedDials = 0;
    this.dial();
  }

  /** Stops for good: closes the connection and drops what is queued. */
  close(): void {
    this.disconnect();
    this.state = "closed";
    this.counts.dropped += this.queue.drain().length;
  }

  countReceived(messages: number): void {
    this.counts.framesReceived++;
    this.counts.messagesReceived += messages;
  }

  stats(): PeerStats {
    return { address: this.currentAddress, connected: this.state === "connected", queued: this.queue.length, ...this.counts };
  }

  private dial(): void {
    this.state = "dialing";
    const epoch = ++this.dialEpoch;
    const { connectTimeoutMs, hello, connector } = this.settings;
    dial(connector.open(this.currentAddress), hello(this.peer), connectTimeoutMs).then(
      (connection) => {
        if (epoch === this.dialEpoch) this.opened(connection);
        else connection.destroy();
      },
      (error: unknown) => {
        if (epoch === this.dialEpoch) this.lost(error instanceof ConnectionError ? error.failure : protocolFailure(error));
      },
    );
  }

  private opened(connection: FramedSocket): void {
    this.state = "connected";
    this.connection = connection;
    this.failedDials = 0;
    this.reportedCause = undefined;
    if (this.everConnected) this.counts.reconnects++;
    this.everConnected = true;
    connection.listen({
      // The peer sends nothing back on a messages stream after its welcome.
      frame: () => {},
      closed: (failure) => {
        if (failure) this.lost(failure); // else this side closed it, on purpose
      },
    });
    connection.socket.on("drain", () => this.flush());
    this.settings.logger.info({ peer: this.peer, address: this.currentAddress }, "connected to peer");
    this.settings.connected(this.peer);
    this.flush();
  }

  private lost(failure: ConnectionFailure): void {
    this.connection = undefined;
    this.reportOutage(failure);
    this.state = "backing-off";
    this.counts.dropped += this.queue.drain().length;
    const delay = backoffDelay(this.failedDials++, this.settings.backoff);
    this.retryTimer = setTimeout(() => this.dial(), delay);
  }

  private reportOutage(failure: ConnectionFailure): void {
    const fields = { peer: this.peer, address: this.currentAddress, ...failure };
    if (this.reportedCause === failure.cause) {
      this.settings.logger.debug(fields, "peer still unreachable");
      return;
    }
    this.reportedCause = failure.cause;
    this.settings.logger.warn(fields, "peer unreachable");
    this.settings.unreachable(this.peer, failure);
  }

  /** Ends the current connection or dial, if any, without reporting it as a failure. */
  private disconnect(): void {
    this.dialEpoch++;
    clearTimeout(this.retryTimer);
    this.connection?.destroy();
    this.connection = undefined;
  }

  /**
   * A microtask rather than the next turn: everything one Ready sends still
   * goes out as one frame, but without waiting behind the rest of this turn's
   * I/O callbacks (a poll phase full of client requests, say).
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes everything queued as one frame, unless the socket is still draining the last ones. */
  private flush(): void {
    if (this.queue.length === 0 || this.connection?.acceptsWrites !== true) return;
    const messages = this.queue.drain();
    this.counts.bytesSent += this.connection.write({ kind: "messages", messages });
    this.counts.framesSent++;
    this.counts.sent += messages.length;
  }
}
