/**
 * The commands of a transcript (test/transcripts/*.txt), run over the
 * simulated cluster. Each command returns what happened, one line per event:
 * every message sent (`from->to Type term=… index=…`, marked `LOST` when a
 * cut link swallows it) and every change of a node's role, term or leader,
 * in the order they happened. The simulator's safety invariants are checked
 * at every step, as in every other test.
 */
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  ProposalDroppedError,
  Role,
  decodeConfChange,
  type Entry,
  type Message,
  type NodeId,
} from "../../src/index.js";
import { Cluster, type ClusterOptions } from "./cluster.js";
import { TranscriptError } from "./transcript-file.js";

type Handler = (session: Session, args: Args) => void;

export class Session {
  private current: Cluster | undefined;
  private lines: string[] = [];
  private readonly lastSeen = new Map<NodeId, string>();
  private proposals = 0;

  get cluster(): Cluster {
    if (!this.current) throw new TranscriptError("no cluster yet: start with add-nodes");
    return this.current;
  }

  /** Runs one command line; returns its output. Errors of the cluster are output too. */
  run(line: string): string {
    this.lines = [];
    const [name = "", ...words] = line.trim().split(/\s+/);
    const handler = COMMANDS[name];
    if (!handler) throw new TranscriptError(`unknown command ${name}`);
    const args = new Args(words);
    try {
      handler(this, args);
      args.done();
    } catch (error) {
      if (error instanceof TranscriptError || !(error instanceof Error)) throw error;
      this.noteStateChanges();
      this.print(`error: ${error.name}: ${error.message}`);
    }
    this.noteStateChanges();
    return this.lines.length > 0 ? this.lines.join("\n") : "ok";
  }

  start(options: ClusterOptions): void {
    this.current = new Cluster(options);
    this.lastSeen.clear();
    this.current.observer = (message, lost) => {
      this.noteStateChanges();
      this.print(formatMessage(message) + (lost ? " LOST" : ""));
    };
    this.noteStateChanges();
  }

  /** A fresh payload for a proposal: "p1", "p2", … */
  nextPayload(): string {
    return `p${++this.proposals}`;
  }

  print(line: string): void {
    this.lines.push(line);
  }

  /** Prints each node whose role, term or leader changed since last looked at. */
  noteStateChanges(): void {
    if (!this.current) return;
    for (const id of this.current.ids) {
      const now = this.describeNode(id);
      if (this.lastSeen.get(id) === now) continue;
      this.lastSeen.set(id, now);
      this.print(`${id}: ${now}`);
    }
  }

  private describeNode(id: NodeId): string {
    const sim = this.cluster.sim(id);
    if (!sim.alive) return "down";
    const { role, hardState, lead } = sim.node.status();
    return `${role} term=${hardState.term}${lead === NONE ? "" : ` lead=${lead}`}`;
  }
}

/** A command's words: positional ones and key=value options, each of which the command must read. */
class Args {
  private readonly options = new Map<string, string>();
  private readonly positional: string[] = [];
  private positionalRead = 0;

  constructor(words: readonly string[]) {
    for (const word of words) {
      const [key, value] = word.split("=", 2);
      if (value === undefined) this.positional.push(word);
      else this.options.set(key ?? "", value);
    }
  }

  id(position: number): NodeId {
    return toNumber(this.word(position), `node id in position ${position + 1}`);
  }

  ids(from = 0): NodeId[] {
    this.positionalRead = this.positional.length;
    return this.positional.slice(from).map((word) => toNumber(word, "node id"));
  }

  groups(): NodeId[][] {
    this.positionalRead = this.positional.length;
    return this.positional.map((group) => group.split(",").map((word) => toNumber(word, "node id")));
  }

  word(position: number): string | undefined {
    this.positionalRead = Math.max(this.positionalRead, position + 1);
    return this.positional[position];
  }

  number(key: string): number | undefined {
    const value = this.take(key);
    return value === undefined ? undefined : toNumber(value, key);
  }

  flag(key: string): boolean | undefined {
    const value = this.take(key);
    if (value === undefined) return undefined;
    if (value !== "true" && value !== "false") throw new TranscriptError(`${key} must be true or false`);
    return value === "true";
  }

  text(key: string): string | undefined {
    return this.take(key);
  }

  /** Every word must have been read: a misspelt or extra one fails the test. */
  done(): void {
    if (this.options.size > 0) throw new TranscriptError(`unknown option ${[...this.options.keys()].join(", ")}`);
    const extra = this.positional.slice(this.positionalRead);
    if (extra.length > 0) throw new TranscriptError(`unexpected ${extra.join(" ")}`);
  }

  private take(key: string): string | undefined {
    const value = this.options.get(key);
    this.options.delete(key);
    return value;
  }
}

function toNumber(word: string | undefined, what: string): number {
  const value = Number(word);
  if (word === undefined || !Number.isSafeInteger(value)) throw new TranscriptError(`expected a number for ${what}, got ${word}`);
  return value;
}

