#!/usr/bin/env bash
# End-to-end test of pod traffic without conntrack (the proxy's --pod-notrack; docs/services.md,
# "Pod traffic without conntrack"): pod-to-pod flows through the node leave no conntrack entry,
# and everything this node NATs still works both ways - which is what the rule set must
# guarantee, since an untracked reply is never un-NATed:
#   - a pod on another node reaching a hostPort of this node (a DNAT made by the CNI's table,
#     not the proxy's), and a NodePort with externalTrafficPolicy Local;
#   - a pod reaching a ClusterIP through the nft DNAT (what the socket-level balancer
#     normally takes over), over TCP and UDP;
#   - the node itself talking to a pod, a pod reaching itself through its Service.
# Topology: a "node" namespace with a bridge and two pods, an outside host on the underlay, and
# "node-2" on a second link, whose pod 10.244.2.5 is a namespace of its own routed through it.
#
#   notrack-e2e.sh PROXY_APPLY ECHO_SERVER UDP_CLIENT
set -uo pipefail
APPLY=$1 SERVER=$2 UDPC=$3
S=$$
NODE=wnt-node-$S PA=wnt-a-$S PB=wnt-b-$S N2=wnt-n2-$S
DIR=$(mktemp -d /tmp/weft-notrack-e2e.XXXXXX)
pids=()
fails=0

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in $NODE $PA $PB $N2; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap "exit 1" INT TERM

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- topology ----
for n in $NODE $PA $PB $N2; do ip netns add "$n" && nsx "$n" ip link set lo up; done
nsx $NODE sysctl -qw net.ipv4.ip_forward=1
nsx $NODE ip link add cni0 type bridge
nsx $NODE ip addr add 10.244.1.1/24 dev cni0
nsx $NODE ip link set cni0 up
i=10
for p in $PA $PB; do
	nsx $NODE ip link add "v$i" type veth peer name eth0 netns "$p"
	nsx $NODE ip link set "v$i" master cni0 up
	nsx $NODE ip link set "v$i" type bridge_slave hairpin on
	nsx "$p" ip addr add "10.244.1.$i/24" dev eth0
	nsx "$p" ip link set eth0 up
	nsx "$p" ip route add default via 10.244.1.1
	i=$((i + 1))
done
# node-2 and its pod: one namespace holding the pod's address, reached over the underlay
# as host-gw routes it (its traffic arrives with the pod's address, not masqueraded)
nsx $NODE ip link add eth0 type veth peer name eth0 netns $N2
nsx $NODE ip addr add 192.168.60.1/24 dev eth0
nsx $NODE ip link set eth0 up
nsx $N2 ip addr add 192.168.60.2/24 dev eth0
nsx $N2 ip addr add 10.244.2.5/32 dev lo
nsx $N2 ip link set eth0 up
nsx $N2 ip route add default via 192.168.60.1 src 10.244.2.5
nsx $N2 ip route replace 192.168.60.0/24 dev eth0 src 10.244.2.5
nsx $NODE ip route add 10.244.2.0/24 via 192.168.60.2

ip netns exec $PA python3 "$SERVER" pod-a >"$DIR/a.log" 2>&1 &
pids+=($!)
ip netns exec $PB python3 "$SERVER" pod-b >"$DIR/b.log" 2>&1 &
pids+=($!)
ip netns exec $N2 python3 "$SERVER" pod-r >"$DIR/r.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	grep -q ready "$DIR/a.log" && grep -q ready "$DIR/b.log" && grep -q ready "$DIR/r.log" && break
	sleep 0.1
done

# A hostPort as weft-cni programs it (its own table, DNAT only): node:8888 -> pod-b:8080.
nsx $NODE nft -f - <<-'NFT'
table inet hostport_test {
	chain prerouting { type nat hook prerouting priority dstnat; fib daddr type local tcp dport 8888 dnat ip to 10.244.1.11:8080; }
}
NFT

cat >"$DIR/all.yaml" <<-'Y'
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: e2e}
spec:
  clusterIP: 10.96.0.10
  ports: [{name: http, port: 80, targetPort: 8080}, {name: dns, port: 53, protocol: UDP, targetPort: 5353}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: e2e, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}, {name: dns, port: 5353, protocol: UDP}]
