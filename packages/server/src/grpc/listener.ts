/**
 * One client port for both APIs, as etcd serves them. On a plain-text port
 * a connection that opens with the HTTP/2 preface is gRPC and goes to
 * grpc-js's connection injector; any other goes to the HTTP/1 server. On a
 * TLS port, ALPN decides: gRPC clients offer h2 alone and get it, and go to
 * the injector; a client that offers HTTP/1.1 too (curl, browsers, Node's
 * fetch) gets HTTP/1.1 and the HTTP server, where the JSON gateway and the
 * other HTTP APIs are, as does a client that offers nothing. The gRPC side
 * is made when its first connection arrives (see client-api.ts), which
 * waits for it meanwhile.
 */
import type { Server as HttpServer } from "node:http";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import { setTimeout as delay } from "node:timers/promises";
import type { ConnectionInjector } from "@grpc/grpc-js";
import type { ServerTlsOptions } from "../http/tls.js";
import { handOverHttp2 } from "./authority.js";

/** Every HTTP/2 connection starts with this (RFC 9113, 3.4); no HTTP/1 request line can. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** In the server's order of preference, which OpenSSL follows: HTTP/1.1 to whoever can speak it, h2 to gRPC clients. */
const ALPN_PREFERENCE = ["http/1.1", "h2"];
/** How long the in-flight gRPC calls get to finish when the member stops. */
const DRAIN_MS = 1_000;

export interface ClientListener {
  /** The port bound (useful when 0 was asked). */
  readonly port: number;
  close(): Promise<void>;
}

export interface TlsClientListener extends ClientListener {
  /** Where a rotated certificate is installed (see http/tls.ts). */
  readonly server: TlsServer;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Makes a connection injector of the gRPC server (grpc-js's, plain text: TLS is ended here). */
export type GrpcInjectorFactory = () => Promise<ConnectionInjector>;

/** A listener's way to the gRPC server: its injector, made on the first gRPC connection. */
class GrpcConnections {
  private injector: Promise<ConnectionInjector> | undefined;

  constructor(private readonly makeInjector: GrpcInjectorFactory) {}

  /** Hands a paused connection over once the injector exists; one that cannot be served is closed. */
  inject(connection: Socket | Duplex): void {
    this.injector ??= this.makeInjector();
    this.injector.then(
      (injector) => injector.injectConnection(connection),
      () => connection.destroy(),
    );
  }

  /** Tells gRPC clients to go away, if any came. */
  async drain(graceMs: number): Promise<void> {
    (await this.made())?.drain(graceMs);
  }

  async destroy(): Promise<void> {
    (await this.made())?.destroy();
  }

  private async made(): Promise<ConnectionInjector | undefined> {
    return this.injector?.catch(() => undefined);
  }
}

export async function listenForClients(address: ListenAddress, http: HttpServer, makeInjector: GrpcInjectorFactory): Promise<ClientListener> {
  const injector = new GrpcConnections(makeInjector);
  return serve(
    createServer((socket) => routeByPreface(socket, http, injector)),
    address,
    http,
    injector,
  );
}

/**
 * TLS is ended here, not in grpc-js: the injector gets the decrypted
 * connection, whose verified client certificate gRPC calls still see
 * (grpc-js's getAuthContext), for etcd's CN identity.
 */
export async function listenForTlsClients(
  address: ListenAddress,
  http: HttpServer,
  makeInjector: GrpcInjectorFactory,
  tls: ServerTlsOptions,
): Promise<TlsClientListener> {
  const injector = new GrpcConnections(makeInjector);
  const server = createTlsServer({ ...tls, ALPNProtocols: ALPN_PREFERENCE }, (socket) => routeByAlpn(socket, http, injector));
  return { ...(await serve(server, address, http, injector)), server };
}

async function serve(server: NetServer, { host, port }: ListenAddress, http: HttpServer, injector: GrpcConnections): Promise<ClientListener> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The HTTP server never listened itself, so closing it would not end the connections it was handed.
      http.closeAllConnections();
      // gRPC clients are told to go away; those still connected after the grace time are cut off.
      await injector.drain(DRAIN_MS);
      await Promise.race([closed, delay(DRAIN_MS)]);
      for (const socket of sockets) socket.destroy();
      await injector.destroy();
      await closed;
    },
  };
}

function routeByAlpn(socket: TLSSocket, http: HttpServer, injector: GrpcConnections): void {
  socket.on("error", () => socket.destroy());
  // etcdctl's per-endpoint commands name the TLS server in :authority, without the scheme: no filter needed here.
  if (socket.alpnProtocol === "h2") injector.inject(socket);
  else http.emit("connection", socket);
}

/** Reads until the first bytes tell HTTP/2 from HTTP/1, then hands the socket over with those bytes put back. */
function routeByPreface(socket: Socket, http: HttpServer, injector: GrpcConnections): void {
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    received = Buffer.concat([received, chunk]);
    const compared = Math.min(received.length, HTTP2_PREFACE.length);
    const isHttp2 = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (isHttp2 && compared < HTTP2_PREFACE.length) return;
    socket.off("data", onData);
    if (isHttp2) {
      handOverHttp2(socket, received, (connection) => injector.inject(connection));
    } else {
      socket.pause();
      socket.unshift(received);
      http.emit("connection", socket);
      // Paused above, the socket would never deliver the bytes put back to the HTTP parser.
      socket.resume();
    }
  };
  socket.on("data", onData);
  socket.on("error", () => socket.destroy());
}
