/**
 * Looking after members: status (of one member or all), the KV hash that
 * tells whether members agree, leader transfer, snapshots, alarms,
 * defragmentation, and the health of every endpoint.
 */
import { fromBase64, toNumber } from "./bytes.js";
import { streamResults } from "./json-lines.js";
import type { CallOptions, HttpCall, Transport } from "./transport.js";
import type { StatusResponse } from "./shared-types.js";
import { describe } from "./transport.js";
import { decodeHeader, parseJson, type Int64, type ResponseHeader, type WireHeader } from "./wire.js";

/** Per call: ask this member only, rather than whichever answers. */
export interface MemberCallOptions extends CallOptions {
  readonly endpoint?: string;
}

/** A member's status with the endpoint that gave it. */
export interface MemberStatus extends StatusResponse {
  readonly endpoint: string;
}

export type EndpointStatus = { readonly endpoint: string; readonly status: MemberStatus } | { readonly endpoint: string; readonly error: string };

export interface EndpointHealth {
  readonly endpoint: string;
  readonly healthy: boolean;
  /** Why not, when not healthy. */
  readonly reason: string;
  readonly tookMs: number;
}

/** An active alarm: which member raised it, and why (NOSPACE: out of space; CORRUPT: its data differs). */
export interface AlarmMember {
  readonly memberId: number;
  readonly alarm: "NOSPACE" | "CORRUPT";
}

interface WireAlarms {
  readonly header?: WireHeader;
  readonly alarms?: readonly { readonly memberID?: Int64; readonly alarm?: AlarmMember["alarm"] }[];
}

export interface HashKvResult {
  readonly endpoint: string;
  readonly header: ResponseHeader;
  readonly hash: number;
  readonly compactRevision: number;
}

interface WireStatus {
  readonly header?: WireHeader;
  readonly version?: string;
  readonly dbSize?: Int64;
  readonly dbSizeInUse?: Int64;
  readonly leader?: Int64;
  readonly raftIndex?: Int64;
  readonly raftTerm?: Int64;
  readonly raftAppliedIndex?: Int64;
  readonly isLearner?: boolean;
  readonly errors?: readonly string[];
  readonly hash?: number;
  readonly compact_revision?: Int64;
}

const HEALTH_TIMEOUT_MS = 2_000;
/** A snapshot stream that sends nothing for this long is taken for dead. */
const SNAPSHOT_IDLE_TIMEOUT_MS = 30_000;

export class MaintenanceClient {
  constructor(private readonly transport: Transport) {}

  async status(options: MemberCallOptions = {}): Promise<MemberStatus> {
    const reply = await this.transport.call(this.post("/v3/maintenance/status", {}, "read", options), options);
    return decodeStatus(parseJson<WireStatus>(reply.body), reply.endpoint);
  }

  /** The status of every endpoint, or why it gave none. */
  async statusAll(options: CallOptions = {}): Promise<EndpointStatus[]> {
    return Promise.all(
      this.transport.pool.urls.map(async (endpoint) => {
        try {
          return { endpoint, status: await this.status({ ...options, endpoint }) };
        } catch (error) {
          return { endpoint, error: describe(error) };
        }
      }),
    );
  }

  /** A hash of the store's keys and values up to `revision` (0: now): equal hashes at a revision mean members agree. */
  async hashKv(revision = 0, options: MemberCallOptions = {}): Promise<HashKvResult> {
    const reply = await this.transport.call(this.post("/v3/maintenance/hash", { revision }, "read", options), options);
    const parsed = parseJson<WireStatus>(reply.body);
    return { endpoint: reply.endpoint, header: decodeHeader(parsed.header), hash: parsed.hash ?? 0, compactRevision: toNumber(parsed.compact_revision) };
  }

  /** Hands leadership to the member `targetId`; the request goes to the current leader, found by asking every endpoint. */
  async moveLeader(targetId: number, options: CallOptions = {}): Promise<ResponseHeader> {
    const leader = (await this.statusAll(options)).find(
      (each): each is Extract<EndpointStatus, { status: MemberStatus }> => "status" in each && each.status.leader === each.status.header.memberId,
    );
    if (!leader) throw new Error(`moveLeader: none of ${this.transport.pool.urls.join(", ")} is the leader`);
    const call = this.post("/v3/maintenance/transfer-leadership", { targetID: targetId }, "once", { endpoint: leader.endpoint });
    return decodeHeader(parseJson<WireStatus>((await this.transport.call(call, options)).body).header);
  }

