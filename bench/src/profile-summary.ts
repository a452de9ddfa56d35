/**
 * The hot spots of a V8 CPU profile (node --cpu-prof): self time by function
 * and by file, as shares of the time the process was busy (idle excluded).
 * Run: pnpm --filter @raftkv/bench profile-summary <file.cpuprofile> [top]
 */
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface HotSpot {
  readonly name: string;
  readonly share: number;
}

interface ProfileSummary {
  readonly busyMs: number;
  readonly byFunction: HotSpot[];
  readonly byFile: HotSpot[];
  readonly inclusive: HotSpot[];
}

function summarize(profile: CpuProfile): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i, so sample i's time is delta i + 1.
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  const busy = [...selfUs].filter(([id]) => nodes.get(id)?.callFrame.functionName !== "(idle)");
  const busyUs = busy.reduce((sum, [, us]) => sum + us, 0);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of busy) {
    const frame = nodes.get(id)!.callFrame;
    add(byFunction, `${frame.functionName || "(anonymous)"} ${where(frame)}`, us);
    add(byFile, fileOf(frame.url) || frame.functionName, us);
  }
  return {
    busyMs: busyUs / 1000,
    byFunction: ranked(byFunction, busyUs),
    byFile: ranked(byFile, busyUs),
    inclusive: ranked(inclusiveTimes(profile, nodes, selfUs), busyUs),
  };
}

/** Time spent in a function and everything it called, counted once per stack even when recursive. */
function inclusiveTimes(profile: CpuProfile, nodes: Map<number, ProfileNode>, selfUs: Map<number, number>): Map<string, number> {
  const totals = new Map<string, number>();
  const walk = (id: number, onStack: Set<string>): number => {
    const node = nodes.get(id)!;
    const name = `${node.callFrame.functionName || "(anonymous)"} ${where(node.callFrame)}`;
    const fresh = !onStack.has(name);
    if (fresh) onStack.add(name);
    const time =
      (node.callFrame.functionName === "(idle)" ? 0 : (selfUs.get(id) ?? 0)) + (node.children ?? []).reduce((sum, child) => sum + walk(child, onStack), 0);
    if (fresh) {
      onStack.delete(name);
      add(totals, name, time);
    }
    return time;
  };
  walk(profile.nodes[0]!.id, new Set());
  return totals;
}

function add(totals: Map<string, number>, key: string, us: number): void {
  totals.set(key, (totals.get(key) ?? 0) + us);
}

function ranked(totals: Map<string, number>, busyUs: number): HotSpot[] {
  return [...totals].map(([name, us]) => ({ name, share: us / busyUs })).sort((a, b) => b.share - a.share);
}

function fileOf(url: string): string {
  if (!url.startsWith("file://")) return url;
  return relative(process.cwd(), fileURLToPath(url));
}

function where(frame: ProfileNode["callFrame"]): string {
  const file = fileOf(frame.url);
  return file ? `(${file}:${frame.lineNumber + 1})` : "";
}

async function main(args: readonly string[]): Promise<void> {
  const [path, top = "25"] = args;
  if (!path) throw new Error("usage: profile-summary <file.cpuprofile> [top]");
  const summary = summarize(JSON.parse(await readFile(path, "utf8")) as CpuProfile);
  const table = (title: string, spots: HotSpot[]): string =>
    [`${title}`, ...spots.slice(0, Number(top)).map((spot) => `${(spot.share * 100).toFixed(1).padStart(5)}%  ${spot.name}`)].join("\n");
  console.log(`${path}: ${summary.busyMs.toFixed(0)} ms busy`);
  console.log(table("\nself time by function", summary.byFunction));
  console.log(table("\nself time by file", summary.byFile));
  console.log(table("\ninclusive time by function", summary.inclusive));
}

await main(process.argv.slice(2));
