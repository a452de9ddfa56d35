/**
 * A stream whose messages each wait for the previous one to reach the
 * socket, as grpc-js's server calls do, sends everything queued behind the
 * message in flight in one go once it has a writev, in order.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
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
