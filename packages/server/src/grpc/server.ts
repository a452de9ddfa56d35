/**
 * The gRPC server: etcd's services from our .proto files (loaded with
 * @grpc/proto-loader, no generated code, when the first gRPC client
 * connects: see client-api.ts), served on connections the client listener
 * hands over (see listener.ts).
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { packagePath } from "../package-files.js";
import { MAX_REQUEST_BYTES } from "../recipes/kv.js";
import { authService } from "./auth-service.js";
import { clusterService, maintenanceService } from "./cluster-services.js";
import { kvService, leaseService } from "./kv-services.js";
import { electionService, lockService } from "./recipe-services.js";
import type { GrpcServices } from "./services.js";
import { encodeWatchResponse } from "./watch-encoding.js";
import { watchService } from "./watch-stream.js";

const PROTO_DIR = packagePath("proto/");
const PROTO_FILES = ["etcdserverpb.proto", "v3lockpb.proto", "v3electionpb.proto"];

/** etcd takes requests up to --max-request-bytes plus this much gRPC framing. */
const GRPC_OVERHEAD_BYTES = 512 * 1024;

/**
 * How messages look to the handlers (see codec.ts): proto field names,
 * int64 as numbers (revisions and ids stay below 2^53), enums by name,
 * absent fields at their defaults, a oneof's set field named by the oneof.
 */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

type ServiceDefinitions = Record<string, grpc.ServiceDefinition>;

function loadServices(): ServiceDefinitions {
  const packages = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS));
  const service = (pkg: string, name: string): grpc.ServiceDefinition => ((packages[pkg] as grpc.GrpcObject)[name] as grpc.ServiceClientConstructor).service;
  return {
    KV: service("etcdserverpb", "KV"),
    Watch: withWatchEncoding(service("etcdserverpb", "Watch")),
    Lease: service("etcdserverpb", "Lease"),
    Cluster: service("etcdserverpb", "Cluster"),
    Maintenance: service("etcdserverpb", "Maintenance"),
    Auth: service("etcdserverpb", "Auth"),
    Lock: service("v3lockpb", "Lock"),
    Election: service("v3electionpb", "Election"),
  };
}

/** Watch's responses are encoded by hand (see watch-encoding.ts); its requests as every other message. */
function withWatchEncoding(watch: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return { ...watch, Watch: { ...watch.Watch!, responseSerialize: encodeWatchResponse } };
}

export function createGrpcServer(services: GrpcServices): grpc.Server {
  const definitions = loadServices();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_REQUEST_BYTES + GRPC_OVERHEAD_BYTES,
    // Nothing reads channelz here, and it costs every call and every message sent (counters and a clock read each).
    "grpc.enable_channelz": 0,
  });
  const implementations = {
    KV: kvService(services),
    Watch: watchService(services),
    Lease: leaseService(services),
    Cluster: clusterService(services),
    Maintenance: maintenanceService(services),
    Auth: authService(services),
    Lock: lockService(services),
    Election: electionService(services),
  };
  for (const [name, implementation] of Object.entries(implementations)) server.addService(definitions[name] as grpc.ServiceDefinition, implementation);
  return server;
}
