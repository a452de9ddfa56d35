import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MvccStore, type MvccError, type MvccStoreOptions } from "../../src/index.js";
import type { ApplyResult, KeyValue, Request, ResponseTo, WatchEvent } from "../../src/types.js";

export const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text));
export const text = (value: Uint8Array): string => Buffer.from(value).toString();

/** Applies one committed entry through applyBatch, which answers each entry with its own request's result. */
export async function applyOne<R extends Request>(store: MvccStore, index: number, request: R, requestId?: string): Promise<ApplyResult<R>> {
  const [result] = await store.applyBatch([requestId === undefined ? { index, request } : { index, request, requestId }]);
  return result as ApplyResult<R>;
}

/** A store in a fresh temp directory, fed requests as consecutive raft entries. */
export class Harness {
  private nextIndex = 1;

  private constructor(
    public store: MvccStore,
    readonly dir: string,
    private options: MvccStoreOptions,
  ) {}

  static async open(options: MvccStoreOptions = {}): Promise<Harness> {
    const dir = await mkdtemp(join(tmpdir(), "mvcc-test-"));
    return new Harness(await MvccStore.open(dir, options), dir, options);
  }

  apply<R extends Request>(request: R, requestId?: string): Promise<ApplyResult<R>> {
    return applyOne(this.store, this.nextIndex++, request, requestId);
  }

  /** Applies a request that must succeed; returns its response and events (without previous key-values if `prevKvInEvents` is false). */
  async ok<R extends Request>(request: R, prevKvInEvents = true): Promise<ResponseTo<R> & { events: WatchEvent[] }> {
    const [result] = await this.store.applyBatch([{ index: this.nextIndex++, request }], { prevKvInEvents: () => prevKvInEvents });
    assert(result !== undefined);
    assert.equal(result.status, "applied", result.status === "rejected" ? result.error.message : result.status);
    return { ...(result.response as ResponseTo<R>), events: result.events };
  }

  /** Applies a request that must be rejected; returns the error. */
  async rejected(request: Request): Promise<MvccError> {
    const result = await this.apply(request);
    assert.equal(result.status, "rejected");
    return result.error;
  }

  async put(key: string, value = "v", lease = 0): Promise<number> {
    return (await this.ok({ op: "put", key: bytes(key), value: bytes(value), lease })).revision;
  }

  /** Closes and opens the store again, with other options from now on if given. */
  async reopen(options = this.options): Promise<void> {
    await this.store.close();
    this.options = options;
    this.store = await MvccStore.open(this.dir, options);
  }

  async close(): Promise<void> {
    await this.store.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A KeyValue as plain text fields, for readable assertions. */
export function kvText(kv: KeyValue): { key: string; value: string; create: number; mod: number; version: number; lease: number } {
  return {
    key: text(kv.key),
    value: text(kv.value),
    create: kv.createRevision,
    mod: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

export const keysOf = (kvs: readonly KeyValue[]): string[] => kvs.map((kv) => text(kv.key));

/** Bytes as hex and errors as their messages, recursively: results compare equal whether they came from memory or from LevelDB. */
export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  if (value instanceof Error) return { error: value.message };
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([name, field]) => [name, plain(field)]));
  return value;
}
