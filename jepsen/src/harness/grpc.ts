/**
 * The harness's gRPC calls to the store: etcd's services, defined by the
 * .proto files the server serves them from (read by path, loaded at run
 * time), one channel per member. Failures become RequestFailures naming what
 * the client saw, like http.ts's, for outcome.ts to judge.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { RequestFailure, type FailureCause } from "./outcome.js";

const PROTO_DIR = fileURLToPath(new URL("../../../../packages/server/proto/", import.meta.url));

/**
 * Messages with proto field names, int64 as numbers (revisions stay below
 * 2^53), enums by name, absent fields at their defaults.
 */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

/**
 * A restarted member is dialled again within a second (grpc-js would back
 * off up to two minutes), and a final read of a large set is not refused
 * for its size.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
  "grpc.max_receive_message_length": -1,
  // Members are on this machine: a proxy named in the environment must not carry the calls.
  "grpc.enable_http_proxy": 0,
};

/** grpc-js's status when no connection was ready to carry a call: the call was never sent. */
const NOT_SENT = /No connection established/;

export type Method = grpc.MethodDefinition<object, object>;

/** etcdserverpb's methods the harness calls, by service and name. */
export function etcdMethods(): Readonly<Record<string, Readonly<Record<string, Method>>>> {
  const packages = grpc.loadPackageDefinition(protoLoader.loadSync(["etcdserverpb.proto"], LOADER_OPTIONS));
  const etcd = packages.etcdserverpb as grpc.GrpcObject;
  const service = (name: string) => (etcd[name] as grpc.ServiceClientConstructor).service as Record<string, Method>;
  return { KV: service("KV"), Watch: service("Watch") };
}

/** One channel per member's client URL, opened on first use. */
export class GrpcChannels {
  private readonly clients = new Map<string, grpc.Client>();

  /** Calls a unary method on the member at `url`, giving up after `timeoutMs`. */
  unary<Reply>(url: string, method: Method, request: object, timeoutMs: number): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.client(url).makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (error, reply) => (error ? reject(failureOf(error)) : resolve(reply as Reply)),
      );
    });
  }

  /** Opens a bidirectional stream to the member at `url`; it is cancelled when `signal` aborts. */
  stream(url: string, method: Method, signal: AbortSignal): grpc.ClientDuplexStream<object, object> {
    const call = this.client(url).makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, new grpc.Metadata(), {});
    if (signal.aborted) call.cancel();
    else signal.addEventListener("abort", () => call.cancel(), { once: true });
    return call;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(url: string): grpc.Client {
    let client = this.clients.get(url);
    if (client === undefined) {
      client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.clients.set(url, client);
    }
    return client;
  }
}

/** A failed call as a RequestFailure, its cause read from the status. */
export function failureOf(error: unknown): RequestFailure {
  const status = error as Partial<grpc.StatusObject>;
  const details = status.details ?? (error instanceof Error ? error.message : String(error));
  return new RequestFailure(causeOf(status.code, details), `gRPC ${grpc.status[status.code ?? grpc.status.UNKNOWN] ?? status.code}: ${details}`);
}

function causeOf(code: grpc.status | undefined, details: string): FailureCause {
  switch (code) {
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
      return "timed out";
    case grpc.status.UNAVAILABLE:
      if (NOT_SENT.test(details)) return "not sent";
      // etcd's own Unavailable answers ("etcdserver: no leader") came from a member; anything else is the connection's.
      return details.startsWith("etcdserver:") ? "error answer" : "connection lost";
    default:
      return "error answer";
  }
}
