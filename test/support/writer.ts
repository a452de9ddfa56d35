/**
 * A client that keeps writing distinct keys through whichever member answers,
 * remembering exactly which writes were acknowledged and when.
 */
import type { ProcessCluster } from "./process-cluster.js";

export interface Acknowledged {
  readonly key: string;
  readonly value: string;
  readonly at: number;
}

export class Writer {
  readonly acknowledged: Acknowledged[] = [];
  failures = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  private counter = 0;

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly prefix: string,
  ) {}

  start(concurrency = 4): void {
    this.running = true;
    this.loops = Array.from({ length: concurrency }, (_, lane) => this.loop(lane));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Acknowledged writes after `time`. */
  since(time: number): Acknowledged[] {
    return this.acknowledged.filter((write) => write.at > time);
  }

  private async loop(lane: number): Promise<void> {
    let target = lane;
    while (this.running) {
      const members = this.cluster.running();
      if (members.length === 0) break;
      const member = members[target % members.length]!;
      const key = `${this.prefix}/${String(++this.counter).padStart(6, "0")}`;
      const value = `v-${key}`;
      try {
        const response = await fetch(`${member.clientUrl}/v1/kv/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(3_000) });
        if (response.ok) this.acknowledged.push({ key, value, at: Date.now() });
        else {
          this.failures++;
          target++;
        }
      } catch {
        this.failures++;
        target++;
      }
    }
  }
}
