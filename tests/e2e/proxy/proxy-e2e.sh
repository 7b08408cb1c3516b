#!/usr/bin/env bash
# End-to-end test of the service proxy without the lab: a "node" network namespace with a
# bridge and three "pod" namespaces, plus an "outside" host on the node's underlay link. The
# real engine and nft backend (proxy-apply) program the node; curl, bash's /dev/tcp and a UDP
# client judge from the pods and from outside.
#
#   proxy-e2e.sh PROXY_APPLY ECHO_SERVER UDP_CLIENT
set -uo pipefail
APPLY=$1 SERVER=$2 UDPC=$3
S=$$
NODE=wpx-node-$S PA=wpx-a-$S PB=wpx-b-$S PC=wpx-c-$S OUT=wpx-out-$S
DIR=$(mktemp -d /tmp/weft-proxy-e2e.XXXXXX)
pids=()
fails=0
driver=

cleanup() {
	[ -n "$driver" ] && kill "$driver" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in $NODE $PA $PB $PC $OUT; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$DIR"
}
trap cleanup EXIT
trap "exit 1" INT TERM

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# Background processes are started with ip netns exec itself (it execs the command), not with
# nsx: a backgrounded function is a subshell whose pid is not the command's, and cleanup would
# leave the command running.

# ---- topology ----
for n in $NODE $PA $PB $PC $OUT; do ip netns add "$n" && nsx "$n" ip link set lo up; done
nsx $NODE sysctl -qw net.ipv4.ip_forward=1
nsx $NODE sysctl -qw net.ipv6.conf.all.forwarding=1
nsx $NODE ip link add cni0 type bridge
nsx $NODE ip addr add 10.244.1.1/24 dev cni0
nsx $NODE ip addr add fd00:10:244:1::1/64 dev cni0 nodad
nsx $NODE ip link set cni0 up
i=10
for p in $PA $PB $PC; do
	nsx $NODE ip link add "v$i" type veth peer name eth0 netns "$p"
	nsx $NODE ip link set "v$i" master cni0 up
	# As the bridge CNI plugin's hairpinMode does: with br_netfilter, a pod's packet DNATed
	# back to itself leaves through the port it came in by.
	nsx $NODE ip link set "v$i" type bridge_slave hairpin on
	nsx "$p" ip addr add "10.244.1.$i/24" dev eth0
	nsx "$p" ip addr add "fd00:10:244:1::$i/64" dev eth0 nodad
	nsx "$p" ip link set eth0 up
	nsx "$p" ip route add default via 10.244.1.1
	nsx "$p" ip -6 route add default via fd00:10:244:1::1
	i=$((i + 1))
done
nsx $NODE ip link add eth0 type veth peer name eth0 netns $OUT
nsx $NODE ip addr add 192.168.50.1/24 dev eth0
nsx $NODE ip link set eth0 up
nsx $OUT ip addr add 192.168.50.2/24 dev eth0
nsx $OUT ip link set eth0 up
nsx $OUT ip route add default via 192.168.50.1
nsx $NODE ip route add default via 192.168.50.2
# No cloud here: the outside host routes the LoadBalancer addresses to the node.
nsx $OUT ip route add 192.168.50.100/30 via 192.168.50.1

ip netns exec $PA python3 "$SERVER" pod-a >"$DIR/a.log" 2>&1 &
pids+=($!)
ip netns exec $PB python3 "$SERVER" pod-b >"$DIR/b.log" 2>&1 &
pids+=($!)
for i in $(seq 50); do
	grep -q ready "$DIR/a.log" && grep -q ready "$DIR/b.log" && break
	sleep 0.1
done

