#!/usr/bin/env bash
# The service proxy in the lab: `weft agent` on every node programs Services; judged from a
# pod, from the nodes and from the outside host with curl.
#   WEFT=path/to/weft lab-proxy.sh LAB_LIB_DIR
LAB=e2p$$
source "$1/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
trap cleanup EXIT
"$WEFT" agent --help >/dev/null 2>&1 || { echo "SKIP: this build has no weft agent"; exit 77; }
check "up with the proxy manifests" lab up -f "$HERE/lab/proxy.yaml" --nodes 2
snapshot
ready() { lab get pods | grep -c ' 1/1 *Running' | grep -qx 4; }
check "pods running" eventually 40 ready
x() { lab exec "$@"; }
check "ClusterIP by name from a pod" eventually 20 bash -c "\"$WEFT\" lab --name $LAB exec client -- curl -sS -m 2 http://web/ | grep -q '^pod=web-'"
sticky() {
	local seen
	seen=$(for _ in $(seq 30); do x client -- curl -s -m 2 http://sticky/ | awk '{print $1}'; done | sort -u)
	[ "$(echo "$seen" | wc -l)" -eq 1 ] && [[ "$seen" == pod=web-* ]]
}
check "ClientIP affinity: 30 requests, one pod" sticky

# Socket-level load balancing (on by default): the client pod's connect() to a ClusterIP is
# rewritten in the socket, so the kernel's peer is an endpoint, getpeername() still says the
# VIP, and no node's conntrack holds a DNATed entry for the VIP; UDP replies come from the VIP.
SLB="$HERE/socklb-client.py"
WEB_VIP=$(lab get svc web | awk '$1 == "web" {print $3}')
slb_attached() {
	for n in node-1 node-2; do
		x --node $n -- curl -sf -m 2 http://127.0.0.1:9402/metrics | grep -qx 'weft_proxy_socket_lb 1' || return 1
	done
}
check "socket-LB attached and in sync on every node" eventually 10 slb_attached
vip_ct() { # conntrack entries of every node whose original destination is the VIP
	for n in node-1 node-2; do ip netns exec "weft-$LAB-$n" cat /proc/net/nf_conntrack; done | grep -c "dst=$WEB_VIP " || true
}
tcp_socklb() {
	local out
	out=$(x client -- python3 "$SLB" tcp "$WEB_VIP" 80) || return 1
	echo "$out"
	[[ "$out" == "getpeername=$WEB_VIP:80 kernel_peer=10.244."*":8080" ]] && [ "$(vip_ct)" = 0 ]
}
check "TCP to a ClusterIP: endpoint as the kernel's peer, the VIP from getpeername(), no DNAT entry" tcp_socklb
udp_socklb() {
	local out
	out=$(x client -- python3 "$SLB" udp "$WEB_VIP" 53) || return 1
	echo "$out"
	[ "$out" = "reply_from=$WEB_VIP:53 connected_reply_from=$WEB_VIP:53 getpeername=$WEB_VIP:53" ] &&
		[ "$(vip_ct)" = 0 ]
}
check "UDP to a ClusterIP: replies from the VIP (sendto and connected), no DNAT entry" udp_socklb
# An agent restart: the new agent's programs replace the old ones and take over their maps
# (adopted, nothing rewritten), so pods stay balanced in the socket throughout. The restarted
# agent runs in the node's namespace, where `lab down` finds and stops it.
restart_agent() {
	local p args=() log="/run/weft/lab/$LAB/logs/agent-node-1.log"
	for p in $(awk '$1 == "pid" {print $2}' "/run/weft/lab/$LAB/created"); do
		tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qx node-1 || continue
		tr '\0' '\n' <"/proc/$p/cmdline" | sed -n 2p | grep -qx agent || continue
		mapfile -t args < <(tr '\0' '\n' <"/proc/$p/cmdline")
		kill "$p"
		break
	done
	[ ${#args[@]} -gt 0 ] || { echo "node-1's agent not found"; return 1; }
	# nsenter, not ip netns exec: the agent must see the cgroup2 mount under /sys
	nsenter --net="/run/netns/weft-$LAB-node-1" "${args[@]}" >>"$log" 2>&1 &
	eventually 10 grep -q 'msg="socket-level load balancer in sync" keys=[1-9][0-9]* adopted=[1-9]' "$log" &&
		grep 'load balancer in sync' "$log" | tail -1
}
check "agent restart: the socket-LB maps taken over" restart_agent
check "TCP to a ClusterIP after the restart: still in the socket" tcp_socklb
# The same pod's namespace entered by a process outside the node's cgroup: no socket-LB, so the
# nft table DNATs it - the entry the checks above did not find.
CLIENT_NS=$(x client -- sh -c 'ip netns identify $$')
nft_path() {
	ip netns exec "$CLIENT_NS" curl -sS -m 2 "http://$WEB_VIP/" | grep -q '^pod=web-' && [ "$(vip_ct)" -ge 1 ]
}
check "outside the node's cgroup the nft table serves the pod (a DNAT entry)" nft_path
SOLO_NODE=$(lab get pods -o wide 2>/dev/null | awk '/^solo-/ {for (i=1;i<=NF;i++) if ($i ~ /^node-/) print $i}' | head -1)
SOLO=$(lab get pods | awk '/^solo-/ {print $1}' | head -1)
# A pod reaching itself: weft-cni sets hairpin mode on the pod's bridge port (the lab's conflist
# has hairpinMode: true), and the proxy masquerades the hairpinned flow - both are checked here.
for ns in $(ip netns list | awk -v p="weft-$LAB-node" 'index($1, p) == 1 {print $1}'); do
	for port in $(ip -n "$ns" -o link show master cni0 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip -n "$ns" -d link show "$port" | grep -q "hairpin on" ||
			{ echo "FAIL: bridge port $port in $ns has no hairpin mode"; exit 1; }
	done
done
check "hairpin: the solo pod reaches itself through its Service" bash -c "\"$WEFT\" lab --name $LAB exec $SOLO -- curl -sS -m 2 http://solo/ | grep -q '^pod=$SOLO .*client=10\\.244\\.'"
OUTSIDE=$(x --outside -- ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1)
for n in node-1 node-2; do
	NIP=$(lab get node $n -o json | grep -m1 -o '172\.30\.[0-9]*\.[0-9]*')
	if [ "$n" = "$SOLO_NODE" ]; then
		check "eTP=Local NodePort on $n (has the pod) keeps the client IP" bash -c "\"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$NIP:30081/ | grep -q 'client=$OUTSIDE:'"
	else
		check "eTP=Local NodePort on $n (no local pod) drops" bash -c "! \"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$NIP:30081/"
	fi
done
check "down" lab down
check "down leaves nothing" nothing_left

# --no-socket-lb: the nft table alone serves pods' Service connections.
check "up --no-socket-lb" lab up -f "$HERE/lab/proxy.yaml" --nodes 2 --no-socket-lb
snapshot
check "pods running (no socket-LB)" eventually 40 ready
WEB_VIP=$(lab get svc web | awk '$1 == "web" {print $3}')
slb_off() {
	for n in node-1 node-2; do
		x --node $n -- curl -sf -m 2 http://127.0.0.1:9402/metrics | grep -qx 'weft_proxy_socket_lb 0' || return 1
	done
}
check "no socket-LB on any node" slb_off
nft_only() {
	x client -- curl -sS -m 2 "http://$WEB_VIP/" | grep -q '^pod=web-' && [ "$(vip_ct)" -ge 1 ] &&
		x client -- python3 "$SLB" udp "$WEB_VIP" 53 | grep -q "^reply_from=$WEB_VIP:53 "
}
check "a pod reaches the ClusterIP through the nft table (TCP, UDP)" nft_only
check "down (no socket-LB)" lab down
check "down leaves nothing (no socket-LB)" nothing_left
finish
