# raftkv member image: the workspace built with pnpm on node:20-slim.
# docker-compose.yml runs it; deploy/docker/entrypoint.sh turns the service's
# environment into `raftkv serve` flags.
FROM node:20-slim AS build
WORKDIR /app
RUN npm install --global pnpm@10
COPY . .
# The build context may carry the host's installs and builds; start clean so
# the image holds only what its own install and build made.
RUN find . -name node_modules -type d -prune -exec rm -rf {} + \
 && find . -name dist -type d -prune -exec rm -rf {} + \
 && rm -rf .git
RUN pnpm install --frozen-lockfile && pnpm run build

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