# ---- manifests ----
svc() { # name ip ports-yaml [extra spec yaml]
	cat <<-Y
	---
	apiVersion: v1
	kind: Service
	metadata: {name: $1, namespace: e2e}
	spec:
	  clusterIP: $2
	  selector: {app: $1}
	  ports: $3
	${4:-}
	Y
}
eps() { # [--v6] name ports-yaml endpoint-lines...
	local family=IPv4
	[ "$1" = --v6 ] && { family=IPv6; shift; }
	local name=$1 ports=$2
	shift 2
	cat <<-Y
	---
	apiVersion: discovery.k8s.io/v1
	kind: EndpointSlice
	metadata:
	  name: $name-1
	  namespace: e2e
	  labels: {kubernetes.io/service-name: $name}
	addressType: $family
	ports: $ports
	endpoints:
	Y
	for e in "$@"; do echo "- $e"; done
}
A='{addresses: [10.244.1.10], nodeName: node-1}'
B='{addresses: [10.244.1.11], nodeName: node-1}'
R='{addresses: [10.244.2.5], nodeName: node-2}'
HTTP='[{port: 80, targetPort: 8080}]'
P8080='[{port: 8080}]'

write_manifests() { # dir phase [the sticky service's only endpoint]
	mkdir -p "$1"
	{
		svc web 10.96.0.10 '[{name: http, port: 80, targetPort: 8080}, {name: dns-tcp, port: 53, protocol: TCP, targetPort: 5353}, {name: dns-udp, port: 53, protocol: UDP, targetPort: 5353}]'
		eps web '[{name: http, port: 8080}, {name: dns-tcp, port: 5353, protocol: TCP}, {name: dns-udp, port: 5353, protocol: UDP}]' "$A" "$B"
		svc empty 10.96.0.20 '[{name: http, port: 80, targetPort: 8080, nodePort: 30020}, {name: dns, port: 53, protocol: UDP, nodePort: 30021}]' '  type: NodePort'
		svc sticky 10.96.0.30 "$HTTP" '  sessionAffinity: ClientIP'
		if [ -n "${3:-}" ]; then eps sticky "$P8080" "$3"; else eps sticky "$P8080" "$A" "$B"; fi
		svc web6 fd00:96::10 "$HTTP" '  ipFamilies: [IPv6]'
		eps --v6 web6 "$P8080" '{addresses: ["fd00:10:244:1::10"], nodeName: node-1}' \
			'{addresses: ["fd00:10:244:1::11"], nodeName: node-1}'
		svc sticky6 fd00:96::30 "$HTTP" '  sessionAffinity: ClientIP
  ipFamilies: [IPv6]'
		eps --v6 sticky6 "$P8080" '{addresses: ["fd00:10:244:1::10"], nodeName: node-1}' \
			'{addresses: ["fd00:10:244:1::11"], nodeName: node-1}'
		svc np 10.96.0.40 '[{port: 80, targetPort: 8080, nodePort: 30080}]' '  type: NodePort'
		eps np "$P8080" "$A" "$B"
		svc nplocal 10.96.0.41 '[{port: 80, targetPort: 8080, nodePort: 30081}]' '  type: NodePort
  externalTrafficPolicy: Local'
		eps nplocal "$P8080" "$A"
		svc npremote 10.96.0.42 '[{port: 80, targetPort: 8080, nodePort: 30082}]' '  type: NodePort
  externalTrafficPolicy: Local'
		eps npremote "$P8080" "$R"
		svc itp 10.96.0.43 "$HTTP" '  internalTrafficPolicy: Local'
		eps itp "$P8080" "$R"
		svc lb 10.96.0.80 '[{port: 80, targetPort: 8080, nodePort: 30090}]' '  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32000
  loadBalancerSourceRanges: [192.168.50.2/32]
status: {loadBalancer: {ingress: [{ip: 192.168.50.100}]}}'
		eps lb "$P8080" "$A"
		svc lbfw 10.96.0.81 '[{port: 80, targetPort: 8080, nodePort: 30091}]' '  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32001
  loadBalancerSourceRanges: [10.0.0.0/8]
status: {loadBalancer: {ingress: [{ip: 192.168.50.101}]}}'
		eps lbfw "$P8080" "$A"
		svc lbremote 10.96.0.82 '[{port: 80, targetPort: 8080, nodePort: 30092}]' '  type: LoadBalancer
  externalTrafficPolicy: Local
  healthCheckNodePort: 32002
status: {loadBalancer: {ingress: [{ip: 192.168.50.102}]}}'
		eps lbremote "$P8080" "$R"
		svc hair 10.96.0.50 "$HTTP"
		eps hair "$P8080" "$A"
		svc udp 10.96.0.60 '[{port: 53, protocol: UDP, targetPort: 5353}]'
		svc stream 10.96.0.70 '[{port: 9000}]'
		if [ "$2" = 1 ]; then
			eps udp '[{port: 5353, protocol: UDP}]' "$A"
			eps stream '[{port: 9000}]' "$A"
		else
			eps udp '[{port: 5353, protocol: UDP}]' "$B"
			eps stream '[{port: 9000}]' "$A" "$B"
		fi
	} >"$1/all.yaml"
}
write_manifests "$DIR/m1" 1
write_manifests "$DIR/m2" 2

