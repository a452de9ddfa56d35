/**
 * The entry point: one Client per cluster, holding the endpoint pool and the
 * HTTP connections, with one namespace per part of the API.
 */
import { ClusterClient } from "./cluster.js";
import { KvClient } from "./kv.js";
import { LeaseClient } from "./lease.js";
import { MaintenanceClient } from "./maintenance.js";
import { NativeClient } from "./native.js";
import { AuthClient } from "./auth.js";
import { Transport, type TransportOptions } from "./transport.js";
import { WatchClient } from "./watch.js";

export type ClientOptions = TransportOptions;

/** The environment variable that lists endpoints, comma-separated (as etcdctl's ETCDCTL_ENDPOINTS). */
export const ENDPOINTS_VARIABLE = "RAFTKV_ENDPOINTS";
export const DEFAULT_ENDPOINTS: readonly string[] = ["http://127.0.0.1:2379"];

export class Client {
  readonly kv: KvClient;
  readonly lease: LeaseClient;
  readonly watch: WatchClient;
  readonly cluster: ClusterClient;
  readonly maintenance: MaintenanceClient;
  /** Users, roles and auth itself (etcd's Auth service). */
  readonly auth: AuthClient;
  /** raftkv's own /v1 key-value routes (raw values, compare-and-set by revision). */
  readonly native: NativeClient;
  private readonly transport: Transport;

  constructor(options: ClientOptions) {
    this.transport = new Transport(options);
    this.kv = new KvClient(this.transport);
    this.lease = new LeaseClient(this.transport);
    this.watch = new WatchClient(this.transport, this.kv);
    this.cluster = new ClusterClient(this.transport);
    this.maintenance = new MaintenanceClient(this.transport);
    this.auth = new AuthClient(this.transport);
    this.native = new NativeClient(this.transport);
  }

  /** A client for the endpoints in RAFTKV_ENDPOINTS, or the local default. */
  static fromEnvironment(options: Omit<ClientOptions, "endpoints"> = {}): Client {
    return new Client({ ...options, endpoints: endpointsFromEnvironment() });
  }

  /** The endpoints, normalized, in the order given. */
  get endpoints(): string[] {
    return this.transport.pool.urls;
  }

  /** Closes the connections; running watches and keep-alives should be closed first. */
  async close(): Promise<void> {
    await this.transport.close();
  }
}

export function endpointsFromEnvironment(environment: NodeJS.ProcessEnv = process.env): string[] {
  const listed = environment[ENDPOINTS_VARIABLE]
    ?.split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  return listed && listed.length > 0 ? listed : [...DEFAULT_ENDPOINTS];
}
