/**
 * Partition shapes as grudges: for each node, the peers whose packets it
 * drops. Every shape here is symmetric (if a drops b, b drops a), so dropping
 * incoming packets on both sides cuts a link in both directions.
 */
import type { Random } from "./random.js";

export type PartitionShape = "halves" | "isolate-leader" | "ring" | "bridge";
export const PARTITION_SHAPES: readonly PartitionShape[] = ["halves", "isolate-leader", "ring", "bridge"];

/** Node name to the names it cannot hear from. */
export type Grudge = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * How a partition cuts a link: `drop` loses packets silently, as a cut cable
 * does, and TCP retransmits what was lost once it heals; `reset` answers
 * with a TCP reset, so connections die at once and nothing sent across the
 * cut arrives later.
 */
export type Cut = "drop" | "reset";

/**
 * The iptables arguments (after `-s <peer>`) that carry out each kind of cut
 * on INPUT. A reset is let through, so that the other side of a cut, which
 * has the same rule, hears it.
 */
export const CUT_RULES: Readonly<Record<Cut, readonly string[]>> = {
  drop: ["-j", "DROP"],
  reset: ["-p", "tcp", "!", "--tcp-flags", "RST", "RST", "-j", "REJECT", "--reject-with", "tcp-reset"],
};

/** Cuts every link between the components; a node hears only its own component. */
export function splitInto(components: readonly (readonly string[])[]): Grudge {
  const grudge = new Map<string, Set<string>>();
  for (const component of components) {
    const others = components.filter((other) => other !== component).flat();
    for (const node of component) grudge.set(node, new Set(others));
  }
  return grudge;
}

/** Two random sides, the smaller one a minority. */
export function halves(nodes: readonly string[], random: Random): Grudge {
  const shuffled = random.shuffle(nodes);
  const cut = Math.floor(nodes.length / 2);
  return splitInto([shuffled.slice(0, cut), shuffled.slice(cut)]);
}

/** The leader alone on one side. */
export function isolate(nodes: readonly string[], lonely: string): Grudge {
  return splitInto([[lonely], nodes.filter((node) => node !== lonely)]);
}

/**
 * Each node hears only its nearest neighbours on a ring, as many on each side
 * as make a majority with itself: every node sees a majority, but neighbours
 * see different ones. A classic way to confuse leader election. On three
 * nodes every node is everyone's neighbour, so nothing is cut.
 */
export function ring(nodes: readonly string[], random: Random): Grudge {
  const order = random.shuffle(nodes);
  const reach = Math.ceil(Math.floor(nodes.length / 2) / 2);
  const grudge = new Map<string, Set<string>>();
  order.forEach((node, i) => {
    const heard = new Set<string>();
    for (let step = -reach; step <= reach; step++) heard.add(order[(i + step + order.length) % order.length]!);
    grudge.set(node, new Set(nodes.filter((other) => !heard.has(other))));
  });
  return grudge;
}

/**
 * Two halves that cannot hear each other, and one node in the middle that
 * hears both: the bridge is in a majority with each side.
 */
export function bridge(nodes: readonly string[], random: Random): Grudge {
  const [middle, ...rest] = random.shuffle(nodes);
  const cut = Math.floor(rest.length / 2);
  const [left, right] = [rest.slice(0, cut), rest.slice(cut)];
  const grudge = splitInto([left, right]);
  return new Map([...grudge, [middle!, new Set<string>()]]);
}

/** The grudge as text for logs and reports: `n1 -x- n2, n3`. */
export function describeGrudge(grudge: Grudge): string {
  const cuts = [...grudge].filter(([, dropped]) => dropped.size > 0).map(([node, dropped]) => `${node} -x- ${[...dropped].sort().join(",")}`);
  return cuts.length === 0 ? "no cuts" : cuts.join("; ");
}
