/**
 * What a failed request is recorded as, over both wires, against real
 * servers on the loopback: refused connections are `fail` on HTTP and gRPC
 * alike; etcd's "no leader" (HTTP 503, gRPC Unavailable), a timeout and a
 * reset are `info` on both. A put through each wire is recorded the same way.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Recorder } from "../src/harness/recorder.js";
import { GrpcApi } from "../src/harness/workloads/grpc-store.js";
import { gatewayApi, type StoreApi } from "../src/harness/workloads/store.js";

const NO_LEADER = "etcdserver: no leader";
const PROTO_DIR = fileURLToPath(new URL("../../../packages/server/proto/", import.meta.url));

/** What a member does with every request: answer "no leader", hang, drop the connection, or accept a put at revision 7. */
type Behaviour = "no leader" | "hang" | "reset" | "ok";

/** An HTTP server answering the gateway's put as etcd does in each behaviour. */
function gatewayMember(behaviour: Behaviour): Server {
  return createServer((request, response) => {
    if (behaviour === "hang") return;
    if (behaviour === "reset") return request.socket.destroy();
    if (behaviour === "no leader") {
      response.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: NO_LEADER, code: 14, message: NO_LEADER }));
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ header: { revision: "7" } }));
  });
}

/** A gRPC server whose KV.Put behaves alike. */
function grpcMember(behaviour: Behaviour): grpc.Server {
  const packages = grpc.loadPackageDefinition(
    protoLoader.loadSync(["etcdserverpb.proto"], { keepCase: true, longs: Number, defaults: true, includeDirs: [PROTO_DIR] }),
  );
  const kv = ((packages.etcdserverpb as grpc.GrpcObject).KV as grpc.ServiceClientConstructor).service;
  const server = new grpc.Server();
  server.addService(kv, {
    Put: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
      if (behaviour === "hang") return;
      if (behaviour === "reset") return server.forceShutdown();
      if (behaviour === "no leader") return callback({ code: grpc.status.UNAVAILABLE, details: NO_LEADER });
      callback(null, { header: { revision: 7 } });
    },
  });
  return server;
}

async function listenHttp(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function listenGrpc(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return `http://127.0.0.1:${port}`;
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<string> {
  const server = createServer();
  const url = await listenHttp(server);
  await new Promise((resolve) => server.close(resolve));
  return url;
}

/** How one put through `api` to `url` is recorded. */
async function recordedPut(api: StoreApi, url: string): Promise<string> {
  const recorder = new Recorder();
  const completion = await recorder.perform(0, { f: "write", key: "k", value: 1 }, async () => {
    await api.put(url, "k", "1", 500);
    return { type: "ok" };
  });
  return completion.type;
}

describe("how failed requests are recorded, over HTTP and gRPC alike", () => {
  const grpcApi = new GrpcApi();
  const httpServers: Server[] = [];
  const grpcServers: grpc.Server[] = [];
  const urls = new Map<string, string>();
  const behaviours: readonly Behaviour[] = ["no leader", "hang", "reset", "ok"];

  before(async () => {
    for (const behaviour of behaviours) {
      const http = gatewayMember(behaviour);
      httpServers.push(http);
      urls.set(`http ${behaviour}`, await listenHttp(http));
      const rpc = grpcMember(behaviour);
      grpcServers.push(rpc);
      urls.set(`grpc ${behaviour}`, await listenGrpc(rpc));
    }
  });

  after(async () => {
    grpcApi.close();
    for (const server of grpcServers) server.forceShutdown();
    for (const server of httpServers) server.closeAllConnections();
    await Promise.all(httpServers.map((server) => new Promise((resolve) => server.close(resolve))));
  });

  const wires: readonly [string, () => StoreApi][] = [
    ["http", () => gatewayApi],
    ["grpc", () => grpcApi],
  ];
  for (const [wire, api] of wires) {
    test(`${wire}: a refused connection is a fail, the request never having been sent`, async () => {
      assert.equal(await recordedPut(api(), await closedPort()), "fail");
    });

    test(`${wire}: etcd's "no leader", a timeout and a reset are info`, async () => {
      for (const behaviour of ["no leader", "hang", "reset"] as const) {
        assert.equal(await recordedPut(api(), urls.get(`${wire} ${behaviour}`)!), "info", behaviour);
      }
    });

    test(`${wire}: an answered put is ok and gives its revision`, async () => {
      assert.equal(await recordedPut(api(), urls.get(`${wire} ok`)!), "ok");
      assert.equal(await api().put(urls.get(`${wire} ok`)!, "k", "1", 500), 7);
    });
  }
});
