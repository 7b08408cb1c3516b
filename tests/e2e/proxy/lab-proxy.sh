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
finish
