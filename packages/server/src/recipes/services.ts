/**
 * A service registry on the KV API: each instance is the key
 * `services/<name>/<id>` holding its JSON description, bound to a lease of
 * its own. An instance that stops heartbeating disappears by itself when
 * its lease expires, so every listed instance is a live one.
 */
import { randomUUID } from "node:crypto";
import { GrpcCode, RaftkvError, invalidArgument } from "../errors.js";
import type { Event, KeyValue, KvApi } from "../kv/api.js";
import { fromUtf8, prefixEnd, putRequest, rangeRequest, revokeKeyWithLease, utf8 } from "./kv.js";

export const DEFAULT_SERVICE_TTL_SECONDS = 10;

/** What an instance says about itself: stored when it registers, listed as it is. */
interface InstanceDescription {
  readonly id: string;
  readonly address: string;
  readonly port?: number;
  /** Labels to select instances by (DNS answers `<tag>.<service>.service.<domain>` with those that carry it). */
  readonly tags?: readonly string[];
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** A registration: the description, and how long it lives without a heartbeat. */
export interface Registration extends InstanceDescription {
  readonly ttl: number;
}

/** A registered instance, as listed: the description, and the lease it lives under. */
export interface Instance extends InstanceDescription {
  readonly lease: number;
}

/** A change to a service's instances, as a watcher hears it. */
export type ServiceChange =
  | { readonly kind: "register"; readonly revision: number; readonly instance: Instance }
  | { readonly kind: "deregister"; readonly revision: number; readonly id: string };

export function servicePrefix(service: string): Uint8Array {
  return utf8(`services/${service}/`);
}

export function instanceKey(service: string, id: string): Uint8Array {
  return utf8(`services/${service}/${id}`);
}

/** Validates a registration body: `{id?, address, port?, tags?, meta?, ttl?}`. */
export function parseRegistration(body: Uint8Array): Registration {
  let json: unknown;
  try {
    json = body.byteLength === 0 ? undefined : JSON.parse(fromUtf8(body));
  } catch (error) {
    throw invalidArgument(`invalid JSON body: ${(error as Error).message}`);
  }
  if (!isObject(json)) throw invalidArgument('a registration is a JSON object: {"address": …, "port"?, "id"?, "tags"?, "meta"?, "ttl"?}');
  const { id = randomUUID(), address, port, tags, meta, ttl = DEFAULT_SERVICE_TTL_SECONDS } = json;
  if (typeof id !== "string" || id === "" || id.includes("/")) throw invalidArgument('"id" must be a non-empty string without "/"');
  if (typeof address !== "string" || address === "") throw invalidArgument('"address" must be a non-empty string');
  if (port !== undefined && !isIntegerBetween(port, 0, 65535)) throw invalidArgument('"port" must be an integer from 0 to 65535');
  if (tags !== undefined && !isTagList(tags)) throw invalidArgument('"tags" must be an array of non-empty strings');
  if (meta !== undefined && !isObject(meta)) throw invalidArgument('"meta" must be a JSON object');
  if (!isIntegerBetween(ttl, 1, Number.MAX_SAFE_INTEGER)) throw invalidArgument('"ttl" must be a whole number of seconds, at least 1');
  return { id, address, port, tags, meta, ttl };
}

/** Registers (or re-registers) an instance under a fresh lease of `ttl` seconds. */
export async function registerInstance(api: KvApi, service: string, registration: Registration): Promise<{ lease: number; ttl: number; revision: number }> {
  const { id, address, port, tags, meta, ttl } = registration;
  const grant = await api.leaseGrant(ttl, 0);
  const description = utf8(JSON.stringify({ id, address, port, tags, meta }));
  try {
    const put = await api.put(putRequest(instanceKey(service, id), description, { lease: grant.id }));
    return { lease: grant.id, ttl: grant.ttl, revision: put.header.revision };
  } catch (error) {
    await api.leaseRevoke(grant.id).catch(() => undefined);
    throw error;
  }
}

/** Renews an instance's lease; without `lease`, the instance's key tells which. */
export async function heartbeat(api: KvApi, service: string, id: string, lease?: number): Promise<{ lease: number; ttl: number }> {
  const renewed = await api.leaseKeepAlive(lease ?? (await findInstance(api, service, id)).lease);
  return { lease: renewed.id, ttl: renewed.ttl };
}

/** Deregisters an instance by revoking its lease, which deletes its key. */
export async function deregisterInstance(api: KvApi, service: string, id: string): Promise<{ revision: number }> {
  const header = await revokeKeyWithLease(api, await findInstance(api, service, id));
  return { revision: header.revision };
}

/** Lists a service's instances; `serializable` reads this member's state as it stands, without asking the leader. */
export async function listInstances(api: KvApi, service: string, { serializable = false } = {}): Promise<{ revision: number; instances: Instance[] }> {
  const prefix = servicePrefix(service);
  const reply = await api.range(rangeRequest(prefix, { rangeEnd: prefixEnd(prefix), serializable }));
  return { revision: reply.header.revision, instances: reply.kvs.flatMap((kv) => instanceOf(kv) ?? []) };
}

/** An instance from its key-value; undefined for a value that is not one (written by something else). */
export function instanceOf(kv: KeyValue): Instance | undefined {
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(kv.value));
  } catch {
    return undefined;
  }
  if (!isObject(json) || typeof json.address !== "string") return undefined;
  const port = typeof json.port === "number" ? json.port : undefined;
  const tags = isTagList(json.tags) ? json.tags : undefined;
  const meta = isObject(json.meta) ? json.meta : undefined;
  return { id: idOf(kv.key), address: json.address, port, tags, meta, lease: kv.lease };
}

/** What a watch event under a service's prefix means; undefined for a value that is not an instance. */
export function serviceChangeOf(event: Event): ServiceChange | undefined {
  const revision = event.kv.modRevision;
  if (event.type === "DELETE") return { kind: "deregister", revision, id: idOf(event.kv.key) };
  const instance = instanceOf(event.kv);
  return instance && { kind: "register", revision, instance };
}

async function findInstance(api: KvApi, service: string, id: string): Promise<KeyValue> {
  const kv = (await api.range(rangeRequest(instanceKey(service, id)))).kvs[0];
  if (!kv) throw new RaftkvError(GrpcCode.NotFound, `service "${service}" has no instance "${id}"`);
  return kv;
}

/** The instance id: the last segment of `services/<name>/<id>`. */
function idOf(key: Uint8Array): string {
  const path = fromUtf8(key);
  return path.slice(path.lastIndexOf("/") + 1);
}

function isIntegerBetween(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

function isTagList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((tag) => typeof tag === "string" && tag !== "");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
