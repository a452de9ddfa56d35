/**
 * The client port's two protocols (grpc/listener.ts): HTTP/1 is served
 * without the gRPC side, which a listener asks for (its connection
 * injector) when its first gRPC connection arrives, and only then; the
 * connections that wait for it are answered.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { listenForClients, type GrpcInjectorFactory } from "../src/grpc/listener.js";

const ECHO_PATH = "/test.Echo/Call";
const asBuffer = (bytes: Buffer): Buffer => bytes;

/** A gRPC server with one unary method that answers what it is sent; counts the injectors asked for. */
function countingGrpcServer(): { makeInjector: GrpcInjectorFactory; readonly injectorsMade: number } {
  let injectorsMade = 0;
  let server: grpc.Server | undefined;
  const makeInjector: GrpcInjectorFactory = async () => {
    injectorsMade++;
    if (!server) {
      server = new grpc.Server();
      const echo: grpc.MethodDefinition<Buffer, Buffer> = {
        path: ECHO_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: asBuffer,
        requestDeserialize: asBuffer,
        responseSerialize: asBuffer,
        responseDeserialize: asBuffer,
      };
      server.addService({ Call: echo }, { Call: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => done(null, call.request) });
    }
    return server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  };
  return {
    makeInjector,
    get injectorsMade() {
      return injectorsMade;
    },
  };
}

function echo(port: number, text: string): Promise<string> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(ECHO_PATH, asBuffer, asBuffer, Buffer.from(text), (error, reply) => {
      client.close();
      if (error) reject(error);
      else resolve(reply!.toString());
    });
  });
}

test("HTTP/1 is served without the gRPC side; each listener asks for it once, at its first gRPC connection", async () => {
  const http = createHttpServer((_request, response) => response.end("http"));
  const grpcServer = countingGrpcServer();
  const listeners = [await listenForClients({ host: "127.0.0.1", port: 0 }, http, grpcServer.makeInjector)];
  listeners.push(await listenForClients({ host: "127.0.0.1", port: 0 }, http, grpcServer.makeInjector));
  try {
    const reply = await fetch(`http://127.0.0.1:${listeners[0]!.port}/`);
    assert.equal(await reply.text(), "http");
    assert.equal(grpcServer.injectorsMade, 0, "an HTTP request asked for the gRPC side");
    const ports = [listeners[0]!.port, listeners[0]!.port, listeners[1]!.port];
    assert.deepEqual(await Promise.all(ports.map((port, i) => echo(port, `call ${i}`))), ["call 0", "call 1", "call 2"]);
    assert.equal(grpcServer.injectorsMade, 2);
  } finally {
    await Promise.all(listeners.map((listener) => listener.close()));
  }
});
