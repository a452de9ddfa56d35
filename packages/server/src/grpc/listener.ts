/**
 * One client port for both APIs, as etcd serves them: a connection that
 * opens with the HTTP/2 preface is gRPC and goes to grpc-js's connection
 * injector; any other goes to the HTTP/1 server.
 */
import type { Server as HttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { withAuthorityFixed } from "./authority.js";

/** Every HTTP/2 connection starts with this (RFC 9113, 3.4); no HTTP/1 request line can. */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** How long the in-flight gRPC calls get to finish when the member stops. */
const DRAIN_MS = 1_000;

export interface ClientListener {
  /** The port bound (useful when 0 was asked). */
  readonly port: number;
  close(): Promise<void>;
}

export async function listenForClients(host: string, port: number, http: HttpServer, grpcServer: grpc.Server): Promise<ClientListener> {
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    routeByPreface(socket, http, injector);
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
      injector.drain(DRAIN_MS);
      await Promise.race([closed, delay(DRAIN_MS)]);
      for (const socket of sockets) socket.destroy();
      injector.destroy();
      await closed;
    },
  };
}

/** Reads until the first bytes tell HTTP/2 from HTTP/1, then hands the socket over with those bytes put back. */
function routeByPreface(socket: Socket, http: HttpServer, injector: grpc.ConnectionInjector): void {
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    received = Buffer.concat([received, chunk]);
    const compared = Math.min(received.length, HTTP2_PREFACE.length);
    const isHttp2 = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (isHttp2 && compared < HTTP2_PREFACE.length) return;
    socket.off("data", onData);
    socket.pause();
    socket.unshift(received);
    if (isHttp2) {
      injector.injectConnection(withAuthorityFixed(socket));
    } else {
      http.emit("connection", socket);
      // Paused above, the socket would never deliver the bytes put back to the HTTP parser.
      socket.resume();
    }
  };
  socket.on("data", onData);
  socket.on("error", () => socket.destroy());
}