endpoints:
- {addresses: [10.244.1.10], nodeName: node-1}
- {addresses: [10.244.1.11], nodeName: node-1}
---
apiVersion: v1
kind: Service
metadata: {name: hair, namespace: e2e}
spec:
  clusterIP: 10.96.0.50
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: hair-1, namespace: e2e, labels: {kubernetes.io/service-name: hair}}
addressType: IPv4
ports: [{port: 8080}]
endpoints:
- {addresses: [10.244.1.10], nodeName: node-1}
---
apiVersion: v1
kind: Service
metadata: {name: nplocal, namespace: e2e}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  clusterIP: 10.96.0.41
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: nplocal-1, namespace: e2e, labels: {kubernetes.io/service-name: nplocal}}
addressType: IPv4
ports: [{port: 8080}]
endpoints:
- {addresses: [10.244.1.11], nodeName: node-1}
Y
# applied twice: the second run reconciles against what the first installed (as an agent
# restart does), which must keep the node's own addresses in @nodepodaddrs4
for run in 1 2; do
	echo "apply $DIR/all.yaml" | nsenter --net=/run/netns/$NODE "$APPLY" --node node-1 \
		--node-ip 192.168.60.1 --cluster-cidr 10.244.0.0/16 --pod-notrack \
		>"$DIR/apply.log" 2>&1
	grep -q '^ok kind=full' "$DIR/apply.log" && ok "full load with --pod-notrack ($run)" ||
		{ fail "load: $(cat "$DIR/apply.log")"; exit 1; }
	nsx $NODE nft list set inet weft nodepodaddrs4 | grep -q '10\.244\.1\.1\b' &&
		ok "the node's gateway stays tracked (@nodepodaddrs4)" ||
		fail "@nodepodaddrs4: $(nsx $NODE nft list set inet weft nodepodaddrs4 | tr -s '\n\t' ' ')"
done

get() { nsx "$1" curl -s --max-time 3 "$2"; }
# conntrack entries of the node between two addresses (either direction)
ct_between() { nsx $NODE cat /proc/net/nf_conntrack | grep -E "src=$1 dst=$2 |src=$2 dst=$1 "; }

# 1. pod to pod through the node: answered, untracked
r=$(get $PA http://10.244.2.5:8080/)
[ "$r" = "pod-r 10.244.1.10" ] && ok "pod to a pod on node-2 ($r)" || fail "pod to remote pod: '$r'"
r=$(get $N2 http://10.244.1.11:8080/)
[ "$r" = "pod-b 10.244.2.5" ] && ok "a pod on node-2 to a pod here ($r)" || fail "remote pod to pod: '$r'"
n=$(ct_between 10.244.1.10 10.244.2.5 | wc -l)
m=$(ct_between 10.244.2.5 10.244.1.11 | wc -l)
[ "$n" -eq 0 ] && [ "$m" -eq 0 ] && ok "pod-to-pod flows left no conntrack entry" ||
	fail "pod-to-pod conntrack entries: $n and $m"

# 2. what a DNAT on this node rewrites from a pod is masqueraded, so its replies are tracked
r=$(get $N2 http://192.168.60.1:8888/)
[ "$r" = "pod-b 10.244.1.1" ] && ok "node-2's pod to a hostPort here, masqueraded ($r)" ||
	fail "remote pod to hostPort: '$r'"
r=$(get $N2 http://192.168.60.1:30081/)
[ "$r" = "pod-b 10.244.1.1" ] && ok "node-2's pod to an eTP=Local NodePort, masqueraded ($r)" ||
	fail "remote pod to eTP=Local NodePort: '$r'"
seen=$(for _ in $(seq 20); do get $PA http://10.96.0.10/ | cut -d' ' -f1; done | sort -u | tr '\n' ' ')
[ "$seen" = "pod-a pod-b " ] && ok "pod to a ClusterIP through the nft DNAT reaches both" ||
	fail "ClusterIP endpoints seen: '$seen'"
peer=$(get $PA http://10.96.0.10/ | cut -d' ' -f2)
[ "$peer" = 10.244.1.1 ] && ok "...masqueraded ($peer)" || fail "ClusterIP peer '$peer'"
u=$(nsx $PA python3 "$UDPC" 10.96.0.10 53 | cut -d' ' -f1)
[[ "$u" == pod-? ]] && ok "UDP to a ClusterIP ($u)" || fail "UDP to a ClusterIP: '$u'"
r=$(get $PA http://10.96.0.50/)
[ "$r" = "pod-a 10.244.1.1" ] && ok "hairpin ($r)" || fail "hairpin: '$r'"

# 3. the node and a pod: tracked both ways (the reply comes to a node address)
r=$(get $NODE http://10.244.1.11:8080/)
[ "$r" = "pod-b 10.244.1.1" ] && ok "node to pod ($r)" || fail "node to pod: '$r'"
ct_between 10.244.1.1 10.244.1.11 | grep -q ASSURED && ok "...tracked, replies seen" ||
	fail "node to pod: no assured conntrack entry"

echo "$fails failed"
[ "$fails" -eq 0 ]
