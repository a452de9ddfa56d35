# raftkv member image: the workspace built with pnpm on node:20-slim.
# docker-compose.yml runs it; deploy/docker/entrypoint.sh turns the service's
# environment into `raftkv serve` flags. scripts/docker-images.sh builds it
# (and, where no registry answers, stand-ins for its base image first).
FROM node:20-slim AS build
WORKDIR /app
COPY . .
# The build context may carry the host's installs and builds; start clean so
# the image holds only what its own install and build made.
RUN find . -name node_modules -type d -prune -exec rm -rf {} + \
 && find . -name dist -type d -prune -exec rm -rf {} + \
 && rm -rf .git
# A machine behind a TLS-intercepting proxy trusts it through a CA bundle:
# NPM_CA_FILE names one placed in the build context, used by this step only
# and removed by it. Elsewhere the argument is empty and nothing changes.
ARG NPM_CA_FILE=
RUN if [ -n "$NPM_CA_FILE" ]; then export NODE_EXTRA_CA_CERTS="/app/$NPM_CA_FILE"; fi \
 && npm install --global --no-fund --no-audit pnpm@10 \
 && pnpm install --frozen-lockfile \
 && pnpm run build \
 && rm -f "/app/$NPM_CA_FILE"

FROM node:20-slim
# iptables: the harness's docker driver partitions members from inside their containers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
COPY deploy/docker/entrypoint.sh /usr/local/bin/raftkv-entrypoint
RUN chmod +x /usr/local/bin/raftkv-entrypoint
VOLUME /data
EXPOSE 2379 2380
ENTRYPOINT ["raftkv-entrypoint"]
