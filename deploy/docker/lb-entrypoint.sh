#!/bin/bash
# One of the two load balancers: Keepalived shares the virtual IP (LB_VIP)
# with the peer at LB_PEER over unicast VRRP on the compose bridge, and
# HAProxy serves. When either dies the container exits, taking the other
# with it, and the peer takes the address within about three advertisement
# intervals. Both start as BACKUP with nopreempt, so a
# balancer that comes back does not take the address back and cause a
# second switch.
set -eu
: "${LB_VIP:?set LB_VIP to the virtual IP clients use}"
: "${LB_PEER:?set LB_PEER to the address of the other balancer}"
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
# A container restarted after a kill keeps the old pid files, and Keepalived
# would take them for a running instance and exit at once.
rm -f /run/keepalived.pid /run/vrrp.pid
keepalived --dont-fork --log-console --vrrp &
haproxy -W -db -f /etc/haproxy/haproxy.cfg &
trap 'kill $(jobs -p) 2>/dev/null' TERM INT
wait -n
echo "raftkv-lb: keepalived or haproxy exited; stopping the balancer" >&2
kill $(jobs -p) 2>/dev/null
exit 1