# ---- the driver: the real engine, fed over a fifo ----
start_driver() {
	mkfifo "$DIR/ctl.$1"
	ip netns exec $NODE "$APPLY" --node node-1 --node-ip 192.168.50.1 --cluster-cidr 10.244.0.0/16 \
		<"$DIR/ctl.$1" >"$DIR/driver.$1.log" 2>&1 &
	driver=$!
	exec 7>"$DIR/ctl.$1"
}
apply() { # log-suffix dir
	local before
	before=$(grep -c '^ok\|^error' "$DIR/driver.$1.log")
	echo "apply $2" >&7
	for i in $(seq 100); do
		[ "$(grep -c '^ok\|^error' "$DIR/driver.$1.log")" -gt "$before" ] && break
		sleep 0.05
	done
	tail -1 "$DIR/driver.$1.log"
}
stop_driver() {
	exec 7>&-
	wait "$driver"
	driver=
}

start_driver 1
out=$(apply 1 "$DIR/m1")
case "$out" in ok\ kind=full*) ok "initial full load: $out" ;; *) fail "initial load: $out"; exit 1 ;; esac

get() { # ns url [curl args]: prints the body's first word(s)
	local ns=$1 url=$2
	shift 2
	nsx "$ns" curl -s --max-time 3 "$@" "$url"
}

