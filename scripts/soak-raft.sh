#!/usr/bin/env bash
# Runs the Raft simulator for many schedules (default 100,000) in chunks of
# 20,000, from a private copy of the build so that rebuilding meanwhile is safe.
# Usage: scripts/soak-raft.sh [total] [log file]
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-100000}
log=${2:-/dev/stdout}
copy=$(mktemp -d)
cp -r packages/raft/dist packages/raft/package.json "$copy/"
ln -s "$PWD/packages/raft/node_modules" "$copy/node_modules"
chunk=20000
for ((done_runs = 0; done_runs < total; done_runs += chunk)); do
  runs=$(( total - done_runs < chunk ? total - done_runs : chunk ))
  RAFTKV_SIM_RUNS=$runs node --test "$copy/dist/test/simulation.test.js" 2>&1 \
    | grep -E "simulated|^ok|^not ok|Counterexample|seed" >> "$log"
done
rm -rf "$copy"
