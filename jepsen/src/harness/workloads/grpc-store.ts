/**
 * The store's API over etcd's gRPC services (KV and Watch), with the same
 * meaning as the gateway's: linearizable ranges, puts, a txn of puts behind
 * compares, and a watch stream of a prefix.
 */
import { etcdMethods, failureOf, GrpcChannels, type Method } from "../grpc.js";
import { prefixEnd, txnRequest, type Compare, type StoreApi, type StoredKv, type TxnResult, type WatchedEvent } from "./store.js";

interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly mod_revision: number;
  readonly create_revision: number;
}

interface Header {
  readonly header: { readonly revision: number };
}

interface WatchResponse {
  readonly created: boolean;
  readonly canceled: boolean;
  readonly compact_revision: number;
  readonly cancel_reason: string;
  readonly events: readonly { readonly kv: KeyValue }[];
}

export class GrpcApi implements StoreApi {
  private readonly channels = new GrpcChannels();
  private readonly kv: Readonly<Record<string, Method>>;
  private readonly watchMethod: Method;

  constructor() {
    const methods = etcdMethods();
    this.kv = methods.KV!;
    this.watchMethod = methods.Watch!.Watch!;
  }

  async get(url: string, key: string, timeoutMs: number): Promise<string | undefined> {
    const reply = await this.channels.unary<{ kvs: KeyValue[] }>(url, this.kv.Range!, { key: Buffer.from(key) }, timeoutMs);
    return reply.kvs[0]?.value.toString();
  }

  async put(url: string, key: string, value: string, timeoutMs: number): Promise<number> {
    const reply = await this.channels.unary<Header>(url, this.kv.Put!, { key: Buffer.from(key), value: Buffer.from(value) }, timeoutMs);
    return reply.header.revision;
  }

  async rangePrefix(url: string, prefix: string, timeoutMs: number): Promise<StoredKv[]> {
    const request = { key: Buffer.from(prefix), range_end: Buffer.from(prefixEnd(prefix)) };
    const reply = await this.channels.unary<{ kvs: KeyValue[] }>(url, this.kv.Range!, request, timeoutMs);
    return reply.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString(), modRevision: kv.mod_revision, createRevision: kv.create_revision }));
  }

  async putIf(url: string, compares: readonly Compare[], puts: Readonly<Record<string, string>>, timeoutMs: number): Promise<TxnResult> {
    const request = txnRequest(compares, puts, (text) => Buffer.from(text), Number);
    const reply = await this.channels.unary<Header & { succeeded: boolean }>(url, this.kv.Txn!, request, timeoutMs);
    return { succeeded: reply.succeeded, revision: reply.header.revision };
  }

  async watch(url: string, prefix: string, fromRevision: number, signal: AbortSignal, onMessage: (events: readonly WatchedEvent[]) => void): Promise<void> {
    const call = this.channels.stream(url, this.watchMethod, signal);
    call.write({ create_request: { key: Buffer.from(prefix), range_end: Buffer.from(prefixEnd(prefix)), start_revision: fromRevision } });
    try {
      for await (const message of call as AsyncIterable<WatchResponse>) {
        // The gateway ends its stream on a cancel; here the stream stays open, so end it alike.
        if (message.canceled) throw new Error(`watch canceled: ${message.cancel_reason || `compacted at ${message.compact_revision}`}`);
        onMessage(message.events.map(({ kv }) => ({ revision: kv.mod_revision, key: kv.key.toString(), value: kv.value.toString() })));
      }
    } catch (error) {
      throw error instanceof Error && "code" in error ? failureOf(error) : error;
    } finally {
      call.cancel();
    }
  }

  close(): void {
    this.channels.close();
  }
}
