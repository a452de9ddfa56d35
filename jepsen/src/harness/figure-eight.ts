/**
 * Figure 8 of the Raft paper on real processes: a scripted schedule of
 * partitions and one throttled link, steered by what the members report,
 * that brings a leader to count replicas of an entry from an older term. A
 * correct leader does not commit that entry then; one running with
 * `--unsafe-bugs=commit-any-term` does and acknowledges the write, and a
 * later leader that never had it overwrites it: the set workload finds an
 * acknowledged add missing.
 *
 * Three members: A leads when an attempt starts, B and C follow.
 *  0. C is cut off; a largish write W commits on A and B. C now lags B, so
 *     it can never win an election while B is around.
 *  1. Everyone is cut off. A still leads until check-quorum deposes it, long
 *     enough to append X (one operation of the workload, from a client that
 *     waits longer than the server's request timeout) and then a few large
 *     writes, the walls. None of them leaves A.
 *  2. B and C meet, with everything sent to C throttled hard. Only B can
 *     win. Its first entry, at X's index, must reach C behind W, which takes
 *     a while on the throttled link: as soon as B leads, everything on its
 *     way to C is stopped and B is cut off.
 *  3. A and C meet, the throttle eased. A wins with C's vote (C lacks X),
 *     appends its own entry Z, and sends C W, then X, then the walls, then
 *     Z: no append carries a wall with anything else, so C acknowledges X
 *     while the walls pass the throttle one by one with Z behind them. A
 *     buggy leader now commits X by counting itself and C, and the client
 *     hears ok. As soon as it does, everything to C stops and A is cut off.
 *  4. B and C meet again. C holds X but not Z, so it votes for B, whose
 *     entry at X's index is newer than X, and B replaces X with its own.
 *  5. Everything heals.
 * A correct leader acknowledges X only once Z is committed, that is once C
 * holds Z; C then refuses B in step 4, and X survives.
 *
 * The links are cut with TCP resets, so that nothing sent across a cut is
 * delivered when it heals, and the throttle is a token bucket in front of C
 * that the harness can also shut at once, so the moments that matter do not
 * depend on how fast a loaded machine starts iptables.
 */
import { memberStatuses, waitForAgreedLeader, type ClusterDriver } from "./cluster.js";
import { splitInto } from "./grudge.js";
import type { Random } from "./random.js";
import type { Recorder } from "./recorder.js";
import { delay, waitFor } from "./wait.js";
import { nativeApi } from "./workloads/store.js";
import type { Client, Workload } from "./workloads/workload.js";

/** W: on the hard throttle of step 2 it takes 0.8 s to reach C, ample time to see B lead and stop it. */
const W_BYTES = 400_000;
/** A wall is larger than the server's 1 MiB cap on the entries of one append, so it always travels alone. */
const WALL_BYTES = 1_200_000;
/** On the eased throttle of step 3 each wall takes 0.2 s, so together they hold Z back for 0.4 s. */
const WALLS_AFTER_X = 2;
/** What reaches C in step 2. */
const ELECTION_RATE = 4_000_000;
/**
 * What reaches C in step 3: fast enough that no election timeout (500 ms)
 * passes between two appends, so A keeps its leadership and C its leader.
 */
const REPLICATION_RATE = 48_000_000;
/** Longer than the server's 7 s request timeout: the client hears whatever the member tells it. */
const PATIENT_MS = 8_000;
/** Quiet time before each attempt. */
const QUIET_MS = 2_000;
/** How long an election in steps 2 and 4 may take. */
const ELECTION_DEADLINE_MS = 5_000;
/** Leadership is polled this often in step 2, well within the time the wall takes to pass. */
const LEADER_POLL_MS = 20;
/** Gap between the appends of step 1, so that X lands before the walls, in order. */
const APPEND_GAP_MS = 50;
/** Process ids of the patient clients, one per attempt, apart from the workload's own. */
const FIRST_PROCESS = 100_000;

/** How an attempt ended, and whether B's entry replaced X on C (it must not, if X was committed). */
interface Outcome {
  readonly overwritten: boolean;
  readonly story: string;
}

export class FigureEight {
  private attempts = 0;
  private readonly wall = "w".repeat(WALL_BYTES);
  private readonly w = this.wall.slice(0, W_BYTES);

  constructor(
    private readonly driver: ClusterDriver,
    private readonly workload: Workload,
    private readonly recorder: Recorder,
    private readonly random: Random,
  ) {}

