/**
 * A stream whose messages each wait for the previous one to reach the
 * socket, as grpc-js's server calls do, sends everything queued behind the
 * message in flight in one go once it has a writev, in order; on a real
 * grpc-js call, as one write that a grpc-js client reads as the messages.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { sendQueuedTogether } from "../src/grpc/send-together.js";

/** Like a grpc-js call: a message is done only when the connection has taken it, a turn later. */
class OneAtATime extends Writable {
  readonly sent: string[] = [];
  inFlight = 0;
  mostInFlight = 0;

  constructor() {
    super({ objectMode: true });
  }

  override _write(message: string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.sent.push(message);
    this.mostInFlight = Math.max(this.mostInFlight, ++this.inFlight);
    setImmediate(() => {
      this.inFlight--;
      done(message === "bad" ? new Error("connection gone") : null);
    });
  }
}

test("messages queued behind the one in flight leave together, in order", async () => {
  const call = new OneAtATime();
  sendQueuedTogether(call);
  const messages = Array.from({ length: 50 }, (_, i) => `m${i}`);
  for (const message of messages) call.write(message);
  await new Promise<void>((resolve) => call.end(resolve));
  assert.deepEqual(call.sent, messages);
  assert.equal(call.mostInFlight, 49, "the 49 queued behind the first should have gone out together");
});

test("without it, they leave one at a time", async () => {
  const call = new OneAtATime();
  for (let i = 0; i < 5; i++) call.write(`m${i}`);
  await new Promise<void>((resolve) => call.end(resolve));
  assert.equal(call.mostInFlight, 1);
});

test("a failed message fails the stream once", async () => {
  const call = new OneAtATime();
  sendQueuedTogether(call);
  const errors: Error[] = [];
  call.on("error", (error) => errors.push(error));
  for (const message of ["first", "bad", "bad", "after"]) call.write(message);
  await new Promise((resolve) => call.once("close", resolve));
  assert.deepEqual(
    errors.map((error) => error.message),
    ["connection gone"],
  );
});

/** A server-streaming method of text messages, the text's UTF-8 bytes on the wire. */
const BURST = {
  Burst: {
    path: "/raftkv.test.Burst/Burst",
    requestStream: false,
    responseStream: true,
    requestSerialize: (message: string) => Buffer.from(message),
    requestDeserialize: (bytes: Buffer) => bytes.toString(),
    responseSerialize: (message: string) => Buffer.from(message),
    responseDeserialize: (bytes: Buffer) => bytes.toString(),
  },
} satisfies grpc.ServiceDefinition;

test("on a grpc-js call, the queued messages go out as one write a grpc-js client reads message by message", async () => {
  const messages = Array.from({ length: 300 }, (_, i) => (i % 50 === 7 ? "" : `m${i} ${"x".repeat(i * 7)}`));
  const modes: string[] = [];
  const server = new grpc.Server();
  server.addService(BURST, {
    Burst: (call: grpc.ServerWritableStream<string, string>) => {
      modes.push(sendQueuedTogether(call));
      for (const message of messages) call.write(message);
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const Client = grpc.makeGenericClientConstructor(BURST, "Burst");
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Burst(request: string): grpc.ClientReadableStream<string>;
  };
  try {
    const received: string[] = [];
    const stream = client.Burst("go");
    stream.on("data", (message: string) => received.push(message));
    await new Promise<void>((resolve, reject) => {
      stream.on("status", (status: grpc.StatusObject) => (status.code === grpc.status.OK ? resolve() : reject(new Error(status.details))));
      stream.on("error", reject);
    });
    assert.deepEqual(modes, ["one write"], "grpc-js's call was not recognised");
    assert.deepEqual(received, messages);
  } finally {
    client.close();
    server.forceShutdown();
  }
});
