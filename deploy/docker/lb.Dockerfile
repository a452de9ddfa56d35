# The load balancer in front of the compose cluster: HAProxy, and Keepalived
# holding the virtual IP clients use, shared by two such containers (lb1,
# lb2) over VRRP. Debian's packages: HAProxy 2.6 and Keepalived 2.2 on
# bookworm, hence a name of its own (raftkv-lb) rather than haproxy's.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy keepalived iproute2 \
 && rm -rf /var/lib/apt/lists/*
COPY deploy/docker/haproxy.cfg /etc/haproxy/haproxy.cfg
COPY deploy/docker/relay.cfg /etc/haproxy/relay.cfg
COPY deploy/docker/lb-entrypoint.sh /usr/local/bin/raftkv-lb-entrypoint
RUN chmod +x /usr/local/bin/raftkv-lb-entrypoint && haproxy -c -f /etc/haproxy/haproxy.cfg >/dev/null \
 && haproxy -c -f /etc/haproxy/relay.cfg >/dev/null
EXPOSE 2379
ENTRYPOINT ["raftkv-lb-entrypoint"]
