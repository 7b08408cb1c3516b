#!/usr/bin/env bash
# The fabric end to end, without the lab (root):
#
#   underlay netns: bridge br0 ── veth ── node-1 netns ── cni0 ── pod 1a, pod 1b
#                              ├─ veth ── node-2 netns ── cni0 ── pod 2a
#                              └─ veth ── node-3 netns ── cni0 ── pod 3a
#
# Node manifests (dual-stack podCIDRs, InternalIPs) in a temp dir; one `weft agent` per node
# netns. Checks: pod-to-pod on one node and across nodes (IPv4 and IPv6), node-to-pod, the
# largest packet that fits (ping -M do) and one byte more, a full-size TCP stream (iperf3),
# node removal and re-addition, and an agent restart that keeps routes (no packet lost) and
# removes stale ones while leaving other routes alone. The eBPF fast path: installed on the
# fabric link and the pod ports, carrying a bulk stream (the nodes' forwarding path sees only
# its handshake and close), leaving NATed flows to the stack (a ClusterIP and an
# externalTrafficPolicy: Local NodePort reached across nodes, bulk data both ways), and
# removed by an agent restarted with --no-fastpath.
#
#   fabric.sh vxlan|host-gw|vxlan6 WEFT       WEFT: the weft binary (run as "WEFT agent ARGS")
set -uo pipefail

mode=$1
agent=$2
fabric=$mode
underlay6=0
if [ "$mode" = vxlan6 ]; then # the overlay over an IPv6 underlay: IPv6 InternalIPs only
	fabric=vxlan
	underlay6=1
fi
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }

id=$$
pfx="wf-fab-$id"
U="$pfx-u"
tmp=$(mktemp -d "/tmp/weft-fabric-e2e.XXXXXX")
pids=()
failures=0

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$pfx-"); do
		ip netns delete "$ns"
	done
	if [ "$failures" -gt 0 ]; then
		for f in "$tmp"/agent-*.log; do echo "--- $f"; tail -30 "$f"; done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM

fail() {
	echo "FAIL: $* [${SECONDS}s]"
	failures=$((failures + 1))
}
ok() { echo "ok: $* [${SECONDS}s]"; }
check() { # check DESCRIPTION CMD...
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$what"; else fail "$what"; sed 's/^/    /' "$tmp/out"; fi
}
check_not() {
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then fail "$what (unexpectedly succeeded)"; else ok "$what"; fi
}
# wait_for SECONDS CMD...: polls until CMD succeeds.
wait_for() {
	local t=$(($1 * 10))
	shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}
nsx() { # nsx NS CMD...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

underlay_mtu=1500
case $mode in
vxlan) pod_mtu=1450 ;;  # underlay - 50 (RFC 7348 over IPv4)
vxlan6) pod_mtu=1430 ;; # underlay - 70 (over IPv6)
*) pod_mtu=1500 ;;
esac

# ---- topology ----
ip netns add "$U"
ip -n "$U" link add br0 type bridge
ip -n "$U" link set br0 up
for n in 1 2 3; do
	N="$pfx-n$n"
	ip netns add "$N"
	ip -n "$N" link set lo up
	ip -n "$U" link add "n$n" mtu $underlay_mtu type veth peer name eth0 mtu $underlay_mtu netns "$N"
	ip -n "$U" link set "n$n" master br0 up
	ip -n "$N" addr add "192.168.77.$n/24" dev eth0
	ip -n "$N" addr add "fd77::$n/64" dev eth0 nodad
	ip -n "$N" link set eth0 up
	ip -n "$N" link add cni0 type bridge
	ip -n "$N" addr add "10.244.$n.1/24" dev cni0
	ip -n "$N" addr add "fd00:244:$n::1/64" dev cni0 nodad
	ip -n "$N" link set cni0 mtu $pod_mtu up
	pods="a"
	[ "$n" = 1 ] && pods="a b"
	k=2
	for p in $pods; do
		P="$pfx-p$n$p"
		ip netns add "$P"
		ip -n "$P" link set lo up
		ip -n "$N" link add "p$n$p" mtu $pod_mtu type veth peer name eth0 mtu $pod_mtu netns "$P"
		ip -n "$N" link set "p$n$p" master cni0 up
		ip -n "$P" addr add "10.244.$n.$k/24" dev eth0
		ip -n "$P" addr add "fd00:244:$n::$k/64" dev eth0 nodad
		ip -n "$P" link set eth0 up
		ip -n "$P" route add default via "10.244.$n.1"
		ip -n "$P" -6 route add default via "fd00:244:$n::1"
		k=$((k + 1))
	done
