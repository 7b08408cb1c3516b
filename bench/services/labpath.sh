#!/usr/bin/env bash
# New-connection latency from a pod on node-1 to a pod on node-2 in the lab: weft's whole data
# plane as a node runs it (socket-level balancer, pod traffic without conntrack, the fabric's
# fast path) against the same two nodes with no rules at all.
#
#   bench/services/labpath.sh [BUILD_DIR]     (root; default build)
#   env: CONNECTS (3000), ROUNDS (5), PIN_CPU (1), FABRIC (host-gw), SERVICES (10000: Services
#        in the lab, all leading to the server pod; the first and the last are measured)
#
# Planes, each the p50 of CONNECTS blocking connect()s (connlat: client in pod "client" on
# node-1, listener in pod "server" on node-2, port 8080), ROUNDS rounds:
#   weft-first, weft-last   through the first and the last Service's ClusterIP, as the
#                client pod runs (lab exec: in node-1's cgroup, where the socket-level balancer
#                is attached)
#   weft-direct  straight to the server pod's address, same lab, same rules
#   none         the same two pods after every nft table and tc program of both nodes is
#                removed: plain routing, conntrack off (the agents are stopped first)
#   ct-on        none plus a nat table on both nodes: conntrack sees every connection
# weft-first|last / weft-direct is what a Service costs inside weft's data plane; against none
# it is the issue's "within 1.10x of no rules".
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/services/lib.sh
BUILD=${1:-build}
CONNECTS=${CONNECTS:-3000}
ROUNDS=${ROUNDS:-5}
FABRIC=${FABRIC:-host-gw}
WEFT=$(realpath "$BUILD/src/cli/weft")
ninja -C "$BUILD" src/cli/weft bench/services/connlat >/dev/null
CONNLAT=$(realpath "$BUILD/bench/services/connlat")
LAB=lpath$$
TMP=$(mktemp -d /tmp/weft-bench-labpath.XXXXXX)
lab() { "$WEFT" lab --name "$LAB" "$@"; }
trap 'lab down >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT

cat >"$TMP/m.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: server, labels: {app: server}}
spec:
  nodeName: node-2
  containers: [{name: idle, image: idle, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: node-1
  containers: [{name: idle, image: idle, command: [sleep, infinity]}]
YAML
SERVICES=${SERVICES:-10000}
python3 - "$SERVICES" >>"$TMP/m.yaml" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f"""---
apiVersion: v1
kind: Service
metadata: {{name: s{i}}}
spec:
  selector: {{app: server}}
  ports: [{{port: 8080, targetPort: 8080}}]""")
PY
lab up -f "$TMP/m.yaml" --nodes 2 --no-dns --fabric "$FABRIC" >/dev/null
for _ in $(seq 100); do
	[ "$(lab get pods | grep -c ' Running ')" -eq 2 ] && break
	sleep 0.1
done
json() { lab get "$@" -o json; }
server_ip=$(json pod server | sed -n 's/^ *"podIP": "\(.*\)",*$/\1/p')
client_ip=$(json pod client | sed -n 's/^ *"podIP": "\(.*\)",*$/\1/p')
vip() { json service "$1" | sed -n 's/^ *"clusterIP": "\(.*\)",*$/\1/p' | head -1; }
first=$(vip s0)
last=$(vip "s$((SERVICES - 1))")
pod_ns() { # the pod namespace holding address $1
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep "^weft-$LAB-p-"); do
		if ip -n "$ns" -4 addr show 2>/dev/null | grep -q " $1/"; then echo "$ns"; fi
	done
}
srv_ns=$(pod_ns "$server_ip")
cli_ns=$(pod_ns "$client_ip")
[ -n "$srv_ns" ] && [ -n "$cli_ns" ] && [ -n "$first" ] && [ -n "$last" ] ||
	{ echo "labpath: server $server_ip ($srv_ns), client $client_ip ($cli_ns), VIPs '$first' '$last'" >&2; exit 1; }
echo "lab $LAB, fabric $FABRIC: client $client_ip (node-1) -> server $server_ip (node-2); $SERVICES Services, first $first, last $last, port 8080"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

PIN=(taskset -c "${PIN_CPU:-1}")
# in the client pod as its processes run (node-1's cgroup): lab exec
in_pod() { lab exec client -- "${PIN[@]}" "$CONNLAT" "$1" 8080 "$CONNECTS" "/run/netns/$srv_ns" | p50_field; }
# in the client pod's namespace only, outside any cgroup of the lab
in_ns() { ip netns exec "$cli_ns" "${PIN[@]}" "$CONNLAT" "$1" 8080 "$CONNECTS" "/run/netns/$srv_ns" | p50_field; }

declare -A R
add() { R[$1]="${R[$1]:-} $2"; }
# every node's agent has every Service in its maps before anything is measured
synced() {
	local n
	for n in node-1 node-2; do
		grep -q "load balancer in sync\" keys=$SERVICES " "/run/weft/lab/$LAB/logs/agent-$n.log" ||
			return 1
	done
}
for _ in $(seq 600); do synced && break; sleep 0.1; done
synced || { echo "labpath: the agents did not sync $SERVICES Services" >&2; exit 1; }
in_pod "$last" >/dev/null
for r in $(seq "$ROUNDS"); do
	add weft-first "$(in_pod "$first")"
	add weft-last "$(in_pod "$last")"
	add weft-direct "$(in_pod "$server_ip")"
done
nodes=(weft-$LAB-node-1 weft-$LAB-node-2)
entries=$(for n in "${nodes[@]}"; do ip netns exec "$n" cat /proc/net/nf_conntrack; done |
	grep -c "$client_ip" || true)
echo "conntrack entries of the client on both nodes after the weft rounds: $entries"

# no rules: stop the agents (they would put their tables back), then clear both nodes
for n in "${nodes[@]}"; do
	for pid in $(ip netns pids "$n"); do
		[ "$(cat /proc/"$pid"/comm 2>/dev/null)" = weft ] &&
			grep -q agent /proc/"$pid"/cmdline 2>/dev/null && kill "$pid"
	done
done
sleep 1
for n in "${nodes[@]}"; do
	ip netns exec "$n" nft flush ruleset
	for d in $(ip -n "$n" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
		tc -n "$n" qdisc del dev "$d" clsact 2>/dev/null || true
	done
done
for r in $(seq "$ROUNDS"); do
	add none "$(in_ns "$server_ip")"
done
for n in "${nodes[@]}"; do
	[ -z "$(ip netns exec "$n" nft list ruleset)" ] ||
		echo "warning: $n has rules again: the none rounds are not what they say" >&2
done
for n in "${nodes[@]}"; do
	ct_on_table | ip netns exec "$n" nft -f -
done
for r in $(seq "$ROUNDS"); do
	add ct-on "$(in_ns "$server_ip")"
done

echo "pod (node-1) -> pod (node-2), p50 of $CONNECTS connects, median of $ROUNDS rounds (us):"
report_rows none weft-direct none ct-on weft-direct weft-first weft-last
