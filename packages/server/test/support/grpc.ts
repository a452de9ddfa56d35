/**
 * gRPC tests' shared parts: an in-process member, grpc-js clients of etcd's
 * services from the same .proto files the member serves, and calls and
 * streams as promises.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import pino from "pino";
import { defaultConfig, type NodeConfig } from "../../src/config.js";
import { startNode, type RaftkvNode } from "../../src/node.js";

const PROTO_DIR = fileURLToPath(new URL("../../../proto/", import.meta.url));
const packages = grpc.loadPackageDefinition(
  protoLoader.loadSync(["etcdserverpb.proto", "v3lockpb.proto", "v3electionpb.proto"], {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_DIR],
  }),
);
/** Services by name: etcdserverpb's, and Lock and Election from their own packages. */
const SERVICES: Record<string, grpc.GrpcObject> = {
  Lock: packages.v3lockpb as grpc.GrpcObject,
  Election: packages.v3electionpb as grpc.GrpcObject,
};

// biome-ignore lint/suspicious/noExplicitAny: gRPC messages come from proto-loader at run time, typed by the .proto files
export type Message = Record<string, any>;
// biome-ignore lint/suspicious/noExplicitAny: gRPC messages come from proto-loader at run time, typed by the .proto files
export type Client = grpc.Client & Record<string, any>;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Member {
  readonly node: RaftkvNode;
  /** host:port of its client URL. */
  readonly address: string;
  stop(): Promise<void>;
}

/** One member, started in this process; `peers` other (never started) members leave it without a leader. */
export async function startMember(peers = 0, overrides: Partial<NodeConfig> = {}): Promise<Member> {
  const dataDir = await mkdtemp(join(tmpdir(), "raftkv-grpc-"));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const absent = await Promise.all(Array.from({ length: peers }, async (_, i) => [`absent${i}`, `http://127.0.0.1:${await freePort()}`] as const));
  const node = await startNode(
    defaultConfig({
      name: "solo",
      dataDir,
      listenClientUrls: [`http://127.0.0.1:${clientPort}`],
      listenPeerUrls: [peerUrl],
      initialCluster: new Map([["solo", peerUrl], ...absent]),
      heartbeatIntervalMs: 20,
      electionTimeoutMs: 200,
      ...overrides,
    }),
    { logger: pino({ level: "silent" }) },
  );
  return {
    node,
    address: `127.0.0.1:${clientPort}`,
    stop: async () => {
      await node.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function serviceClient(service: string): grpc.ServiceClientConstructor {
  return (SERVICES[service] ?? (packages.etcdserverpb as grpc.GrpcObject))[service] as grpc.ServiceClientConstructor;
}

/** A method's definition as grpc-js serves it from the .proto files: its protobufjs serializers among others. */
export function methodOf(service: string, method: string): grpc.MethodDefinition<Message, Message> {
  return serviceClient(service).service[method]!;
}

export function clientOf(service: string, address: string, options: grpc.ChannelOptions = {}): Client {
  const Constructor = serviceClient(service);
  return new Constructor(address, grpc.credentials.createInsecure(), options) as Client;
}

/** Repeats `request` while it fails with 'no leader', for up to 10 s. */
export async function untilLeader<T>(request: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await request();
    } catch (error) {
      if ((error as { code?: number }).code !== grpc.status.UNAVAILABLE || Date.now() > deadline) throw error;
    }
  }
}

export function call(client: Client, method: string, request: Message, metadata = new grpc.Metadata()): Promise<Message> {
  return new Promise((resolve, reject) =>
    client[method](request, metadata, (error: Error | null, response: Message) => (error ? reject(error) : resolve(response))),
  );
}

export async function rejection(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: number; details: string };
  }
  throw new Error("the call succeeded");
}

/** Reads a stream's messages until `enough` says so. */
export function collect(
  stream: grpc.ClientReadableStream<Message> | grpc.ClientDuplexStream<Message, Message>,
  enough: (messages: Message[]) => boolean,
): Promise<Message[]> {
  const messages: Message[] = [];
  return new Promise((resolve, reject) => {
    stream.on("data", (message: Message) => {
      messages.push(message);
      if (enough(messages)) resolve(messages);
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(messages));
  });
}

export const bytes = (text: string) => Buffer.from(text);

/** A stream's messages as they come: `atLeast(n)` resolves once n have come, and fails if the stream fails first. */
export function messagesOf(stream: grpc.ClientReadableStream<Message> | grpc.ClientDuplexStream<Message, Message>): {
  atLeast(count: number): Promise<Message[]>;
} {
  const messages: Message[] = [];
  let failure: Error | undefined;
  const waiting = new Set<() => void>();
  const wake = (): void => {
    for (const check of waiting) check();
  };
  stream.on("data", (message: Message) => {
    messages.push(message);
    wake();
  });
  stream.on("error", (error: Error) => {
    failure = error;
    wake();
  });
  return {
    atLeast: (count) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (messages.length >= count) resolve(messages.slice(0, count));
          else if (failure) reject(failure);
          else return;
          waiting.delete(check);
        };
        waiting.add(check);
        check();
      }),
  };
}
