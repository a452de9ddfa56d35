/**
 * Our .proto files against etcd 3.4's own: an etcd binary carries the
 * descriptors of its .proto files (gzipped, as Go's protobuf registers
 * them). Every message, field (name, number, type, label, message type),
 * enum value and method of etcd's client API must be ours too, and we
 * declare nothing etcd does not. Skipped where no etcd binary is installed.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import * as protoLoader from "@grpc/proto-loader";

const ETCD = "/usr/bin/etcd";
const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));
/** etcd's files that hold the client API, by the names it registers them under. */
const CLIENT_API_FILES = ["rpc.proto", "kv.proto", "auth.proto", "v3lock.proto", "v3election.proto"];
/** etcd's internal messages, in rpc.proto but in no client call: carried by its Raft log only. */
const INTERNAL = ["etcdserverpb.LeaseCheckpoint", "etcdserverpb.LeaseCheckpointRequest", "etcdserverpb.LeaseCheckpointResponse"];
/** The gzip header Go writes (no name, no time, best compression, unknown OS). */
const GO_GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x02, 0xff]);
const LOADER = { keepCase: true };

/** The FileDescriptorProtos in a Go binary, by file name. */
function registeredDescriptors(binary: Buffer): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  for (let at = binary.indexOf(GO_GZIP_HEADER); at >= 0; at = binary.indexOf(GO_GZIP_HEADER, at + 1)) {
    let descriptor: Buffer;
    try {
      // Whatever follows the gzip member is ignored.
      descriptor = gunzipSync(binary.subarray(at, at + 1024 * 1024));
    } catch {
      continue;
    }
    // Field 1 of a FileDescriptorProto, its name, comes first.
    if (descriptor[0] === 0x0a) found.set(descriptor.subarray(2, 2 + descriptor[1]!).toString(), descriptor);
  }
  return found;
}

/** A FileDescriptorSet: each file as its field 1. */
function descriptorSet(files: readonly Buffer[]): Buffer {
  return Buffer.concat(files.flatMap((file) => [Buffer.from([0x0a]), varint(file.length), file]));
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 0x80)) bytes.push((value % 0x80) | 0x80);
  bytes.push(value);
  return Buffer.from(bytes);
}

interface Descriptor {
  readonly field?: readonly { name: string; number: number; type: string; label: string; typeName: string }[];
  readonly value?: readonly { name: string; number: number }[];
}

/** Every message, enum and method of a package definition, as comparable lines. */
function shape(definition: protoLoader.PackageDefinition): string[] {
  const lines: string[] = [];
  for (const [name, entry] of Object.entries(definition)) {
    if ("format" in entry) {
      const type = entry.type as Descriptor;
      for (const f of type.field ?? []) lines.push(`${name}.${f.name} = ${f.number} ${f.label} ${f.type} ${f.typeName}`.trimEnd());
      for (const v of type.value ?? []) lines.push(`${name}.${v.name} = ${v.number}`);
      if (!type.field?.length && !type.value?.length) lines.push(`${name} {}`);
    } else {
      for (const [method, m] of Object.entries(entry as protoLoader.ServiceDefinition)) {
        const [request, response] = [m.requestType, m.responseType].map((message) => (message.type as { name: string }).name);
        lines.push(`${name}/${method}(${m.requestStream ? "stream " : ""}${request}) ${m.responseStream ? "stream " : ""}${response}`);
      }
    }
  }
  return lines.sort();
}

const CLIENT_PACKAGES = /^(etcdserverpb|mvccpb|authpb|v3lockpb|v3electionpb)\./;

test("our .proto files declare etcd 3.4's client API exactly, as the etcd binary registers it", { skip: !existsSync(ETCD) && "no etcd binary" }, () => {
  const registered = registeredDescriptors(readFileSync(ETCD));
  const files = CLIENT_API_FILES.map((name) => registered.get(name) ?? assert.fail(`${name} not found in ${ETCD}`));
  const theirs = shape(protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(files), LOADER))
    .filter((line) => CLIENT_PACKAGES.test(line))
    .filter((line) => !INTERNAL.some((name) => line.startsWith(`${name}.`) || line.startsWith(`${name} `)));
  const ours = shape(protoLoader.loadSync(["etcdserverpb.proto", "v3lockpb.proto", "v3electionpb.proto"], { ...LOADER, includeDirs: [PROTO_DIR] }));
  assert.ok(
    theirs.some((line) => line.startsWith("etcdserverpb.Auth/RoleRevokePermission(")),
    "etcd's Auth service was read",
  );
  assert.deepEqual(ours, theirs);
});
