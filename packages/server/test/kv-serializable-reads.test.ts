/**
 * Serializable reads over the real services and store: the reads that arrive
 * in one event-loop turn are served together once that turn's I/O has been
 * read, so that their replies leave together (see KvService's range).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { rangeRequest } from "../src/recipes/kv.js";
import { oneMemberServices, type ServicesFixture } from "./support/services.js";

const text = (value: string): Uint8Array => Buffer.from(value);
const checkPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("serializable reads", () => {
  let services: ServicesFixture;
  before(async () => {
    services = await oneMemberServices();
    await services.kv.put({ key: text("k"), value: text("v"), lease: 0, prevKv: false, ignoreValue: false, ignoreLease: false });
  });
  after(async () => services?.close());

  test("the reads of one turn are answered together, after the turn's I/O, with the local value", async () => {
    const answered: string[] = [];
    const queuedBeforeTheReads = checkPhase();
    const reads = [1, 2, 3].map(async (n) => {
      const response = await services.kv.range(rangeRequest(text("k"), { serializable: true }));
      answered.push(`${n}:${Buffer.from(response.kvs[0]?.value ?? []).toString()}`);
    });
    const queuedAfterTheReads = checkPhase();

    await queuedBeforeTheReads;
    assert.deepEqual(answered, [], "no read is answered while the turn's I/O may still bring others");
    await queuedAfterTheReads;
    assert.deepEqual(answered, ["1:v", "2:v", "3:v"]);
    await Promise.all(reads);
  });
});