done

manifests="$tmp/objects"
mkdir "$manifests"
write_node() { # write_node N: atomically, as the lab does
	local n=$1
	cat >"$manifests/.node-$n.tmp" <<EOF
apiVersion: v1
kind: Node
metadata:
  name: node-$n
spec:
  podCIDR: 10.244.$n.0/24
  podCIDRs: [10.244.$n.0/24, "fd00:244:$n::/64"]
status:
  addresses:
  - {type: InternalIP, address: "fd77::$n"}
  - {type: Hostname, address: node-$n}
EOF
	if [ "$underlay6" = 0 ]; then
		sed -i "s/^  addresses:\$/  addresses:\n  - {type: InternalIP, address: 192.168.77.$n}/" \
			"$manifests/.node-$n.tmp"
	fi
	mv "$manifests/.node-$n.tmp" "$manifests/node-$n.yaml"
}
for n in 1 2 3; do write_node "$n"; done
echo "topology up [${SECONDS}s]"

agent_pid=()
start_agent() { # start_agent N [AGENT OPTIONS]
	local n=$1
	shift
	# --no-socket-lb: its default cgroup is the host's root one (this test has no cgroup)
	ip netns exec "$pfx-n$n" "$agent" agent --manifests "$manifests" --node-name "node-$n" \
		--fabric "$fabric" --admin 127.0.0.1:9402 --no-socket-lb "$@" >>"$tmp/agent-$n.log" 2>&1 &
	agent_pid[$n]=$!
	pids+=($!)
}
ready() { nsx "$pfx-n$1" curl -sf --max-time 1 http://127.0.0.1:9402/readyz; }
for n in 1 2 3; do start_agent "$n"; done
for n in 1 2 3; do
	check "node-$n agent ready" wait_for 10 ready "$n"
done
check "/healthz answers" nsx "$pfx-n1" curl -sf http://127.0.0.1:9402/healthz
nsx "$pfx-n1" curl -sf http://127.0.0.1:9402/metrics >"$tmp/metrics"
check "/metrics shows 2 peers" grep -qx 'weft_fabric_peers 2' "$tmp/metrics"
check "/metrics shows the pod MTU" grep -qx "weft_fabric_pod_mtu $pod_mtu" "$tmp/metrics"

# ---- what got installed ----
routes() { ip -n "$pfx-n$1" route show proto 87; ip -n "$pfx-n$1" -6 route show proto 87; }
routes 1 >"$tmp/routes"
check "node-1 routes node-2's and node-3's podCIDRs" \
	bash -c "grep -q '^10.244.2.0/24' $tmp/routes && grep -q '^10.244.3.0/24' $tmp/routes && grep -q '^fd00:244:2::/64' $tmp/routes"
check_not "node-1 has no fabric route to its own podCIDR" grep -q '^10.244.1.0/24' "$tmp/routes"
if [ "$mode" = vxlan6 ]; then
	check "weft.vxlan MTU is underlay - 70" \
		bash -c "ip -n $pfx-n1 -d link show weft.vxlan | grep -q 'mtu $pod_mtu '"
	check "weft.vxlan over IPv6: local fd77::1" \
		bash -c "ip -n $pfx-n1 -d link show weft.vxlan | grep -q 'vxlan id 1 local fd77::1 dev eth0 .*dstport 8472 nolearning'"
	check "FDB entry for node-2's VTEP (IPv6)" \
		bash -c "bridge -n $pfx-n1 fdb show dev weft.vxlan | grep -q 'dst fd77::2 '"
elif [ "$mode" = vxlan ]; then
	check "weft.vxlan MTU is underlay - 50" \
		bash -c "ip -n $pfx-n1 -d link show weft.vxlan | grep -q 'mtu $pod_mtu .*'"
	check "weft.vxlan: VNI 1, port 8472, nolearning" \
		bash -c "ip -n $pfx-n1 -d link show weft.vxlan | grep -q 'vxlan id 1 local 192.168.77.1 dev eth0 .*dstport 8472 nolearning'"
	check "FDB entry for node-2's VTEP" \
		bash -c "bridge -n $pfx-n1 fdb show dev weft.vxlan | grep -q '0e:57:c0:a8:4d:02 dst 192.168.77.2'"
	check "route via the overlay, onlink" \
		bash -c "grep -q '^10.244.2.0/24 via 10.244.2.0 dev weft.vxlan .*onlink' $tmp/routes"
else
	check "route via node-2's InternalIP" \
		bash -c "grep -q '^10.244.2.0/24 via 192.168.77.2 dev eth0' $tmp/routes && grep -q '^fd00:244:2::/64 via fd77::2 dev eth0' $tmp/routes"
fi

# ---- traffic ----
check "pod 1a -> pod 1b (same node)" nsx "$pfx-p1a" ping -c 2 -i 0.2 -W 2 10.244.1.3
check "pod 1a -> pod 2a (across nodes)" nsx "$pfx-p1a" ping -c 2 -i 0.2 -W 2 10.244.2.2
check "pod 2a -> pod 3a (across nodes)" nsx "$pfx-p2a" ping -c 2 -i 0.2 -W 2 10.244.3.2
check "pod 1a -> pod 3a over IPv6" nsx "$pfx-p1a" ping -6 -c 2 -i 0.2 -W 2 fd00:244:3::2
check "node-1 -> pod 2a" nsx "$pfx-n1" ping -c 2 -i 0.2 -W 2 10.244.2.2
max4=$((pod_mtu - 28))
max6=$((pod_mtu - 48))
check "ping -M do -s $max4 (largest IPv4 that fits) across nodes" \
	nsx "$pfx-p1a" ping -M do -s $max4 -c 2 -i 0.2 -W 2 10.244.2.2
check_not "ping -M do -s $((max4 + 1)) fails" \
	nsx "$pfx-p1a" ping -M do -s $((max4 + 1)) -c 1 -W 2 10.244.2.2
check "ping -6 -M do -s $max6 (largest IPv6 that fits) across nodes" \
	nsx "$pfx-p1a" ping -6 -M do -s $max6 -c 2 -i 0.2 -W 2 fd00:244:2::2
check "node-1 -> pod 2a, ping -M do -s $max4" \
	nsx "$pfx-n1" ping -M do -s $max4 -c 2 -i 0.2 -W 2 10.244.2.2
check_not "node-1 -> pod 2a, ping -M do -s $((max4 + 1)) fails" \
	nsx "$pfx-n1" ping -M do -s $((max4 + 1)) -c 1 -W 2 10.244.2.2

# ---- the eBPF fast path (docs/internals/fabric.md "Fast path") ----
fablink=eth0
[ "$fabric" = vxlan ] && fablink=weft.vxlan
fp_on() { # fp_on N: both programs attached on node N
	nsx "$pfx-n$1" tc filter show dev "$fablink" ingress | grep 'wf_from_fabric' >/dev/null &&
		nsx "$pfx-n$1" tc filter show dev "p$1a" ingress | grep 'wf_from_pod' >/dev/null
}
check "fast path attached on node-1 ($fablink, pod port)" wait_for 5 fp_on 1
check "fast path attached on node-2 ($fablink, pod port)" wait_for 5 fp_on 2
check "/metrics: weft_fabric_fastpath 1" grep -qx 'weft_fabric_fastpath 1' "$tmp/metrics"
forwarded() { nsx "$pfx-n$1" awk '/^Ip:/ {n++; if (n == 2) print $7}' /proc/net/snmp; }

nsx "$pfx-p2a" iperf3 -s -1 -p 5201 >"$tmp/iperf-s" 2>&1 &
srv=$!
pids+=($srv)
wait_for 5 nsx "$pfx-p2a" bash -c "ss -ltn | grep -q :5201"
bridge_tx() { nsx "$pfx-n$1" cat /sys/class/net/cni0/statistics/tx_packets; }
fwd1=$(forwarded 1)
fwd2=$(forwarded 2)
btx2=$(bridge_tx 2)
check "full-size TCP stream pod 1a -> pod 2a (iperf3, 2 s)" \
	nsx "$pfx-p1a" iperf3 -c 10.244.2.2 -p 5201 -t 2 -f m
grep -E 'sender|receiver' "$tmp/out" | sed 's/^/    /'
kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null
# Without the fast path every segment and ACK of the stream (tens of thousands) is forwarded
# by both nodes; with it only the handshake and the close are.
n=$(($(forwarded 1) - fwd1))
check "the stream took the fast path: node-1 forwarded $n packets (< 100)" test "$n" -lt 100
n=$(($(forwarded 2) - fwd2))
check "the stream took the fast path: node-2 forwarded $n packets (< 100)" test "$n" -lt 100
# ... and node-2 handed it to pod 2a's veth directly (bpf_redirect_peer), not through cni0
n=$(($(bridge_tx 2) - btx2))
check "the stream skipped node-2's bridge: cni0 sent $n packets (< 100)" test "$n" -lt 100

# NATed flows stay with the stack. The replies of a ClusterIP flow DNATed on node-1 arrive on
# its fabric link from 10.244.2.2 and must be un-NATed there; a NodePort with
# externalTrafficPolicy: Local is DNATed on node-2 without SNAT, so its replies leave pod 2a
# for pod 1a (another node's podCIDR) and must be un-NATed on node-2. Were either taken by the
# fast path, pod 1a would get segments from 10.244.2.2, which it never connected to.
printf '%s\n' \
	'apiVersion: v1' \
	'kind: Service' \
	'metadata: {name: bulk, namespace: default}' \
	'spec:' \
	'  clusterIP: 10.96.77.7' \
	'  type: NodePort' \
	'  externalTrafficPolicy: Local' \
	'  selector: {app: bulk}' \
	'  ports: [{port: 5201, targetPort: 5201, nodePort: 30777}]' \
	'---' \
	'apiVersion: discovery.k8s.io/v1' \
	'kind: EndpointSlice' \
	'metadata:' \
	'  name: bulk-1' \
	'  namespace: default' \
	'  labels: {kubernetes.io/service-name: bulk}' \
	'addressType: IPv4' \
	'ports: [{port: 5201}]' \
	'endpoints:' \
	'- {addresses: [10.244.2.2], nodeName: node-2, conditions: {ready: true}}' \
	>"$manifests/.svc.tmp"
mv "$manifests/.svc.tmp" "$manifests/svc.yaml"
svc_ready() { nsx "$pfx-n$1" nft list table inet weft | grep 10.96.77.7 >/dev/null; }
check "ClusterIP programmed on node-1" wait_for 5 svc_ready 1
check "ClusterIP programmed on node-2" wait_for 5 svc_ready 2
targets="10.96.77.7:5201"
[ "$underlay6" = 0 ] && targets="$targets 192.168.77.2:30777"
for addr in $targets; do
	for dir in "" "-R"; do
		nsx "$pfx-p2a" iperf3 -s -1 -p 5201 >"$tmp/iperf-s" 2>&1 &
		srv=$!
		pids+=($srv)
		wait_for 5 nsx "$pfx-p2a" bash -c "ss -ltn | grep -q :5201"
		check "bulk TCP pod 1a -> $addr -> pod 2a, NATed ${dir:-(upload)} (iperf3, 1 s)" \
			nsx "$pfx-p1a" timeout 20 iperf3 -c "${addr%:*}" -p "${addr#*:}" -t 1 $dir -f m
		grep -E 'receiver' "$tmp/out" | sed 's/^/    /'
		kill "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	done
done
rm "$manifests/svc.yaml"

# ---- node removal and re-addition ----
rm "$manifests/node-3.yaml"
# (grep without -q: with pipefail, an early exit would fail the pipeline through SIGPIPE)
gone3() { ! routes "$1" | grep '^10.244.3.0/24' >/dev/null; }
check "node-3 removed: route gone on node-1" wait_for 5 gone3 1
check "node-3 removed: route gone on node-2" wait_for 5 gone3 2
if [ "$fabric" = vxlan ]; then
	check_not "node-3 removed: FDB entry gone" \
		bash -c "bridge -n $pfx-n1 fdb show dev weft.vxlan | grep -qE 'dst (192.168.77.3|fd77::3) '"
fi
check_not "pod 1a -> pod 3a fails without node-3" \
	nsx "$pfx-p1a" ping -c 1 -W 1 10.244.3.2
write_node 3
back3() { routes "$1" | grep '^10.244.3.0/24' >/dev/null; }
check "node-3 back: route on node-1" wait_for 5 back3 1
check "node-3 back: pod 1a -> pod 3a" nsx "$pfx-p1a" ping -c 2 -i 0.2 -W 2 10.244.3.2

# ---- agent restart: no flush, stale entries removed, others' routes kept ----
nsx "$pfx-p1a" ping -c 60 -i 0.05 -W 1 10.244.2.2 >"$tmp/ping-restart" 2>&1 &
pinger=$!
pids+=($pinger)
sleep 0.3
kill -TERM "${agent_pid[1]}"
wait "${agent_pid[1]}"
check "agent exits 0 on SIGTERM" test $? -eq 0
check_not "agent exits without sanitizer reports" grep -q Sanitizer "$tmp/agent-1.log"
check "routes survive the agent" back3 1
if [ "$fabric" = vxlan ]; then
	ip -n "$pfx-n1" route add 10.244.99.0/24 via 10.244.99.0 dev weft.vxlan onlink proto 87
else
	ip -n "$pfx-n1" route add 10.244.99.0/24 via 192.168.77.2 proto 87
fi
ip -n "$pfx-n1" route add 10.244.98.0/24 via 192.168.77.2 proto static
: >"$tmp/agent-1.log"
start_agent 1
check "restarted agent ready" wait_for 10 ready 1
wait "$pinger"
check "no packet lost across the restart" grep -q ' 0% packet loss' "$tmp/ping-restart"
stale() { ! ip -n "$pfx-n1" route show proto 87 | grep '^10.244.99.0/24' >/dev/null; }
check "stale weft route removed" wait_for 5 stale
check "someone else's route kept" bash -c "ip -n $pfx-n1 route show | grep -q '^10.244.98.0/24'"
check "restart re-added nothing, removed the stale route" \
	grep -q 'msg="routes updated" peers=2 routes=4 added=0 removed=1' "$tmp/agent-1.log"
check "pod 1a -> pod 2a after the restart" nsx "$pfx-p1a" ping -c 2 -i 0.2 -W 2 10.244.2.2

# ---- --no-fastpath removes the fast path; traffic goes on through the forwarding path ----
kill -TERM "${agent_pid[2]}"
wait "${agent_pid[2]}"
start_agent 2 --no-fastpath
check "agent with --no-fastpath ready" wait_for 10 ready 2
fp_gone() {
	! nsx "$pfx-n2" tc filter show dev "$fablink" ingress | grep wf_ >/dev/null &&
		! nsx "$pfx-n2" tc filter show dev p2a ingress | grep wf_ >/dev/null
}
check "--no-fastpath: programs detached on node-2" wait_for 5 fp_gone
check "--no-fastpath: pod 1a -> pod 2a" nsx "$pfx-p1a" ping -c 2 -i 0.2 -W 2 10.244.2.2

# ---- a kernel that refuses the programs (here: no CAP_BPF / CAP_SYS_ADMIN): said once, the
# routes carry on ----
if command -v setpriv >/dev/null; then
	kill -TERM "${agent_pid[3]}"
	wait "${agent_pid[3]}"
	: >"$tmp/agent-3.log"
	ip netns exec "$pfx-n3" setpriv --inh-caps=-bpf,-sys_admin,-perfmon \
		--bounding-set=-bpf,-sys_admin,-perfmon "$agent" agent --manifests "$manifests" \
		--node-name node-3 --fabric "$fabric" --admin 127.0.0.1:9402 --no-socket-lb \
		>>"$tmp/agent-3.log" 2>&1 &
	agent_pid[3]=$!
	pids+=($!)
	check "agent without CAP_BPF ready" wait_for 10 ready 3
	check "agent without CAP_BPF: 'fast path unavailable' logged" \
		grep -q 'msg="fast path unavailable, pods use the kernel.s forwarding path"' "$tmp/agent-3.log"
	check "agent without CAP_BPF: pod 1a -> pod 3a" nsx "$pfx-p1a" ping -c 2 -i 0.2 -W 2 10.244.3.2
fi

# ---- host-gw: a node on another segment is reported, the others stay routed ----
if [ "$mode" = host-gw ]; then
	cat >"$manifests/.node-4.tmp" <<EOF
{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-4"},
 "spec": {"podCIDRs": ["10.244.4.0/24"]},
 "status": {"addresses": [{"type": "InternalIP", "address": "172.16.9.4"}]}}
EOF
	mv "$manifests/.node-4.tmp" "$manifests/node-4.json"
	check "node-4 off-link: reported clearly" \
		wait_for 5 grep -q 'error="node node-4 (172.16.9.4) is not on-link: host-gw needs every node on one L2 segment' "$tmp/agent-2.log"
	check "node-4 off-link: the other nodes stay routed" \
		nsx "$pfx-p2a" ping -c 1 -W 2 10.244.3.2
	rm "$manifests/node-4.json"
	check "node-4 gone: the agent recovers" wait_for 5 grep -q 'msg="sync recovered"' "$tmp/agent-2.log"
fi

echo "$mode: $failures failure(s)"
[ "$failures" -eq 0 ]
