/** What a benchmark's results say about where they were measured. */
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";

export function describeCpus(): string {
  const all = cpus();
  return `${all.length} × ${all[0]?.model.trim() ?? "unknown CPU"}`;
}

export function etcdVersion(): string | undefined {
  const output = spawnSync("etcd", ["--version"], { encoding: "utf8" }).stdout ?? "";
  return /etcd Version: (\S+)/.exec(output)?.[1];
}
