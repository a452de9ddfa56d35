#!/bin/sh
# Starts one compose member. Its name (RAFTKV_NAME) is also its host name on
# the compose network; the founding members are n1…nN for N =
# RAFTKV_CLUSTER_SIZE (default 3), so one service definition serves both the
# 3-node cluster and the 5-node profile. RAFTKV_INITIAL_CLUSTER overrides the
# list; every other RAFTKV_* variable reaches `raftkv serve` as it is.
# The member runs from the bundle every launcher starts (see
# packages/cli/src/member-process.ts, whose MEMBER_NODE_FLAGS and MEMBER_ENV
# belong here too).
set -eu
# glibc's allocator, as MEMBER_ENV sets it: large blocks in mappings of their own.
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
: "${RAFTKV_NAME:?set RAFTKV_NAME to the member name (n1, n2, ...)}"
size="${RAFTKV_CLUSTER_SIZE:-3}"
members=""
i=1
while [ "$i" -le "$size" ]; do
  members="${members:+$members,}n$i=http://n$i:2380"
  i=$((i + 1))
done
exec node /app/packages/cli/dist/raftkv-serve-loader.cjs serve \
  --data-dir /data \
  --listen-client-urls http://0.0.0.0:2379 \
  --advertise-client-urls "http://$RAFTKV_NAME:2379" \
  --listen-peer-urls http://0.0.0.0:2380 \
  --initial-advertise-peer-urls "http://$RAFTKV_NAME:2380" \
  --initial-cluster "${RAFTKV_INITIAL_CLUSTER:-$members}" \
  "$@"
