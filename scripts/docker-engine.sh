#!/usr/bin/env bash
# Starts or stops a Docker engine for the container tests, leaving the
# host's firewall as it found it: dockerd runs without its own iptables
# rules (--iptables=false --ip-masq=false), which would otherwise set the
# FORWARD policy to DROP and break bridges dockerd did not make (the
# fault-injection harness's namespaces). Nothing the tests run needs them:
# image builds use the host's network, containers talk over their own
# bridge, and published ports go through docker-proxy.
#
#   scripts/docker-engine.sh start   # no-op when an engine already answers
#   scripts/docker-engine.sh stop    # stops only an engine this script started
set -euo pipefail
STATE=/run/raftkv-dockerd
LOG=/tmp/raftkv-dockerd.log

start() {
  if docker info >/dev/null 2>&1; then echo "docker-engine: an engine already answers; using it"; return; fi
  mkdir -p "$STATE"
  local driver
  for driver in overlay2 vfs; do
    dockerd --storage-driver "$driver" --iptables=false --ip-masq=false --pidfile "$STATE/dockerd.pid" >"$LOG" 2>&1 &
    for _ in $(seq 1 60); do
      if docker info >/dev/null 2>&1; then echo "docker-engine: dockerd started (storage driver $driver)"; return; fi
      kill -0 $! 2>/dev/null || break
      sleep 0.5
    done
    kill $! 2>/dev/null || true
    wait $! 2>/dev/null || true
    echo "docker-engine: dockerd with $driver did not start"; tail -5 "$LOG"
  done
  exit 1
}

stop() {
  [ -f "$STATE/dockerd.pid" ] || return 0
  local pid
  pid="$(cat "$STATE/dockerd.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  rm -rf "$STATE"
  echo "docker-engine: dockerd stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
