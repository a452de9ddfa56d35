/**
 * Application configuration under a prefix, loaded into an object and kept
 * live: `config/app/db.url` becomes `values["db.url"]`. Each change after
 * the load is applied, then announced as a `change` event; the object a
 * reader got earlier is never mutated, so a reader sees one consistent
 * revision until it asks again.
 */
import { EventEmitter } from "node:events";
import type { Bytes } from "../bytes.js";
import type { Client } from "../client.js";
import type { ResponseHeader } from "../wire.js";
import { PrefixMirror, type MirrorChange } from "./prefix-mirror.js";

export interface ConfigChange<T> {
  /** The name under the prefix. */
  readonly name: string;
  /** undefined once deleted. */
  readonly value: T | undefined;
  readonly previous: T | undefined;
  readonly revision: number;
}

export interface ConfigStoreOptions<T> {
  /** Turns a stored value into the application's; text by default. A value it throws on is left out and reported as `invalid`. */
  readonly decode?: (raw: Buffer, name: string) => T;
}

type ConfigEvents<T> = {
  change: [ConfigChange<T>];
  /** A stored value the decoder refused: it is left out of `values`. */
  invalid: [{ name: string; error: unknown }];
  /** The watch failed; the values may be stale until it recovers by itself. */
  stale: [unknown];
};

export class ConfigStore<T = string> extends EventEmitter<ConfigEvents<T>> {
  private readonly decoded = new Map<string, T>();
  private current: Readonly<Record<string, T>> = {};
  private mirror: PrefixMirror | undefined;

  private constructor(
    private readonly client: Client,
    readonly prefix: string,
    private readonly decode: (raw: Buffer, name: string) => T,
  ) {
    super();
  }

  /** Loads the prefix and keeps it live until close(). */
  static async open<T = string>(client: Client, prefix: string, options: ConfigStoreOptions<T> = {}): Promise<ConfigStore<T>> {
    const decode = options.decode ?? ((raw: Buffer) => raw.toString("utf8") as T);
    const store = new ConfigStore<T>(client, prefix, decode);
    store.mirror = await PrefixMirror.start(client, prefix, {
      change: (change) => store.onChange(change),
      error: (error) => store.emit("stale", error),
    });
    for (const [key, kv] of store.mirror.entries) store.decodeInto(key.slice(prefix.length), kv.value);
    store.current = Object.freeze(Object.fromEntries(store.decoded));
    return store;
  }

  /** Every setting, as of `revision`; a fresh object after each change. */
  get values(): Readonly<Record<string, T>> {
    return this.current;
  }

  /** The store revision the values reflect. */
  get revision(): number {
    return this.mirror?.revision ?? 0;
  }

  /** Writes a setting; resolves once this store reflects it. */
  async set(name: string, value: Bytes): Promise<ResponseHeader> {
    const { header } = await this.client.kv.put(this.prefix + name, value);
    await this.mirror?.reached(header.revision);
    return header;
  }

  /** Deletes a setting; resolves once this store reflects it. */
  async delete(name: string): Promise<ResponseHeader> {
    const { header, deleted } = await this.client.kv.delete(this.prefix + name);
    if (deleted > 0) await this.mirror?.reached(header.revision);
    return header;
  }

  close(): void {
    this.mirror?.close();
  }

  private onChange({ key, kv, revision }: MirrorChange): void {
    const name = key.slice(this.prefix.length);
    const previous = this.decoded.get(name);
    this.decoded.delete(name);
    if (kv) this.decodeInto(name, kv.value);
    this.current = Object.freeze(Object.fromEntries(this.decoded));
    this.emit("change", { name, value: this.decoded.get(name), previous, revision });
  }

  private decodeInto(name: string, raw: Buffer): void {
    try {
      this.decoded.set(name, this.decode(raw, name));
    } catch (error) {
      this.emit("invalid", { name, error });
    }
  }
}
