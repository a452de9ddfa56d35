/**
 * Peer messaging for the Raft server loop: one persistent outbound
 * connection per peer for messages, one connection per snapshot transfer,
 * and a listener that admits only members of this cluster; over plain TCP,
 * or over mutual TLS when the server gives certificates.
 */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { Message, NodeId } from "@raftkv/raft";
import { DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff.js";
import { MEMBER_REMOVED_REFUSAL, describe, type ConnectionFailure } from "./failure.js";
import { FramedSocket, answerUnread, dial, type FrameListener, type PeerAddress } from "./framed-socket.js";
import { PROTOCOL_VERSION, type Frame, type Hello, type StreamKind } from "./frames.js";
import { silentLogger, type Logger } from "./logger.js";
import { PeerLink, type PeerStats } from "./peer-link.js";
import { PLAIN_TCP, PeerSecurity, type Connector, type PeerCertificates, type PeerTls } from "./security.js";
import { IncomingSnapshot, transferSnapshot, type SnapshotHandler, type SnapshotOutcome } from "./snapshot.js";

export interface TransportOptions {
  readonly clusterId: number;
  readonly memberId: NodeId;
  /** Port 0 picks a free port; {@link Transport.address} tells which. */
  readonly listen: PeerAddress;
  /** The other members. An entry for `memberId` itself is skipped, so the whole member list may be passed. */
  readonly peers?: ReadonlyMap<NodeId, PeerAddress>;
  readonly logger?: Logger;
  /** Per peer; beyond it the oldest queued messages are dropped. Default 4096. */
  readonly maxQueuedMessages?: number;
  /**
   * How long a dial may take, connection and welcome together. Default 1 s
   * (etcd's dial timeout): a peer that has just started holds its event loop
   * for a few hundred milliseconds on a busy machine, and a shorter deadline
   * took that for an unreachable peer and backed off.
   */
  readonly connectTimeoutMs?: number;
  /** Redial delays: default from 25 ms, doubling, up to 1 s, jittered. */
  readonly backoff?: BackoffPolicy;
  /** Mutual TLS, both ways, for every connection; without it, plain TCP. */
  readonly tls?: PeerTls;
  /** Messages from a peer, a batch at a time, in the order the peer sent them. */
  readonly onMessages: (messages: readonly Message[], from: NodeId) => void;
  /** Whether an unknown member is one that was removed: it is then told so, not just refused. */
  readonly wasRemoved?: (peer: NodeId) => boolean;
  /** Snapshot transfers; without a handler, snapshot connections are refused. */
  readonly onSnapshot?: SnapshotHandler;
  /** The outbound connection to a peer was opened (or opened again) and welcomed. */
  readonly onPeerConnected?: (peer: NodeId) => void;
  /**
   * The outbound connection to a peer failed or could not be opened. Called
   * once per outage, at its first failure, and again if the cause of the
   * failures changes; {@link isPeerDown} tells a dead
   * peer (reset, refused) from a slow or unreachable one (timeout, error).
   */
  readonly onPeerUnreachable?: (peer: NodeId, failure: ConnectionFailure) => void;
}

export interface TransportStats {
  readonly peers: ReadonlyMap<NodeId, PeerStats>;
  /** Messages addressed to members this transport does not know. */
  readonly droppedForUnknownPeers: number;
}

/** A connection that has not said hello by then is closed. */
const HELLO_TIMEOUT_MS = 5000;

type TransportState = "new" | "running" | "stopped";

export class Transport {
  private readonly links = new Map<NodeId, PeerLink>();
  /** Every open connection but the links' own, with the member at the other end once known. */
  private readonly connections = new Map<FramedSocket, NodeId | undefined>();
  /** Every inbound socket from its first byte, TLS handshakes under way included, so that stop() ends them all. */
  private readonly inbound = new Set<Socket>();
  private readonly server: Server;
  private readonly security: PeerSecurity | undefined;
  private readonly connector: Connector;
  private readonly logger: Logger;
  private state: TransportState = "new";
  private droppedForUnknownPeers = 0;

  constructor(private readonly options: TransportOptions) {
    assertMemberId(options.memberId);
    if (!Number.isSafeInteger(options.clusterId)) throw new RangeError(`cluster id must be a safe integer, got ${options.clusterId}`);
    this.logger = options.logger ?? silentLogger;
    this.security = options.tls && new PeerSecurity(options.tls);
    this.connector = this.security ?? PLAIN_TCP;
    this.server = this.security ? this.secureListener(this.security) : createServer((socket) => this.accept(socket));
    this.server.on("connection", (socket: Socket) => {
      this.inbound.add(socket);
      socket.once("close", () => this.inbound.delete(socket));
    });
    for (const [peer, address] of options.peers ?? []) this.addPeer(peer, address);
  }

  /** Starts listening, then dials every peer. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`a transport starts once; this one is ${this.state}`);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.listen.port, this.options.listen.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.server.on("error", (error) => this.logger.error({ err: error }, "peer listener failed"));
    this.state = "running";
    for (const link of this.links.values()) link.start();
    this.logger.info({ member: this.options.memberId, address: this.address() }, "peer transport listening");
  }

  /** Closes every connection and the listener; queued messages are dropped. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    const wasListening = this.state === "running";
    this.state = "stopped";
    for (const link of this.links.values()) link.close();
    for (const connection of this.connections.keys()) connection.destroy();
    for (const socket of this.inbound) socket.destroy();
    if (wasListening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The address the listener is bound to. */
  address(): PeerAddress {
    const bound = this.server.address() as AddressInfo | null;
    if (!bound) throw new Error("the transport is not listening");
    return { host: bound.address, port: bound.port };
  }

  /**
   * Queues each message for its `to` member and returns at once. The
   * messages queued for a peer during one event-loop turn leave together,
   * in one frame and one write.
   */
  send(messages: readonly Message[]): void {
    for (const message of messages) {
      const link = this.links.get(message.to);
      if (link) link.enqueue(message);
      else this.dropForUnknownPeer(message);
    }
  }

  /**
   * Streams a snapshot to `to` on a connection of its own: first `message`
   * (the Snap message), then `chunks`, as fast as the peer takes them.
   * Resolves, never rejects, with what the receiver made of it.
   */
  async sendSnapshot(to: NodeId, message: Message, chunks: AsyncIterable<Uint8Array>): Promise<SnapshotOutcome> {
    const link = this.links.get(to);
    if (this.state !== "running" || !link) return { delivered: false, reason: `member ${to} is not a running peer` };
    let connection: FramedSocket;
    try {
      connection = await dial(this.connector.open(link.address), this.hello(to, "snapshot"), this.connectTimeoutMs);
    } catch (error) {
      return { delivered: false, reason: `could not open a snapshot stream: ${describe(error)}` };
    }
    if (this.state !== "running") {
      connection.destroy();
      return { delivered: false, reason: "the transport stopped" };
    }
    this.track(connection, to);
    this.logger.info({ peer: to, index: message.snapshot?.meta.index }, "sending a snapshot");
    const outcome = await transferSnapshot(connection, message, chunks);
    this.logger.info({ peer: to, ...outcome }, "snapshot transfer over");
    return outcome;
  }

  /**
   * New certificates (rotated on disk, say): every connection opened from
   * now on, both ways, uses them; open connections carry on. Throws if they
   * cannot be used, the old ones then staying in use.
   */
  replaceCertificates(certificates: PeerCertificates): void {
    if (!this.security) throw new Error("this transport speaks plain TCP: it has no certificates to replace");
    const replaced = this.security.replace(certificates);
    (this.server as TlsServer).setSecureContext(replaced);
  }

  /** Makes `peer` a known member and dials it; re-addresses it if it is known already. */
  addPeer(peer: NodeId, address: PeerAddress): void {
    assertMemberId(peer);
    if (peer === this.options.memberId) return;
    const known = this.links.get(peer);
    if (known) return known.moveTo(address);
    const link = this.newLink(peer, address);
    this.links.set(peer, link);
    if (this.state === "running") link.start();
  }

  /** Forgets `peer`: its queue and connections, both ways, are dropped, and it is refused from now on. */
  removePeer(peer: NodeId): void {
    this.links.get(peer)?.close();
    this.links.delete(peer);
    for (const [connection, member] of this.connections) {
      if (member === peer) connection.destroy();
    }
  }

  stats(): TransportStats {
    const peers = new Map<NodeId, PeerStats>();
    for (const [peer, link] of this.links) peers.set(peer, link.stats());
    return { peers, droppedForUnknownPeers: this.droppedForUnknownPeers };
  }

  private get connectTimeoutMs(): number {
    return this.options.connectTimeoutMs ?? 1_000;
  }

  private newLink(peer: NodeId, address: PeerAddress): PeerLink {
    return new PeerLink(peer, address, {
      maxQueuedMessages: this.options.maxQueuedMessages ?? 4096,
      connectTimeoutMs: this.connectTimeoutMs,
      backoff: this.options.backoff ?? DEFAULT_BACKOFF,
      logger: this.logger,
      connector: this.connector,
      hello: (to) => this.hello(to, "messages"),
      connected: (to) => this.notify("onPeerConnected", to, () => this.options.onPeerConnected?.(to)),
      unreachable: (to, failure) => this.notify("onPeerUnreachable", to, () => this.options.onPeerUnreachable?.(to, failure)),
    });
  }

  private hello(to: NodeId, stream: StreamKind): Hello {
    return { kind: "hello", version: PROTOCOL_VERSION, clusterId: this.options.clusterId, from: this.options.memberId, to, stream };
  }

  private dropForUnknownPeer(message: Message): void {
    this.droppedForUnknownPeers++;
    this.logger.debug({ to: message.to, type: message.type }, "message for an unknown member dropped");
  }

  private track(connection: FramedSocket, member: NodeId | undefined): void {
    this.connections.set(connection, member);
    connection.socket.once("close", () => this.connections.delete(connection));
  }

  /**
   * A TLS listener: a dialer whose certificate does not pass is refused
   * once the handshake is done, before a single frame of it is read; a
   * handshake that fails (plain TCP, an expired certificate, too slow) is
   * logged and the socket destroyed by node:tls.
   */
  private secureListener(security: PeerSecurity): TlsServer {
    const server = createTlsServer(security.listenerOptions(HELLO_TIMEOUT_MS), (socket) => {
      const refusal = security.refusalOf(socket);
      if (refusal === undefined) return this.accept(socket);
      this.logger.warn({ remote: remoteOf(socket), reason: refusal }, "peer connection refused");
      answerUnread(socket, { kind: "refuse", reason: refusal });
    });
    server.on("tlsClientError", (error: Error & { code?: unknown }, socket: TLSSocket) => {
      const fields = { remote: remoteOf(socket), reason: `TLS handshake failed: ${error.message}` };
      // A dialer that gave up (its deadline passed, its peer moved) is no refusal of ours.
      if (error.code === "ECONNRESET") this.logger.debug(fields, "peer connection closed during the TLS handshake");
      else this.logger.warn(fields, "peer connection refused");
    });
    return server;
  }

  private accept(socket: Socket): void {
    const connection = new FramedSocket(socket);
    this.track(connection, undefined);
    const helloTimer = setTimeout(() => connection.destroy(), HELLO_TIMEOUT_MS);
    connection.listen({
      frame: (frame) => {
        clearTimeout(helloTimer);
        this.admit(connection, frame);
      },
      closed: () => clearTimeout(helloTimer),
    });
  }

  /** Answers the first frame of an inbound connection: it must be an acceptable hello. */
  private admit(connection: FramedSocket, frame: Frame): void {
    if (frame.kind !== "hello") return this.refuse(connection, `expected a hello, got a ${frame.kind} frame`);
    const refusal = this.refusalOf(frame);
    if (refusal !== undefined) return this.refuse(connection, refusal, frame);
    this.connections.set(connection, frame.from);
    connection.admitLargeFrames();
    connection.write({ kind: "welcome" });
    connection.listen(this.streamListener(connection, frame));
    if (frame.stream === "messages") this.links.get(frame.from)?.peerIsUp();
  }

  /** Why `hello` cannot be admitted, or undefined if it can. */
  private refusalOf(hello: Hello): string | undefined {
    const { clusterId, memberId, onSnapshot } = this.options;
    if (hello.version !== PROTOCOL_VERSION) return `protocol version ${hello.version} is not ${PROTOCOL_VERSION}`;
    if (hello.clusterId !== clusterId) return `cluster ${hello.clusterId} is not this cluster, ${clusterId}`;
    if (hello.to !== memberId) return `member ${hello.to} was expected, this is member ${memberId}`;
    if (!this.links.has(hello.from)) {
      return this.options.wasRemoved?.(hello.from) ? MEMBER_REMOVED_REFUSAL : `member ${hello.from} is not a known member of cluster ${clusterId}`;
    }
    if (hello.stream === "snapshot" && !onSnapshot) return "this member takes no snapshots";
    return undefined;
  }

  private refuse(connection: FramedSocket, reason: string, hello?: Hello): void {
    this.logger.warn({ remote: remoteOf(connection.socket), clusterId: hello?.clusterId, from: hello?.from, reason }, "peer connection refused");
    connection.write({ kind: "refuse", reason });
    connection.end();
  }

  private streamListener(connection: FramedSocket, hello: Hello): FrameListener {
    if (hello.stream === "messages") return this.incomingMessages(connection, hello.from);
    // refusalOf admits snapshot streams only when there is a handler.
    return new IncomingSnapshot(connection, hello.from, this.options.onSnapshot!, this.logger);
  }

  private incomingMessages(connection: FramedSocket, from: NodeId): FrameListener {
    return {
      frame: (frame) => {
        if (frame.kind === "messages") this.deliver(frame.messages, from);
        else {
          this.logger.warn({ peer: from, kind: frame.kind }, "unexpected frame on a messages stream: closing it");
          connection.destroy();
        }
      },
      closed: (failure) => this.logger.debug({ peer: from, ...failure }, "inbound messages stream closed"),
    };
  }

  private deliver(messages: readonly Message[], from: NodeId): void {
    this.links.get(from)?.countReceived(messages.length);
    this.notify("onMessages", from, () => this.options.onMessages(messages, from));
  }

  /** Runs a callback of the server's; its failure is logged, not let loose among the sockets. */
  private notify(callback: string, peer: NodeId, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.logger.error({ peer, err: error }, `${callback} failed`);
    }
  }
}

function remoteOf(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

function assertMemberId(id: NodeId): void {
  if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`a member id is a positive safe integer, got ${id}`);
}
