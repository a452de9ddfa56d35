/**
 * The cluster as this member sees it: the member list with each member's
 * role, this member's Raft state in full (term, indexes, size, health), the
 * alarms, and the leader changes seen since the page opened.
 *
 * Members serve no CORS, so the page cannot ask the others for their own
 * status: their term, indexes and health show on their own dashboards,
 * linked from their rows.
 */
import { useState } from "preact/hooks";
import { alarms, health, members, status, text, type Alarm, type Member, type Status } from "../api.js";
import { parseMetrics, total } from "../metrics/prometheus.js";
import { usePoll } from "../poll.js";
import { ErrorLine, formatBytes, TableHead } from "../view.js";

interface ClusterView {
  readonly members: readonly Member[];
  readonly status: Status;
  readonly alarms: readonly Alarm[];
  readonly health: { healthy: boolean; reason: string };
  /** Other members heard from within an election timeout: on the leader, every member that answers. */
  readonly activePeers: number;
}

interface LeaderChange {
  readonly at: Date;
  readonly term: number;
  /** "0" while this member knows no leader. */
  readonly leader: string;
}

const POLL_MS = 1000;

async function loadCluster(): Promise<ClusterView> {
  const [memberList, memberStatus, alarmList, memberHealth, metrics] = await Promise.all([members(), status(), alarms(), health(), text("/metrics")]);
  const activePeers = total(parseMetrics(metrics), "raftkv_active_peers");
  return { members: memberList, status: memberStatus, alarms: alarmList, health: memberHealth, activePeers };
}

export function ClusterPage() {
  const [timeline, setTimeline] = useState<LeaderChange[]>([]);
  const { data, error } = usePoll(loadCluster, POLL_MS, (view) => setTimeline((changes) => withLeaderOf(changes, view.status)));
  return (
    <section>
      <h1>Cluster</h1>
      <ErrorLine error={error && `this member does not answer: ${error}`} />
      {data && <Reachability view={data} />}
      {data && <MemberTable view={data} />}
      {data && <Alarms view={data} />}
      <Timeline changes={timeline} names={data?.members ?? []} />
    </section>
  );
}

/** Appends a change when the leader or the term differs from the last one seen. */
function withLeaderOf(changes: LeaderChange[], { leader, term }: Status): LeaderChange[] {
  const last = changes[changes.length - 1];
  if (last && last.leader === leader && last.term === term) return changes;
  return [...changes, { at: new Date(), term, leader }];
}

function roleOf(member: Member, status: Status): string {
  if (member.id === status.leader) return "leader";
  return member.isLearner ? "learner" : "follower";
}

const MEMBER_COLUMNS = [
  "Name",
  "ID",
  "Client URLs",
  "Peer URLs",
  "Role",
  "Term",
  "Committed",
  "Applied",
  { label: "Apply lag", hint: "Entries committed but not yet applied by this member" },
  "Health",
  "Alarms",
  "DB size",
];

function MemberTable({ view }: { view: ClusterView }) {
  const { status } = view;
  return (
    <table class="members">
      <TableHead columns={MEMBER_COLUMNS} />
      <tbody>
        {view.members.map((member) => {
          const here = member.id === status.memberId;
          const role = roleOf(member, status);
          const memberAlarms = view.alarms.filter((alarm) => alarm.memberId === member.id).map((alarm) => alarm.alarm);
          return (
            <tr data-member={member.name} data-role={role} class={here ? "here" : ""}>
              <td>
                {member.name || "(not started)"}
                {here && <span class="tag">this member</span>}
              </td>
              <td class="mono">{BigInt(member.id).toString(16)}</td>
              <td>
                <UrlList urls={member.clientUrls} dashboard />
              </td>
              <td>
                <UrlList urls={member.peerUrls} />
              </td>
              <td>
                <span class={`role ${role}`}>{role}</span>
              </td>
              {here ? (
                <OwnRaftState view={view} />
              ) : (
                <td colSpan={5} class="muted">
                  on its own dashboard
                </td>
              )}
              <td class={memberAlarms.length > 0 ? "bad" : ""}>{memberAlarms.join(", ") || "none"}</td>
              <td>{here ? formatBytes(status.dbSize) : "—"}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function OwnRaftState({ view: { status, health } }: { view: ClusterView }) {
  return (
    <>
      <td data-field="term">{status.term}</td>
      <td>{status.committedIndex}</td>
      <td>{status.appliedIndex}</td>
      <td>{status.committedIndex - status.appliedIndex}</td>
      <td class={health.healthy ? "good" : "bad"}>{health.healthy ? "healthy" : `unhealthy: ${health.reason}`}</td>
    </>
  );
}

/** Only the leader hears from every member (followers hear from the leader alone), so only its count says who answers. */
function Reachability({ view }: { view: ClusterView }) {
  const { status, members: memberList } = view;
  const leader = memberList.find((member) => member.id === status.leader);
  if (!leader)
    return (
      <p class="bad" data-testid="reachability">
        This member knows no leader.
      </p>
    );
  if (leader.id !== status.memberId) {
    return (
      <p class="muted" data-testid="reachability">
        {leader.name} leads; {leader.clientUrls[0] ? <a href={dashboardOf(leader.clientUrls[0])}>its dashboard</a> : "its dashboard"} shows which members answer
        it.
      </p>
    );
  }
  const others = memberList.length - 1;
  return (
    <p class={view.activePeers < others ? "bad" : "good"} data-testid="reachability">
      {view.activePeers} of the {others} other members answer this leader.
    </p>
  );
}

const dashboardOf = (clientUrl: string): string => `${clientUrl}/ui/`;

function UrlList({ urls, dashboard = false }: { urls: readonly string[]; dashboard?: boolean }) {
  return (
    <>
      {urls.map((url) => (
        <div class="mono">{dashboard ? <a href={dashboardOf(url)}>{url}</a> : url}</div>
      ))}
    </>
  );
}

function Alarms({ view }: { view: ClusterView }) {
  const { errors } = view.status;
  if (view.alarms.length === 0 && errors.length === 0) return null;
  return (
    <div class="alert" role="alert">
      {view.alarms.map((alarm) => (
        <div>
          alarm {alarm.alarm} on member {BigInt(alarm.memberId).toString(16)}
        </div>
      ))}
      {errors.map((error) => (
        <div>{error}</div>
      ))}
    </div>
  );
}

function Timeline({ changes, names }: { changes: readonly LeaderChange[]; names: readonly Member[] }) {
  const nameOf = (id: string): string => (id === "0" ? "no leader" : (names.find((member) => member.id === id)?.name ?? BigInt(id).toString(16)));
  return (
    <>
      <h2>Leader changes since this page opened</h2>
      <ol class="timeline">
        {[...changes].reverse().map((change) => (
          <li data-leader={nameOf(change.leader)}>
            <time>{change.at.toLocaleTimeString()}</time> term {change.term}: <strong>{nameOf(change.leader)}</strong>
          </li>
        ))}
      </ol>
    </>
  );
}