// ------------------------------------------------------------------ formats

function formatMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${MessageType[m.type]} term=${m.term}`];
  if (m.index !== 0) parts.push(`index=${m.index}`);
  if (m.logTerm !== 0) parts.push(`logTerm=${m.logTerm}`);
  if (m.commit !== 0) parts.push(`commit=${m.commit}`);
  if (m.reject) parts.push(m.type === MessageType.AppResp ? `reject hint=${m.rejectHint}` : "reject");
  if (m.entries.length > 0) parts.push(`entries=[${m.entries.map(formatEntry).join(", ")}]`);
  if (m.snapshot) {
    const { index, term, conf } = m.snapshot.meta;
    parts.push(`snapshot=${index}@${term} voters=${conf.voters.join(",")} learners=${conf.learners.join(",")}`);
  }
  if (m.context && m.context.byteLength > 0) parts.push(`context=${formatBytes(m.context)}`);
  return parts.join(" ");
}

function formatEntry(entry: Entry): string {
  const position = `${entry.index}@${entry.term}`;
  if (entry.type === EntryType.ConfChange) {
    const change = decodeConfChange(entry.data);
    return `${position} ${CHANGE_NAMES[change.type]} ${change.nodeId}`;
  }
  return entry.data.byteLength === 0 ? position : `${position} ${formatBytes(entry.data)}`;
}

const CHANGE_NAMES: Record<ConfChangeType, string> = {
  [ConfChangeType.AddNode]: "add-node",
  [ConfChangeType.RemoveNode]: "remove-node",
  [ConfChangeType.AddLearner]: "add-learner",
  [ConfChangeType.PromoteLearner]: "promote",
};

/** Printable text in quotes, anything else in hex. */
function formatBytes(bytes: Uint8Array): string {
  const printable = bytes.every((byte) => byte >= 0x20 && byte < 0x7f && byte !== 0x22);
  if (printable) return `"${new TextDecoder().decode(bytes)}"`;
  return Buffer.from(bytes).toString("hex");
}

type Filter = (m: Message) => boolean;

function messageFilter(args: Args): Filter {
  const from = args.number("from");
  const to = args.number("to");
  const typeName = args.text("type");
  const type = typeName === undefined ? undefined : MessageType[typeName as keyof typeof MessageType];
  if (typeName !== undefined && type === undefined) throw new TranscriptError(`unknown message type ${typeName}`);
  return (m) => (from === undefined || m.from === from) && (to === undefined || m.to === to) && (type === undefined || m.type === type);
}

// ----------------------------------------------------------------- commands

function proposeChange(type: ConfChangeType): Handler {
  return (session, args) => {
    const at = args.id(0);
    const nodeId = args.id(1);
    session.cluster.node(at).proposeConfChange({ type, nodeId });
  };
}

function tickTimes(session: Session, args: Args, times: (options: Required<ClusterOptions>) => number): void {
  const id = args.id(0);
  session.cluster.tickNode(id, times(session.cluster.options));
}

const COMMANDS: Record<string, Handler> = {
  /** add-nodes VOTERS [spares= seed= election= heartbeat= max-size= inflight= pre-vote= check-quorum= snapshot-every= snapshot-tail= unsafe-commit-any-term=] */
  "add-nodes": (session, args) => {
    const options: ClusterOptions = {
      voters: args.id(0),
      seed: args.number("seed") ?? 1,
      spares: args.number("spares"),
      electionTicks: args.number("election"),
      heartbeatTicks: args.number("heartbeat"),
      maxSizePerMsg: args.number("max-size"),
      maxInflightMsgs: args.number("inflight"),
      preVote: args.flag("pre-vote"),
      checkQuorum: args.flag("check-quorum"),
      snapshotEvery: args.number("snapshot-every"),
      snapshotTail: args.number("snapshot-tail"),
      unsafeCommitAnyTerm: args.flag("unsafe-commit-any-term"),
    };
    session.start(Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as ClusterOptions);
  },
  /** campaign ID: ticks a follower or candidate until it starts a (pre-)election */
  campaign: (session, args) => session.cluster.campaign(args.id(0)),
  /** propose ID [COUNT]: proposes entries "p1", "p2", … */
  propose: (session, args) => {
    const id = args.id(0);
    const count = args.word(1) === undefined ? 1 : args.id(1);
    for (let i = 0; i < count; i++) {
      const payload = session.nextPayload();
      try {
        const position = session.cluster.node(id).propose(new TextEncoder().encode(payload));
        session.print(position ? `${id}: appended "${payload}" at ${position.index}@${position.term}` : `${id}: forwarded "${payload}"`);
      } catch (error) {
        if (!(error instanceof ProposalDroppedError)) throw error;
        session.print(`${id}: dropped "${payload}": ${error.message}`);
      }
    }
  },
  /** read-index ID: asks ID for a linearizable read (the leader confirms it with a heartbeat round) */
  "read-index": (session, args) => {
    const id = args.id(0);
    session.print(`${id}: read ${session.cluster.readIndex(id)} asked`);
  },
  /** add-node AT ID, add-learner AT ID, promote AT ID, remove-node AT ID: a membership change proposed at AT */
  "add-node": proposeChange(ConfChangeType.AddNode),
  "add-learner": proposeChange(ConfChangeType.AddLearner),
  promote: proposeChange(ConfChangeType.PromoteLearner),
  "remove-node": proposeChange(ConfChangeType.RemoveNode),
  /** transfer-leader FROM TO */
  "transfer-leader": (session, args) => {
    const from = args.id(0);
    const to = args.id(1);
    session.cluster.node(from).transferLeadership(to);
  },
  /** tick ID [TIMES], tick-election ID, tick-heartbeat ID */
  tick: (session, args) => {
    const id = args.id(0);
    const times = args.word(1) === undefined ? 1 : args.id(1);
    session.cluster.tickNode(id, times);
  },
  "tick-election": (session, args) => tickTimes(session, args, (options) => options.electionTicks),
  "tick-heartbeat": (session, args) => tickTimes(session, args, (options) => options.heartbeatTicks),
  /** deliver-msgs [from= to= type=], drop-msgs [from= to= type=]: the messages in flight, in the order sent */
  "deliver-msgs": (session, args) => {
    session.cluster.deliverAll(messageFilter(args));
    session.cluster.checker.checkAll();
  },
  "drop-msgs": (session, args) => {
    session.cluster.dropInFlight(messageFilter(args));
  },
  /** process-ready ID…: each node handles one Ready: sends, persists, applies, advances */
  "process-ready": (session, args) => {
    for (const id of args.ids()) session.cluster.processReady(id);
    session.cluster.checker.checkAll();
  },
  /** stabilize: delivers and processes until nothing is in flight and no node has work; no ticks */
  stabilize: (session) => session.cluster.stabilize(),
  /** partition GROUP GROUP… (ids joined by commas), isolate ID, heal */
  partition: (session, args) => session.cluster.partition(...args.groups()),
  isolate: (session, args) => session.cluster.isolate(args.id(0)),
  heal: (session) => session.cluster.heal(),
  /** crash ID [unnoticed]: loses what was not persisted; unless unnoticed, followers see their leader go */
  crash: (session, args) => {
    const id = args.id(0);
    const how = args.word(1);
    if (how !== undefined && how !== "unnoticed") throw new TranscriptError(`crash ID [unnoticed], got ${how}`);
    session.cluster.crash(id, { peersNotice: how === undefined });
  },
  /** start ID: starts a spare, or restarts a crashed node from its disk */
  start: (session, args) => session.cluster.start(args.id(0)),
  /** peer-reconnected ID PEER: the application tells ID that its connection to PEER was opened again */
  "peer-reconnected": (session, args) => session.cluster.node(args.id(0)).peerReconnected(args.id(1)),
  /** peer-unreachable ID PEER: the application tells ID that it could not deliver to PEER (its process died, say) */
  "peer-unreachable": (session, args) => session.cluster.node(args.id(0)).reportUnreachable(args.id(1)),
  /** snapshot ID [keep=N]: snapshots at the applied index, compacts the log keeping N entries below */
  snapshot: (session, args) => {
    const id = args.id(0);
    const tail = args.number("keep") ?? 0;
    session.cluster.takeSnapshot(id, tail);
    const meta = session.cluster.sim(id).disk.snapshot().meta;
    session.print(`${id}: snapshot at ${meta.index}@${meta.term}, log from ${session.cluster.sim(id).disk.firstIndex()}`);
  },
  /** status [ID…]: role, term, indexes, configuration, and a leader's view of each follower */
  status: (session, args) => {
    const ids = args.ids();
    for (const id of ids.length > 0 ? ids : session.cluster.ids) printStatus(session, id);
  },
  /** raft-log ID: the node's durable log (its snapshot, then its entries) */
  "raft-log": (session, args) => {
    const disk = session.cluster.sim(args.id(0)).disk;
    const { index, term } = disk.snapshot().meta;
    if (index > 0) session.print(`snapshot ${index}@${term}`);
    for (const entry of disk.entries(disk.firstIndex(), disk.lastIndex() + 1, Infinity)) session.print(formatEntry(entry));
  },
};

function printStatus(session: Session, id: NodeId): void {
  const sim = session.cluster.sim(id);
  if (!sim.alive) return session.print(`${id}: down`);
  const status = sim.node.status();
  const { voters, learners } = status.conf;
  session.print(
    `${id}: ${status.role} term=${status.hardState.term} commit=${status.hardState.commit} applied=${status.applied} ` +
      `last=${status.lastIndex} voters=${voters.join(",")} learners=${learners.join(",")}`,
  );
  if (status.role !== Role.Leader) return;
  for (const [member, progress] of status.progress) {
    if (member !== id) session.print(`  ${member}: match=${progress.match} next=${progress.next} ${progress.state}`);
  }
}
