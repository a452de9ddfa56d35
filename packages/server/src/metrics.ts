/**
 * Prometheus metrics (prom-client), one registry per node so that several
 * nodes in one process (as in tests) keep their own figures.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { AlarmMember, AlarmType } from "./alarms.js";

export interface RaftGauges {
  term(): number;
  isLeader(): boolean;
  commitIndex(): number;
  appliedIndex(): number;
}

/** What the member's health depends on besides Raft. */
export interface MemberGauges {
  alarms(): readonly AlarmMember[];
  wasRemoved(): boolean;
  storageFailed(): boolean;
  activePeers(): number;
}

type HttpLabel = "method" | "route" | "status";

const ALARM_TYPES: readonly AlarmType[] = ["NOSPACE", "CORRUPT"];

const DISK_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1];

export class Metrics {
  readonly registry = new Registry();
  readonly proposals = new Counter({ name: "raftkv_proposals_total", help: "Entries proposed by this member", registers: [this.registry] });
  readonly proposalsFailed = new Counter({
    name: "raftkv_proposals_failed_total",
    help: "Proposals refused (no leader, transfer in progress)",
    registers: [this.registry],
  });
  readonly leaderChanges = new Counter({ name: "raftkv_leader_changes_total", help: "Leader changes seen by this member", registers: [this.registry] });
  // Observed through their one series, taken once: prom-client's own `observe` hashes an empty label set and
  // builds a closure each time (176 bytes an observation, against 16), and these two run on every Ready.
  readonly walFsyncSeconds = new Histogram({
    name: "raftkv_wal_fsync_duration_seconds",
    help: "Time to write and fdatasync one Ready to the WAL",
    buckets: DISK_BUCKETS,
    registers: [this.registry],
  }).labels();
  readonly applySeconds = new Histogram({
    name: "raftkv_apply_duration_seconds",
    help: "Time to apply one batch of committed entries to the state machine",
    buckets: DISK_BUCKETS,
    registers: [this.registry],
  }).labels();
  readonly httpSeconds: Histogram<HttpLabel> = new Histogram({
    name: "raftkv_http_request_duration_seconds",
    help: "HTTP request latency by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  constructor(raft: RaftGauges, member: MemberGauges) {
    // Unprefixed, as etcd exposes its process metrics: `etcdctl check datascale` reads process_resident_memory_bytes.
    collectDefaultMetrics({ register: this.registry });
    this.gauge("raftkv_term", "Current Raft term", () => raft.term());
    this.gauge("raftkv_is_leader", "1 if this member leads", () => (raft.isLeader() ? 1 : 0));
    this.gauge("raftkv_commit_index", "Highest log index known committed", () => raft.commitIndex());
    this.gauge("raftkv_applied_index", "Highest log index applied to the state machine", () => raft.appliedIndex());
    this.gauge(
      "raftkv_active_peers",
      "Members heard from within an election timeout (on the leader: every member that answers; what the strict reconfiguration check counts)",
      () => member.activePeers(),
    );
    this.gauge("raftkv_member_removed", "1 once this member was removed from the cluster", () => (member.wasRemoved() ? 1 : 0));
    this.gauge(
      "raftkv_storage_failed",
      "1 once a write or sync of the WAL, the store or a snapshot failed: the member acknowledges nothing more until restarted",
      () => (member.storageFailed() ? 1 : 0),
    );
    new Gauge({
      name: "raftkv_alarms",
      help: "Active alarms by type (CORRUPT: a member's data differs from the others'; NOSPACE: a member passed the space quota or its disk reserve); CORRUPT refuses every write, NOSPACE those that grow the store",
      labelNames: ["alarm"],
      registers: [this.registry],
      collect() {
        const active = member.alarms();
        for (const type of ALARM_TYPES) this.set({ alarm: type }, active.filter((alarm) => alarm.alarm === type).length);
      },
    });
  }

  /** The request-duration series of one route; made once per route, when the route is registered. */
  httpRoute(route: string): RouteTimings {
    return new RouteTimings(this.httpSeconds, route);
  }

  private gauge(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}

/**
 * One route's request durations by method and status, each series' child
 * taken from prom-client once and kept: given label values, prom-client
 * builds a label object, a hash string and a closure on every observation.
 */
export class RouteTimings {
  private readonly byMethod = new Map<string, Map<number, Histogram.Internal<HttpLabel>>>();

  constructor(
    private readonly histogram: Histogram<HttpLabel>,
    private readonly route: string,
  ) {}

  observe(method: string, status: number, seconds: number): void {
    let byStatus = this.byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.byMethod.set(method, byStatus);
    }
    let series = byStatus.get(status);
    if (series === undefined) {
      series = this.histogram.labels({ method, route: this.route, status: String(status) });
      byStatus.set(status, series);
    }
    series.observe(seconds);
  }
}