# 1. ClusterIP balances over both endpoints
seen=$(for i in $(seq 40); do get $PC http://10.96.0.10/ | cut -d' ' -f1; done | sort -u | tr '\n' ' ')
[ "$seen" = "pod-a pod-b " ] && ok "ClusterIP reaches both endpoints" || fail "ClusterIP endpoints seen: '$seen'"
# pod -> ClusterIP keeps the pod's source (no masquerade inside the cluster CIDR)
peer=$(get $PC http://10.96.0.10/ | cut -d' ' -f2)
[ "$peer" = 10.244.1.12 ] && ok "pod source kept" || fail "pod source seen as '$peer'"

# 2. The same port over two protocols
t=$(get $PC http://10.96.0.10:53/ | cut -d' ' -f1)
u=$(nsx $PC python3 "$UDPC" 10.96.0.10 53 | cut -d' ' -f1)
[[ "$t" == pod-? && "$u" == pod-? ]] && ok "TCP and UDP on port 53 ($t, $u)" ||
	fail "port 53 tcp='$t' udp='$u'"

# 3. No endpoints: refused at once (TCP RST), not a timeout
t0=$(date +%s%N)
nsx $PC curl -s --max-time 5 http://10.96.0.20/ >/dev/null
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -eq 7 ] && [ $ms -lt 1000 ] && ok "no endpoints: refused in ${ms} ms" ||
	fail "no endpoints: curl rc=$rc after ${ms} ms (want 7, < 1000 ms)"
nsx $PC python3 "$UDPC" 10.96.0.20 53 2>"$DIR/udp.err" >/dev/null
grep -q refused "$DIR/udp.err" && ok "no endpoints: UDP gets ICMP unreachable" ||
	fail "no endpoints, UDP: $(cat "$DIR/udp.err")"
nsx $OUT curl -s --max-time 5 http://192.168.50.1:30020/ >/dev/null
rc=$?
[ $rc -eq 7 ] && ok "no endpoints: NodePort refused" || fail "no-endpoint NodePort rc=$rc"

# 4. ClientIP affinity sticks
seen=$(for i in $(seq 50); do get $PC http://10.96.0.30/ | cut -d' ' -f1; done | sort | uniq -c)
[ "$(echo "$seen" | wc -l)" -eq 1 ] && [ "$(echo "$seen" | awk '{print $1}')" -eq 50 ] &&
	ok "affinity: 50 requests, one endpoint ($(echo $seen))" || fail "affinity: $seen"
stuck=$(echo "$seen" | awk '{print $2}')
# ...over IPv6 too (those rules are written over netlink: nft 1.0.6 cannot)
seen6=$(for i in $(seq 30); do get $PC "http://[fd00:96::30]/" | cut -d' ' -f1; done | sort | uniq -c)
[ "$(echo "$seen6" | wc -l)" -eq 1 ] && [ "$(echo "$seen6" | awk '{print $1}')" -eq 30 ] &&
	ok "IPv6 affinity: 30 requests, one endpoint ($(echo $seen6))" || fail "IPv6 affinity: $seen6"
seen6=$(for i in $(seq 40); do get $PC "http://[fd00:96::10]/" | cut -d' ' -f1; done | sort -u | tr '\n' ' ')
[ "$seen6" = "pod-a pod-b " ] && ok "IPv6 ClusterIP reaches both endpoints" ||
	fail "IPv6 ClusterIP endpoints seen: '$seen6'"

# 5. NodePort from outside, masqueraded (eTP Cluster); not on localhost
r=$(get $OUT http://192.168.50.1:30080/)
[[ "$r" == "pod-"?" 10.244.1.1" ]] && ok "NodePort from outside, masqueraded ($r)" ||
	fail "NodePort from outside: '$r'"
nsx $NODE curl -s --max-time 2 http://127.0.0.1:30080/ >/dev/null
[ $? -ne 0 ] && ok "NodePort not served on localhost" || fail "NodePort answered on 127.0.0.1"
r=$(get $NODE http://10.96.0.40/ | cut -d' ' -f1)
[[ "$r" == pod-? ]] && ok "ClusterIP from the node itself ($r)" || fail "ClusterIP from node: '$r'"

# 6. externalTrafficPolicy Local: client IP kept; drop where no local endpoint
r=$(get $OUT http://192.168.50.1:30081/)
[ "$r" = "pod-a 192.168.50.2" ] && ok "eTP=Local keeps the client IP ($r)" || fail "eTP=Local: '$r'"
nsx $OUT curl -s --max-time 2 http://192.168.50.1:30082/ >/dev/null
rc=$?
[ $rc -eq 28 ] && ok "eTP=Local without local endpoints drops (timeout)" ||
	fail "eTP=Local without local endpoints: curl rc=$rc (want 28)"

# 6b. LoadBalancer: the ingress IP from outside, source ranges, healthCheckNodePort /healthz
r=$(get $OUT http://192.168.50.100/)
[ "$r" = "pod-a 192.168.50.2" ] && ok "LoadBalancer IP from an allowed source ($r)" ||
	fail "LoadBalancer IP: '$r'"
nsx $OUT curl -s --max-time 2 http://192.168.50.101/ >/dev/null
rc=$?
[ $rc -eq 28 ] && ok "loadBalancerSourceRanges drops other sources" || fail "LB source ranges: rc=$rc"
r=$(get $OUT http://192.168.50.1:30091/)
[ "$r" = "pod-a 192.168.50.2" ] && ok "...but not that service's NodePort ($r)" ||
	fail "NodePort of a source-ranged LB: '$r'"
r=$(nsx $OUT curl -s -w ' %{http_code}' --max-time 3 http://192.168.50.1:32000/healthz)
case "$r" in *'"localEndpoints":1}'*' 200') ok "healthCheckNodePort: $r" ;;
*) fail "healthCheckNodePort with a local endpoint: '$r'" ;; esac
r=$(nsx $OUT curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://192.168.50.1:32002/healthz)
[ "$r" = 503 ] && ok "healthCheckNodePort without local endpoints: 503" ||
	fail "healthCheckNodePort without local endpoints: '$r'"

# 7. internalTrafficPolicy Local without local endpoints: dropped, not refused
nsx $PC curl -s --max-time 2 http://10.96.0.43/ >/dev/null
rc=$?
[ $rc -eq 28 ] && ok "iTP=Local without local endpoints drops" || fail "iTP=Local: rc=$rc (want 28)"

# 8. Hairpin: a pod reaches itself through its Service
r=$(get $PA http://10.96.0.50/)
[ "$r" = "pod-a 10.244.1.1" ] && ok "hairpin ($r)" || fail "hairpin: '$r'"

# 9. UDP after an endpoint change: the stale conntrack entry goes
u1=$(nsx $PC python3 "$UDPC" 10.96.0.60 53 40000 | cut -d' ' -f1)

# 10. Restart during a stream: start a stream, restart the driver, change endpoints
ip netns exec $PC bash -c 'exec 3<>/dev/tcp/10.96.0.70/9000; exec cat <&3' >"$DIR/stream.out" 2>/dev/null 7>&- &
pids+=($!)
sleep 1
stop_driver
start_driver 2
out=$(apply 2 "$DIR/m1")
case "$out" in ok\ kind=full*) ok "restart: full reconcile ($out)" ;; *) fail "restart: $out" ;; esac
out=$(apply 2 "$DIR/m2")
case "$out" in ok\ kind=*) ok "endpoint change after restart ($out)" ;; *) fail "change: $out" ;; esac
u2=$(nsx $PC python3 "$UDPC" 10.96.0.60 53 40000 | cut -d' ' -f1)
[ "$u1" = pod-a ] && [ "$u2" = pod-b ] && ok "UDP follows the endpoint change ($u1 -> $u2)" ||
	fail "UDP after endpoint change: before '$u1' after '$u2'"
n1=$(wc -l <"$DIR/stream.out")
sleep 1
n2=$(wc -l <"$DIR/stream.out")
last=$(tail -1 "$DIR/stream.out" | cut -d' ' -f2)
[ "$n1" -ge 10 ] && [ "$n2" -gt "$n1" ] && [ "$last" -ge $((n2 - 1)) ] &&
	ok "stream survived the restart and the change ($n2 lines, unbroken)" ||
	fail "stream: $n1 then $n2 lines, last seq '$last'"

# 11. Affinity clients survive the restart; a client whose endpoint goes away moves on at once
# (its entry is deleted with the endpoint), and stays where it went when the endpoint returns.
seen=$(for i in $(seq 20); do get $PC http://10.96.0.30/ | cut -d' ' -f1; done | sort -u | tr '\n' ' ')
[ "$seen" = "$stuck " ] && ok "affinity kept across the restart ($stuck)" ||
	fail "affinity after the restart: '$seen', was $stuck"
if [ "$stuck" = pod-a ]; then other=pod-b keep=$B; else other=pod-a keep=$A; fi
write_manifests "$DIR/m3" 2 "$keep"
out=$(apply 2 "$DIR/m3")
seen=$(for i in $(seq 20); do get $PC http://10.96.0.30/ | cut -d' ' -f1; done | sort -u | tr '\n' ' ')
[ "$seen" = "$other " ] && ok "affinity: endpoint $stuck removed, client moved to $other ($out)" ||
	fail "affinity after its endpoint went: '$seen' (want $other)"
out=$(apply 2 "$DIR/m2")
seen=$(for i in $(seq 20); do get $PC http://10.96.0.30/ | cut -d' ' -f1; done | sort -u | tr '\n' ' ')
[ "$seen" = "$other " ] && ok "affinity: $stuck back, client stays on $other" ||
	fail "affinity after its endpoint came back: '$seen' (want $other)"
stop_driver

echo "$fails failed"
[ "$fails" -eq 0 ]