  /** A snapshot of one member's state as a restorable file, streamed in chunks. */
  async *snapshot(options: MemberCallOptions = {}): AsyncGenerator<Buffer> {
    const closer = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, closer.signal]) : closer.signal;
    try {
      const stream = await this.transport.stream(this.post("/v3/maintenance/snapshot", {}, "read", options), signal, SNAPSHOT_IDLE_TIMEOUT_MS, options);
      for await (const part of streamResults<{ blob?: string }>(stream.body, stream.endpoint)) yield fromBase64(part.blob);
    } finally {
      closer.abort();
    }
  }

  /** The cluster's active alarms (every member holds the same list). */
  async alarmList(options: CallOptions = {}): Promise<{ header: ResponseHeader; alarms: AlarmMember[] }> {
    return this.alarmCall({ action: "GET", memberID: 0, alarm: "NONE" }, "read", options);
  }

  /**
   * Clears alarms, as etcdctl's `alarm disarm` does: the one given, or every
   * active one. Answers with those cleared. A member still short of space
   * raises NOSPACE again.
   */
  async alarmDisarm(alarm?: AlarmMember, options: CallOptions = {}): Promise<{ header: ResponseHeader; alarms: AlarmMember[] }> {
    const targets = alarm ? [alarm] : (await this.alarmList(options)).alarms;
    let header = decodeHeader(undefined);
    const cleared: AlarmMember[] = [];
    for (const target of targets) {
      const reply = await this.alarmCall({ action: "DEACTIVATE", memberID: target.memberId, alarm: target.alarm }, "once", options);
      header = reply.header;
      cleared.push(...reply.alarms);
    }
    return { header, alarms: cleared };
  }

  /** Has one member give the space of dead entries back to its filesystem; it serves meanwhile. */
  async defragment(options: MemberCallOptions = {}): Promise<ResponseHeader> {
    const reply = await this.transport.call(this.post("/v3/maintenance/defragment", {}, "once", options), options);
    return decodeHeader(parseJson<WireStatus>(reply.body).header);
  }

  private async alarmCall(body: object, retry: HttpCall["retry"], options: CallOptions): Promise<{ header: ResponseHeader; alarms: AlarmMember[] }> {
    const reply = parseJson<WireAlarms>((await this.transport.call(this.post("/v3/maintenance/alarm", body, retry, {}), options)).body);
    const alarms = (reply.alarms ?? []).flatMap((each) => (each.alarm ? [{ memberId: toNumber(each.memberID), alarm: each.alarm }] : []));
    return { header: decodeHeader(reply.header), alarms };
  }

  /** Asks every endpoint's /health at once: healthy means it is up and has a leader. */
  async health(): Promise<EndpointHealth[]> {
    return Promise.all(
      this.transport.pool.urls.map(async (endpoint) => {
        const started = Date.now();
        try {
          await this.transport.call({ method: "GET", path: "/health", retry: "read", endpoint }, { timeoutMs: HEALTH_TIMEOUT_MS });
          return { endpoint, healthy: true, reason: "", tookMs: Date.now() - started };
        } catch (error) {
          return { endpoint, healthy: false, reason: describe(error), tookMs: Date.now() - started };
        }
      }),
    );
  }

  private post(path: string, body: object, retry: HttpCall["retry"], options: MemberCallOptions): HttpCall {
    return { method: "POST", path, body: JSON.stringify(body), retry, endpoint: options.endpoint };
  }
}

function decodeStatus(reply: WireStatus, endpoint: string): MemberStatus {
  return {
    endpoint,
    header: decodeHeader(reply.header),
    version: reply.version ?? "",
    dbSize: toNumber(reply.dbSize),
    dbSizeInUse: toNumber(reply.dbSizeInUse),
    leader: toNumber(reply.leader),
    raftIndex: toNumber(reply.raftIndex),
    raftTerm: toNumber(reply.raftTerm),
    raftAppliedIndex: toNumber(reply.raftAppliedIndex),
    isLearner: reply.isLearner ?? false,
    errors: reply.errors ?? [],
  };
}
