/**
 * The DNS listeners: UDP and TCP on one address (RFC 7766: a server that
 * answers over UDP answers over TCP too, which is where truncated answers
 * are asked again). Floods are bounded: past MAX_PENDING_QUERIES answers in
 * progress, further queries are dropped (a resolver retries); TCP
 * connections are capped in number and closed when idle or when they leave
 * too many answers unread; a message larger than any query needs is
 * dropped, its TCP connection closed.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { once } from "node:events";
import { isIPv6 } from "node:net";
import { createServer, type Server, type Socket as TcpSocket } from "node:net";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { Endpoint } from "../config.js";
import type { DnsResponder, QueryResult, Transport } from "./responder.js";

/** Answers being worked out at once; beyond, queries are dropped. */
const MAX_PENDING_QUERIES = 1_000;
const MAX_TCP_CONNECTIONS = 256;
const TCP_IDLE_MS = 10_000;
/** A query is one question and perhaps an EDNS record: far below this. */
const MAX_QUERY_BYTES = 4_096;
const LENGTH_PREFIX_BYTES = 2;
/** Answers queued for a TCP client that does not read them; past this, the connection is closed. */
const MAX_TCP_UNSENT_BYTES = 1024 * 1024;
/** With port 0, how many free UDP ports are tried before one is also free on TCP. */
const PORT_PICKS = 5;

export interface DnsServerOptions {
  readonly listen: Endpoint;
  readonly responder: DnsResponder;
  readonly metrics: Registry;
  readonly logger: Logger;
}

export class DnsServer {
  private pending = 0;
  private closed = false;
  private readonly connections = new Set<TcpSocket>();

  /** Bound by bind(), once a port is free on both protocols. */
  private udp!: Socket;

  private constructor(
    private readonly tcp: Server,
    private readonly options: DnsServerOptions,
    private readonly queries: Counter<"transport" | "result">,
  ) {}

  /** Listens on UDP and TCP at `listen`; port 0 picks one free on both. */
  static async start(options: DnsServerOptions): Promise<DnsServer> {
    const queries = new Counter({
      name: "raftkv_dns_queries_total",
      help: "DNS messages by transport and result: the answer's rcode, or dropped (malformed header, flood, oversized)",
      labelNames: ["transport", "result"] as const,
      registers: [options.metrics],
    });
    const tcp = createServer();
    const server = new DnsServer(tcp, options, queries);
    tcp.on("connection", (socket) => server.serveConnection(socket));
    tcp.on("error", (error) => options.logger.warn({ err: error }, "DNS over TCP failed"));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    await server.bind();
    return server;
  }

  get address(): Endpoint {
    const { address, port } = this.udp.address();
    return { host: address, port };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const socket of this.connections) socket.destroy();
    const tcpClosed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    const udpClosed = new Promise<void>((resolve) => this.udp.close(resolve));
    await Promise.all([tcpClosed, udpClosed]);
  }

  private async bind(): Promise<void> {
    const { host, port } = this.options.listen;
    for (let attempt = 1; ; attempt++) {
      const udp = await boundUdp(host, port);
      try {
        this.tcp.listen(udp.address().port, host);
        await once(this.tcp, "listening");
        udp.on("message", (message, from) => this.answerDatagram(message, from));
        udp.on("error", (error) => this.options.logger.warn({ err: error }, "DNS over UDP failed to send"));
        this.udp = udp;
        return;
      } catch (error) {
        await new Promise<void>((resolve) => udp.close(resolve));
        // The free UDP port port 0 found may be taken on TCP (a socket left open here would keep the process alive): another pick usually is free.
        const taken = (error as NodeJS.ErrnoException).code === "EADDRINUSE";
        if (port !== 0 || !taken || attempt === PORT_PICKS) throw error;
      }
    }
  }

  private answerDatagram(message: Buffer, from: RemoteInfo): void {
    void this.answer(message, "udp").then((reply) => {
      if (reply && !this.closed) this.udp.send(reply, from.port, from.address);
    });
  }

  private serveConnection(socket: TcpSocket): void {
    this.connections.add(socket);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.connections.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= LENGTH_PREFIX_BYTES) {
        const length = buffered.readUInt16BE(0);
        if (length > MAX_QUERY_BYTES) {
          this.count("tcp", "dropped");
          socket.destroy();
          return;
        }
        if (buffered.length < LENGTH_PREFIX_BYTES + length) return;
        const message = buffered.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length);
        buffered = buffered.subarray(LENGTH_PREFIX_BYTES + length);
        void this.answer(message, "tcp").then((reply) => {
          if (!reply || socket.destroyed) return;
          if (socket.writableLength > MAX_TCP_UNSENT_BYTES) socket.destroy();
          else socket.write(framed(reply));
        });
      }
    });
  }

  /** The answer to send, if any; never rejects. */
  private async answer(message: Buffer, transport: Transport): Promise<Buffer | undefined> {
    if (this.pending >= MAX_PENDING_QUERIES || message.length > MAX_QUERY_BYTES) {
      this.count(transport, "dropped");
      return undefined;
    }
    this.pending++;
    try {
      const reply = await this.options.responder.respond(message, transport);
      this.count(transport, reply.result);
      return reply.message;
    } catch (error) {
      this.options.logger.error({ err: error }, "DNS query failed unexpectedly");
      this.count(transport, "dropped");
      return undefined;
    } finally {
      this.pending--;
    }
  }

  private count(transport: Transport, result: QueryResult): void {
    this.queries.inc({ transport, result });
  }
}

function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

/** A UDP socket bound to `host:port`; closed again if it cannot be. */
async function boundUdp(host: string, port: number): Promise<Socket> {
  const udp = createSocket({ type: isIPv6(host) ? "udp6" : "udp4" });
  try {
    udp.bind(port, host);
    await once(udp, "listening");
    return udp;
  } catch (error) {
    udp.close();
    throw error;
  }
}
