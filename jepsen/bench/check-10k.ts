/**
 * How long the checker takes on 10,000-operation register histories from
 * the generator, linearizable and not. Run: pnpm --filter @raftkv/jepsen bench
 */
import { checkHistory, generateRegisterHistory, injectAnomaly, registerModel, type GeneratorOptions, type HistoryEvent } from "../src/index.js";

const OPERATIONS = 10_000;
const RUNS = 3;

interface Scenario {
  readonly name: string;
  readonly history: () => HistoryEvent[];
}

const generated = (options: Omit<GeneratorOptions, "operations">) => () => generateRegisterHistory({ ...options, operations: OPERATIONS });

const scenarios: Scenario[] = [
  { name: "1 key, 10 processes", history: generated({ seed: 1, processes: 10 }) },
  { name: "1 key, 10 processes, 5% crashes, values 0-4", history: generated({ seed: 1, processes: 10, crashRate: 0.05, values: 5 }) },
  { name: "1 key, 20 processes, 2% crashes", history: generated({ seed: 1, processes: 20, crashRate: 0.02 }) },
  { name: "10 keys, 10 processes, 5% crashes", history: generated({ seed: 1, processes: 10, keys: 10, crashRate: 0.05 }) },
  {
    name: "1 key, 10 processes, 5% crashes, stale read",
    history: () => injectAnomaly(generated({ seed: 1, processes: 10, crashRate: 0.05 })(), "stale-read", 1)!.events,
  },
];

for (const { name, history } of scenarios) {
  const events = history();
  const timings: number[] = [];
  let verdict: unknown;
  for (let run = 0; run < RUNS; run++) {
    const result = checkHistory(events, registerModel);
    timings.push(result.elapsedMs);
    verdict = result.valid;
  }
  const median = timings.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
  console.log(`${name.padEnd(48)} ${String(verdict).padEnd(6)} ${Math.round(median).toString().padStart(6)} ms`);
}
