#!/usr/bin/env bash
# New-connection latency from a pod to a pod through a Service, in the topology a node has:
# a client pod namespace, the node namespace (where the data plane lives) and a server pod
# namespace, joined by veth pairs and routed by the node. run.sh measures the same in one
# namespace (client, rules and endpoints together); here the node forwards, as it does for
# pods, so the cost of each plane shows against the forwarding it adds to.
#
#   bench/services/podpath.sh [BUILD_DIR] [N]     (root; default build-bench, 10000)
#   env: CONNECTS (3000), ROUNDS (3: each plane is measured ROUNDS times, interleaved),
#        PIN_CPU (1), SOCKLB (auto: measure weft+socklb when the build has it)
#
# Planes, each p50 of CONNECTS blocking connect()s (connlat, client in the client pod,
# listener in the server pod):
#   none      nothing in the node namespace: no rules, no conntrack; straight to an endpoint
#   ct-on     a nat table in the node: conntrack sees every connection; straight to an endpoint
#   nat1      one static DNAT of the first VIP: the least a DNAT-based proxy does
#   weft-nft  weft's table with N services, through the first and the last VIP
#   weft-sock weft's table with --pod-notrack and the socket-level balancer attached to a
#             cgroup the client runs in, through the first and the last VIP
# The server pod owns the endpoint addresses (10.250.0.0/16, local there); the cluster CIDR,
# 10.240.0.0/12, holds them and the pods' interfaces (10.244.1.0/24, 10.244.2.0/24).
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/services/lib.sh
BUILD=${1:-build-bench}
N=${2:-10000}
CONNECTS=${CONNECTS:-3000}
ROUNDS=${ROUNDS:-3}
[ -d "$BUILD" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" bench/services/connlat bench/services/proxy-apply-bench >/dev/null
CONNLAT=$(realpath "$BUILD/bench/services/connlat")
APPLY=$(realpath "$BUILD/bench/services/proxy-apply-bench")
WORK=$(mktemp -d /tmp/weft-bench-podpath.XXXXXX)
P=wpp-$$
C=$P-c S=$P-s NODE=$P-n
CG=
cleanup() {
	for ns in $C $S $NODE; do ip netns del "$ns" 2>/dev/null || true; done
	[ -n "$CG" ] && rmdir "$CG" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

python3 bench/services/gen.py "$N" "$WORK/gen" >/dev/null
read -r first last <"$WORK/gen/vips"
ep1=10.250.0.1 # an endpoint of the first service (gen.py numbers endpoints from here)

for ns in $C $S $NODE; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip link add vc netns $NODE type veth peer name eth0 netns $C
ip link add vs netns $NODE type veth peer name eth0 netns $S
ip -n $NODE addr add 10.244.1.1/24 dev vc
ip -n $NODE addr add 10.244.2.1/24 dev vs
ip -n $NODE link set vc up
ip -n $NODE link set vs up
ip -n $C addr add 10.244.1.2/24 dev eth0
ip -n $S addr add 10.244.2.2/24 dev eth0
ip -n $C link set eth0 up
ip -n $S link set eth0 up
ip -n $C route add default via 10.244.1.1
ip -n $S route add default via 10.244.2.1
ip -n $S route add local 10.250.0.0/16 dev lo
ip -n $NODE route add 10.250.0.0/16 via 10.244.2.2
ip netns exec $NODE sysctl -qw net.ipv4.ip_forward=1

PIN=()
command -v taskset >/dev/null && PIN=(taskset -c "${PIN_CPU:-1}")
# p50 of connects from the client pod (in cgroup $2 when given) to $1
p50() {
	local cmd=(ip netns exec $C "${PIN[@]}" "$CONNLAT" "$1" 8080 "$CONNECTS" /run/netns/$S)
	if [ -n "${2:-}" ]; then
		# the shell joins the cgroup, then becomes connlat: its sockets are the cgroup's
		bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$2" "${cmd[@]}"
	else
		"${cmd[@]}"
	fi | p50_field
}
node_nft() { ip netns exec $NODE nft "$@"; }
weft_apply() { # extra flags for proxy-apply-bench
	# nsenter, not ip netns exec: that remounts /sys, and the cgroup path must stay visible
	echo "apply $WORK/gen/weft.yaml" | nsenter --net=/run/netns/$NODE "$APPLY" --node node-1 \
		--node-ip 192.168.0.1 --cluster-cidr 10.240.0.0/12 \
		"$@" >"$WORK/apply.out"
	if grep -q '^error' "$WORK/apply.out"; then
		cat "$WORK/apply.out" >&2
		exit 1
	fi
}

have_socklb=0
if [ "${SOCKLB:-auto}" != 0 ] && "$APPLY" --help 2>&1 | grep -q -- --socket-lb-cgroup; then
	cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
	if [ -n "$cg2" ]; then
		CG=$cg2/weft-bench-podpath-$$
		mkdir "$CG"
		have_socklb=1
	fi
fi

declare -A R
add() { R[$1]="${R[$1]:-} $2"; }
for round in $(seq "$ROUNDS"); do
	node_nft flush ruleset
	add none "$(p50 $ep1)"
	ct_on_table | node_nft -f -
	add ct-on "$(p50 $ep1)"
	node_nft flush ruleset
	node_nft -f - <<-NFT
	table ip natfloor {
		chain pre { type nat hook prerouting priority dstnat; policy accept; ip daddr $first tcp dport 8080 dnat to $ep1:8080; }
		chain post { type nat hook postrouting priority srcnat; policy accept; }
	}
	NFT
	add nat1 "$(p50 "$first")"
	node_nft flush ruleset
	weft_apply
	add weft-nft-first "$(p50 "$first")"
	add weft-nft-last "$(p50 "$last")"
	# the notrack half alone: weft's table with --pod-notrack, the client straight to an
	# endpoint, as the socket-level balancer would send it
	node_nft flush ruleset
	weft_apply --pod-notrack
	add weft-notrack-direct "$(p50 $ep1)"
	if [ $have_socklb = 1 ]; then
		node_nft flush ruleset
		weft_apply --pod-notrack --socket-lb-cgroup "$CG"
		add weft-sock-first "$(p50 "$first" "$CG")"
		add weft-sock-last "$(p50 "$last" "$CG")"
	fi
done
echo "pod -> Service -> pod through a node, N=$N services, p50 of $CONNECTS connects, median of $ROUNDS interleaved rounds (us):"
report_rows none ct-on none ct-on nat1 weft-nft-first weft-nft-last weft-notrack-direct \
	weft-sock-first weft-sock-last