  /**
   * One attempt after another, each after a quiet spell, until `signal`
   * aborts or B takes X's index over. That is the end of the story: either
   * X was never acknowledged, or it was and is now lost, which the workload's
   * check will report; and a member that committed X cannot follow the new
   * leader any more, so further attempts would prove nothing.
   */
  async run(signal: AbortSignal): Promise<void> {
    for (;;) {
      await delay(QUIET_MS, signal);
      if (signal.aborted) return;
      const leader = await waitForAgreedLeader(this.driver, ELECTION_DEADLINE_MS, signal).catch(() => undefined);
      if (leader === undefined) continue;
      const [b, c] = this.random.shuffle(this.driver.nodes.filter((node) => node !== leader));
      this.recorder.nemesis("start", `figure 8, attempt ${++this.attempts}: A=${leader} B=${b} C=${c}`);
      const outcome = await this.attempt(leader, b!, c!).catch(
        (error: unknown): Outcome => ({ overwritten: false, story: `interrupted: ${error instanceof Error ? error.message : String(error)}` }),
      );
      await this.healAll();
      this.recorder.nemesis("stop", `figure 8, attempt ${this.attempts}: ${outcome.story}`);
      if (outcome.overwritten) return;
    }
  }

  async healAll(): Promise<void> {
    for (const node of this.driver.nodes) await this.driver.throttle(node, undefined);
    await this.driver.heal();
  }

  /** Steps 0 to 4; says how far the attempt got. */
  private async attempt(a: string, b: string, c: string): Promise<Outcome> {
    await this.step(`0: ${c} cut off, W commits on ${a} and ${b}`, [[c], [a, b]]);
    await nativeApi.put(this.driver.clientUrl(a), "figure8/w", this.w, PATIENT_MS);

    await this.step(`1: everyone cut off, ${a} appends X and ${WALLS_AFTER_X} walls`, [[a], [b], [c]]);
    const x = this.workload.step(this.patientClient(a));
    for (let wall = 1; wall <= WALLS_AFTER_X; wall++) {
      await delay(APPEND_GAP_MS);
      void nativeApi.put(this.driver.clientUrl(a), `figure8/wall${wall}`, this.wall, PATIENT_MS).catch(() => undefined);
    }
    await delay(APPEND_GAP_MS);

    await this.driver.throttle(c, ELECTION_RATE);
    await this.step(`2: ${b} and ${c} meet, ${c} throttled`, [[a], [b, c]]);
    const bLedIn = await this.leadsAfter(b, 0);
    await this.closeBehind(c, `2: ${b} cut off`, [[a], [b], [c]]);
    await this.driver.throttle(c, REPLICATION_RATE);
    if (bLedIn === undefined) return { overwritten: false, story: `${b} did not win with ${c}'s vote` };

    await this.step(`3: ${a} and ${c} meet`, [[b], [a, c]]);
    const completion = await x;
    await this.closeBehind(c, `4: ${a} cut off, ${b} and ${c} meet`, [[a], [b, c]]);
    await this.driver.throttle(c, undefined);
    if (completion.type !== "ok") return { overwritten: false, story: `X was not acknowledged (${completion.error})` };
    // B may still call itself leader of step 2's term, alone, until check-quorum deposes it: only a newer term counts.
    const term = await this.leadsAfter(b, bLedIn);
    if (term !== undefined) return { overwritten: true, story: `X acknowledged, then ${b} led with ${c} in term ${term}, over X's index` };
    return { overwritten: false, story: `X acknowledged, and ${b} could not win ${c}'s vote` };
  }

  /** A fresh process, so that an operation left in doubt never shares its process with a later one. */
  private patientClient(node: string): Client {
    return { process: FIRST_PROCESS + this.attempts, url: this.driver.clientUrl(node), random: this.random.fork(), timeoutMs: PATIENT_MS };
  }

  /**
   * Stops everything on its way to `node` at once, then partitions: what
   * is still queued for it from a member now cut off is refused when the
   * caller lets the queue move again.
   */
  private async closeBehind(node: string, label: string, components: string[][]): Promise<void> {
    await this.driver.throttle(node, 0);
    await this.step(label, components);
  }

  /** Partitions the members into `components` (connections across a cut are reset, so nothing crosses it later). */
  private async step(label: string, components: string[][]): Promise<void> {
    await this.driver.partition(splitInto(components), "reset");
    this.recorder.nemesis("step", `figure 8, step ${label}`);
  }

  /** The term in which `node` leads, if it does in a term after `term` within the election deadline. */
  private async leadsAfter(node: string, term: number): Promise<number | undefined> {
    const leading = async () => {
      const [status] = await memberStatuses(this.driver, 200, [node]);
      return status !== undefined && status.memberId === status.leaderId && status.term > term ? status.term : undefined;
    };
    return waitFor(`${node} to lead after term ${term}`, leading, ELECTION_DEADLINE_MS, undefined, LEADER_POLL_MS).catch(() => undefined);
  }
}
