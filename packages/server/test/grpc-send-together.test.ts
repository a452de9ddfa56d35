/**
 * A batch of messages goes out in order: on a real grpc-js call as one
 * write of grpc-js's framing that a grpc-js client reads message by
 * message, on any other stream as a write each, the batch done once the
 * last is.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { batchWriterOf } from "../src/grpc/send-together.js";

/** Text messages in gRPC's framing: a zero flag byte, the length in four bytes big-endian, the UTF-8 bytes. */
function frameTexts(messages: readonly string[]): Buffer {
  return Buffer.concat(
    messages.map((message) => {
      const bytes = Buffer.from(message);
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(bytes.length, 1);
      return Buffer.concat([prefix, bytes]);
    }),
  );
}

/** Like a grpc-js call: a message is done only when the connection has taken it, a turn later. */
class OneAtATime extends Writable {
  readonly sent: string[] = [];

  constructor() {
    super({ objectMode: true });
  }

  override _write(message: string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.sent.push(message);
    setImmediate(() => done(null));
  }
}

test("on another stream, a batch is a write each, done once the last has gone", async () => {
  const call = new OneAtATime();
  const writer = batchWriterOf(call, frameTexts);
  assert.equal(writer.mode, "a write each");
  const messages = Array.from({ length: 20 }, (_, i) => `m${i}`);
  await new Promise<void>((resolve) => writer.write(messages, resolve));
  assert.deepEqual(call.sent, messages);
});

test("on an ended stream, a batch is dropped rather than failing the stream", async () => {
  const call = new OneAtATime();
  const errors: Error[] = [];
  call.on("error", (error) => errors.push(error));
  await new Promise<void>((resolve) => call.end(resolve));
  batchWriterOf(call, frameTexts).write(["late"], () => assert.fail("a dropped batch is never done"));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual([call.sent, errors], [[], []]);
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

test("on a grpc-js call, batches go out as one write each that a grpc-js client reads message by message", async () => {
  const messages = Array.from({ length: 300 }, (_, i) => (i % 50 === 7 ? "" : `m${i} ${"x".repeat(i * 7)}`));
  const modes: string[] = [];
  const server = new grpc.Server();
  server.addService(BURST, {
    Burst: (call: grpc.ServerWritableStream<string, string>) => {
      const writer = batchWriterOf(call, frameTexts);
      modes.push(writer.mode);
      writer.write(messages.slice(0, 100), () => writer.write(messages.slice(100), () => call.end()));
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
