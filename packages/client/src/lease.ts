/**
 * Leases: grant, revoke, renew, inspect, list; and the keep-alive loop that
 * renews a lease every third of its TTL through whichever member answers,
 * and says when the lease is lost: the cluster reports it gone, or no
 * renewal got through for a whole TTL (it may have expired meanwhile).
 */
import { EventEmitter } from "node:events";
import { fromBase64, toNumber } from "./bytes.js";
import { EtcdError, LeaseLostError } from "./errors.js";
import { pauseUnlessAborted } from "./pause.js";
import type { CallOptions, Transport } from "./transport.js";
import { describe } from "./transport.js";
import { decodeHeader, parseJson, type Int64, type ResponseHeader, type WireHeader } from "./wire.js";

export interface LeaseGrant {
  readonly header: ResponseHeader;
  readonly id: number;
  /** Seconds; 0 from a keep-alive means the lease no longer exists. */
  readonly ttl: number;
}

export interface LeaseTimeToLive {
  readonly header: ResponseHeader;
  readonly id: number;
  /** Seconds left; -1 when the lease does not exist. */
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: readonly Buffer[];
}

export interface KeepAliveOptions {
  /** How often to renew; a third of the TTL by default. */
  readonly intervalMs?: number;
}

interface WireLease {
  readonly header?: WireHeader;
  readonly ID?: Int64;
  readonly TTL?: Int64;
  readonly grantedTTL?: Int64;
  readonly keys?: readonly string[];
  readonly leases?: readonly { readonly ID?: Int64 }[];
  readonly result?: WireLease;
}

/** While renewals fail, how soon to try again. */
const RETRY_RENEWAL_MS = 250;

export class LeaseClient {
  constructor(private readonly transport: Transport) {}

  /** A new lease of `ttl` seconds; `id` picks its id (0: the cluster picks). */
  async grant(ttl: number, options: CallOptions & { id?: number } = {}): Promise<LeaseGrant> {
    return decodeGrant(await this.post("/v3/lease/grant", { TTL: ttl, ID: options.id ?? 0 }, "write", options));
  }

  /** Ends a lease now, deleting every key bound to it. */
  async revoke(id: number, options: CallOptions = {}): Promise<ResponseHeader> {
    return decodeHeader((await this.post("/v3/lease/revoke", { ID: id }, "write", options)).header);
  }

  /** Renews a lease once; a TTL of 0 in the answer means it is gone. */
  async keepAliveOnce(id: number, options: CallOptions = {}): Promise<LeaseGrant> {
    // A renewal sets the TTL back to full whatever happened before: repeating it is harmless.
    return decodeGrant((await this.post("/v3/lease/keepalive", { ID: id }, "read", options)).result ?? {});
  }

  async timeToLive(id: number, options: CallOptions & { keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    const reply = await this.post("/v3/lease/timetolive", { ID: id, keys: options.keys ?? false }, "read", options);
    return {
      header: decodeHeader(reply.header),
      id: toNumber(reply.ID),
      ttl: toNumber(reply.TTL),
      grantedTtl: toNumber(reply.grantedTTL),
      keys: (reply.keys ?? []).map(fromBase64),
    };
  }

  async list(options: CallOptions = {}): Promise<{ header: ResponseHeader; ids: number[] }> {
    const reply = await this.post("/v3/lease/leases", {}, "read", options);
    return { header: decodeHeader(reply.header), ids: (reply.leases ?? []).map((lease) => toNumber(lease.ID)) };
  }

  /** Starts renewing an existing lease of `ttl` seconds until closed or lost. */
  keepAlive(id: number, ttl: number, options: KeepAliveOptions = {}): LeaseKeepAlive {
    return new LeaseKeepAlive(this, id, ttl, options);
  }

  /** Grants a lease of `ttl` seconds and keeps it alive: the usual way to hold keys, locks and registrations. */
  async session(ttl: number, options: KeepAliveOptions & CallOptions = {}): Promise<LeaseKeepAlive> {
    const granted = await this.grant(ttl, options);
    return this.keepAlive(granted.id, granted.ttl, options);
  }

  private async post(path: string, body: object, retry: "read" | "write", options: CallOptions): Promise<WireLease> {
    return parseJson<WireLease>((await this.transport.call({ method: "POST", path, body: JSON.stringify(body), retry }, options)).body);
  }
}

function decodeGrant(reply: WireLease): LeaseGrant {
  return { header: decodeHeader(reply.header), id: toNumber(reply.ID), ttl: toNumber(reply.TTL) };
}

/**
 * A running keep-alive. `lost` aborts (with a LeaseLostError as its reason)
 * when the lease is gone or may be; each renewal emits `renewed` with the
 * TTL granted; `close()` stops renewing and leaves the lease to expire,
 * `revoke()` ends it at once.
 */
export class LeaseKeepAlive extends EventEmitter<{ renewed: [ttl: number] }> {
  /** Aborts when the lease is lost; never after close() or revoke(). */
  readonly lost: AbortSignal;
  private readonly lostController = new AbortController();
  private readonly stopController = new AbortController();
  private lastRenewedAt = Date.now();
  private readonly loop: Promise<void>;

  constructor(
    private readonly leases: LeaseClient,
    readonly id: number,
    /** Seconds, as last granted or renewed. */
    private ttl: number,
    private readonly options: KeepAliveOptions,
  ) {
    super();
    this.lost = this.lostController.signal;
    this.loop = this.renewUntilStopped();
  }

  /** Stops renewing; the lease expires after its TTL unless someone else renews it. */
  async close(): Promise<void> {
    this.stopController.abort();
    await this.loop;
  }

  /** Stops renewing and revokes the lease, deleting the keys bound to it. */
  async revoke(options: CallOptions = {}): Promise<void> {
    await this.close();
    await this.leases.revoke(this.id, options);
  }

  private async renewUntilStopped(): Promise<void> {
    const stop = this.stopController.signal;
    let wait = this.renewalInterval();
    while (!stop.aborted && !this.lost.aborted) {
      if (!(await pauseUnlessAborted(wait, stop))) return;
      wait = (await this.renewOnce(stop)) ? this.renewalInterval() : RETRY_RENEWAL_MS;
    }
  }

  /** One renewal; true if it got through. Declares the lease lost when that is certain or possible. */
  private async renewOnce(stop: AbortSignal): Promise<boolean> {
    const expiresAt = this.lastRenewedAt + this.ttl * 1000;
    try {
      const renewed = await this.leases.keepAliveOnce(this.id, { signal: stop, timeoutMs: Math.max(expiresAt - Date.now(), RETRY_RENEWAL_MS) });
      if (renewed.ttl <= 0) return this.declareLost("the cluster says it expired or was revoked");
      this.ttl = renewed.ttl;
      this.lastRenewedAt = Date.now();
      this.emit("renewed", renewed.ttl);
      return true;
    } catch (error) {
      if (stop.aborted) return false;
      if (error instanceof EtcdError && !isTransient(error)) return this.declareLost(error.message);
      if (Date.now() >= expiresAt) return this.declareLost(`not renewed within its ${this.ttl} s TTL (${describe(error)})`);
      return false;
    }
  }

  private declareLost(reason: string): false {
    this.lostController.abort(new LeaseLostError(this.id, reason));
    return false;
  }

  private renewalInterval(): number {
    return this.options.intervalMs ?? Math.max((this.ttl * 1000) / 3, 100);
  }
}

function isTransient(error: EtcdError): boolean {
  return error.httpStatus >= 500;
}
