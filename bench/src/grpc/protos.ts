/**
 * etcd's KV and Watch services as a client sees them, loaded at run time
 * from raftkv's own .proto files (which carry etcd's wire names and field
 * numbers), so that raftkv and etcd are sent byte-for-byte the same messages.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Security } from "./jobs.js";

const PROTO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../packages/server/proto");

/**
 * Replies with only the fields that are set (no defaults filled in: less
 * work per decoded message, which matters for the watchers' event flood),
 * int64 as numbers, a oneof's set field named by the oneof.
 */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true, includeDirs: [PROTO_DIR] };

export type Message = Record<string, any>;
export type EtcdClient = grpc.Client & Record<string, any>;

let etcdserverpb: grpc.GrpcObject | undefined;

function service(name: "KV" | "Watch"): grpc.ServiceClientConstructor {
  etcdserverpb ??= grpc.loadPackageDefinition(protoLoader.loadSync("etcdserverpb.proto", LOADER_OPTIONS)).etcdserverpb as grpc.GrpcObject;
  return etcdserverpb[name] as grpc.ServiceClientConstructor;
}

/**
 * A client on an HTTP/2 connection of its own (grpc-js otherwise shares one
 * connection among all clients of a process that name the same address, and
 * the pool's size is part of what is measured), without grpc-js's retry and
 * channelz bookkeeping, which cost the generator CPU and serve no purpose here.
 */
const CHANNEL_OPTIONS: grpc.ChannelOptions = { "grpc.use_local_subchannel_pool": 1, "grpc.enable_retries": 0, "grpc.enable_channelz": 0 };

export function connect(name: "KV" | "Watch", address: string, security: Security = {}): EtcdClient {
  const Client = service(name);
  return new Client(address, credentialsFor(security), CHANNEL_OPTIONS) as EtcdClient;
}

/** Plain text; TLS trusting the cluster's CA; and with a token, etcd's `token` metadata on every call (grpc-js sends call credentials only over TLS). */
function credentialsFor({ caPem, token }: Security): grpc.ChannelCredentials {
  if (caPem === undefined) return grpc.credentials.createInsecure();
  const tls = grpc.credentials.createSsl(Buffer.from(caPem));
  if (token === undefined) return tls;
  const withToken = grpc.credentials.createFromMetadataGenerator((_call, done) => {
    const metadata = new grpc.Metadata();
    metadata.set("token", token);
    done(null, metadata);
  });
  return grpc.credentials.combineChannelCredentials(tls, withToken);
}

/** A unary call as a promise. */
export function call(client: EtcdClient, method: "Put" | "Range", request: Message): Promise<Message> {
  return new Promise((resolveCall, reject) => {
    client[method](request, (error: grpc.ServiceError | null, reply: Message) => (error ? reject(error) : resolveCall(reply)));
  });
}

/** Resolves once the client's connection is up, so that connecting is not measured. */
export function ready(client: grpc.Client, timeoutMs: number): Promise<void> {
  return new Promise((resolveReady, reject) => client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolveReady())));
}
