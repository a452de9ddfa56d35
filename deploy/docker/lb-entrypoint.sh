#!/bin/sh
# One of the two load balancers: Keepalived shares the virtual IP (LB_VIP)
# with the peer at LB_PEER over unicast VRRP on the compose bridge, and
# HAProxy serves in the foreground. When HAProxy dies the container exits,
# taking Keepalived with it, and the peer takes the address within about
# three advertisement intervals. Both start as BACKUP with nopreempt, so a
# balancer that comes back does not take the address back and cause a
# second switch.
set -eu
: "${LB_VIP:?set LB_VIP to the virtual IP clients use}"
: "${LB_PEER:?set LB_PEER to the other balancer's address}"
self="$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -1)"
prefix="$(ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f2 | head -1)"
cat >/etc/keepalived/keepalived.conf <<CONF
global_defs {
  router_id ${HOSTNAME:-lb}
  vrrp_version 3
  script_user root
  enable_script_security
}
vrrp_instance raftkv {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id ${LB_ROUTER_ID:-51}
  priority ${LB_PRIORITY:-100}
  advert_int 0.5
  unicast_src_ip $self
  unicast_peer {
    $LB_PEER
  }
  virtual_ipaddress {
    $LB_VIP/$prefix dev eth0
  }
}
CONF
keepalived --dont-fork --log-console --vrrp &
exec haproxy -W -db -f /etc/haproxy/haproxy.cfg
