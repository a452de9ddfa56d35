/**
 * Service discovery: instances register under `services/<service>/<id>`
 * with a JSON description, bound to a lease kept alive by heartbeats, so a
 * crashed instance disappears when its lease expires. The layout is the
 * server's /v1/services one, so curl users, this client and the CLI see the
 * same registry. Clients discover instances once, or keep a live view and
 * pick one per request (see ServicePicker).
 */
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Client } from "../client.js";
import type { LeaseLostError } from "../errors.js";
import type { LeaseKeepAlive } from "../lease.js";
import { pauseUnlessAborted } from "../pause.js";
import type { KeyValue } from "../wire.js";
import { ServicePicker, type PickStrategy } from "./picker.js";
import { PrefixMirror, type MirrorChange } from "./prefix-mirror.js";

/** What an instance says about itself. */
export interface InstanceDescription {
  /** Unique within the service; a random UUID by default. */
  readonly id?: string;
  readonly address: string;
  readonly port?: number;
  /** Labels to select instances by; the server's DNS answers `<tag>.<service>.service.<domain>` with those that carry it. */
  readonly tags?: readonly string[];
  /** Anything else: version, zone, `weight` for the weighted picker. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

/** A registered instance, as discovered. */
export interface ServiceInstance {
  readonly id: string;
  readonly address: string;
  readonly port: number | undefined;
  readonly tags: readonly string[] | undefined;
  readonly meta: Readonly<Record<string, unknown>> | undefined;
  readonly lease: number;
}

export type ServiceChange =
  | { readonly kind: "register"; readonly instance: ServiceInstance; readonly revision: number }
  | { readonly kind: "deregister"; readonly id: string; readonly revision: number };

export interface RegisterOptions {
  /** Seconds without a heartbeat before the instance disappears. */
  readonly ttl?: number;
}

export const DEFAULT_SERVICE_TTL_SECONDS = 10;
const REREGISTER_PAUSE_MS = 500;

export class ServiceRegistry {
  constructor(
    private readonly client: Client,
    /** Where services live; the server's /v1/services routes use the default. */
    private readonly root = "services/",
  ) {}

  /** Registers an instance and heartbeats until deregistered; re-registers by itself if its lease is ever lost. */
  async register(service: string, description: InstanceDescription, options: RegisterOptions = {}): Promise<Registration> {
    const id = description.id ?? randomUUID();
    if (id === "" || id.includes("/")) throw new Error(`an instance id must be non-empty and without "/", got ${JSON.stringify(id)}`);
    const key = this.prefix(service) + id;
    const { address, port, tags, meta } = description;
    const value = JSON.stringify({ id, address, port, tags, meta });
    const registration = new Registration(this.client, service, id, key, value, options.ttl ?? DEFAULT_SERVICE_TTL_SECONDS);
    await registration.start();
    return registration;
  }

  /** The instances registered now. */
  async discover(service: string): Promise<ServiceInstance[]> {
    const listing = await this.client.kv.get(this.prefix(service), { prefix: true });
    return listing.kvs.flatMap((kv) => instanceOf(kv) ?? []);
  }

  /** A live view of the service's instances, with change events. */
  async watch(service: string): Promise<ServiceView> {
    const view = new ServiceView(service);
    await view.start(this.client, this.prefix(service));
    return view;
  }

  private prefix(service: string): string {
    if (service === "" || service.includes("/")) throw new Error(`a service name must be non-empty and without "/", got ${JSON.stringify(service)}`);
    return `${this.root}${service}/`;
  }
}

/** A registered instance: heartbeats run until deregister(). */
export class Registration extends EventEmitter<{ lost: [LeaseLostError]; registered: [number] }> {
  private session: LeaseKeepAlive | undefined;
  private readonly stopped = new AbortController();
  /** How many times the instance registered again after losing its lease. */
  reregistrations = 0;

  constructor(
    private readonly client: Client,
    readonly service: string,
    readonly id: string,
    private readonly key: string,
    private readonly value: string,
    private readonly ttl: number,
  ) {
    super();
  }

  async start(): Promise<void> {
    await this.registerOnce();
    void this.keepRegistered();
  }

  /** Stops heartbeating and removes the instance at once. */
  async deregister(): Promise<void> {
    this.stopped.abort();
    await this.session?.revoke();
  }

  private async registerOnce(): Promise<void> {
    const session = await this.client.lease.session(this.ttl);
    try {
      await this.client.kv.put(this.key, this.value, { lease: session.id });
    } catch (error) {
      await session.revoke().catch(() => session.close());
      throw error;
    }
    this.session = session;
    this.emit("registered", session.id);
  }

  /** Each time the lease is lost (a partition longer than the TTL, say), registers again under a new one. */
  private async keepRegistered(): Promise<void> {
    const stop = this.stopped.signal;
    while (!stop.aborted && this.session) {
      const lost = this.session.lost;
      await new Promise((resolve) => {
        const either = AbortSignal.any([lost, stop]);
        either.addEventListener("abort", resolve, { once: true });
      });
      if (stop.aborted) return;
      this.emit("lost", lost.reason as LeaseLostError);
      while (!stop.aborted) {
        try {
          await this.registerOnce();
          this.reregistrations++;
          break;
        } catch {
          await pauseUnlessAborted(REREGISTER_PAUSE_MS, stop);
        }
      }
    }
  }
}

/** The instances of a service, kept live. */
export class ServiceView extends EventEmitter<{ change: [ServiceChange]; stale: [unknown] }> {
  private mirror: PrefixMirror | undefined;

  constructor(readonly service: string) {
    super();
  }

  async start(client: Client, prefix: string): Promise<void> {
    this.mirror = await PrefixMirror.start(client, prefix, {
      change: (change) => this.onChange(change),
      error: (error) => this.emit("stale", error),
    });
  }

  /** The instances registered now, by id. */
  get instances(): ServiceInstance[] {
    return [...(this.mirror?.entries.values() ?? [])].flatMap((kv) => instanceOf(kv) ?? []).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** A picker over this view's instances, following them as they come and go. */
  picker(strategy: PickStrategy): ServicePicker {
    return new ServicePicker(this.service, strategy, () => this.instances);
  }

  close(): void {
    this.mirror?.close();
  }

  private onChange({ key, kv, revision }: MirrorChange): void {
    const instance = kv && instanceOf(kv);
    if (instance) this.emit("change", { kind: "register", instance, revision });
    else if (!kv) this.emit("change", { kind: "deregister", id: idOf(key), revision });
  }
}

/** An instance from its key-value; undefined for a value that is not an instance description. */
export function instanceOf(kv: KeyValue): ServiceInstance | undefined {
  let json: unknown;
  try {
    json = JSON.parse(kv.value.toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isRecord(json) || typeof json.address !== "string") return undefined;
  return {
    id: idOf(kv.key.toString("utf8")),
    address: json.address,
    port: typeof json.port === "number" ? json.port : undefined,
    tags: isTagList(json.tags) ? json.tags : undefined,
    meta: isRecord(json.meta) ? json.meta : undefined,
    lease: kv.lease,
  };
}

function idOf(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

function isTagList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((tag) => typeof tag === "string" && tag !== "");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
