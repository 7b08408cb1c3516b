#!/usr/bin/env bash
# End-to-end test of the socket-level load balancer without the lab: one network namespace
# holding the endpoint addresses, their echo server and the clients; the real apply path
# (proxy-apply --socket-lb-cgroup) loads the nft table and attaches the eBPF programs to a
# cgroup made here. Clients inside that cgroup are balanced in the socket (the kernel's peer
# is an endpoint, getpeername() and UDP replies show the VIP, conntrack has no DNAT entry);
# clients outside it take the nft table.
#
#   socklb-netns.sh PROXY_APPLY ECHO_SERVER SOCKLB_CLIENT MANIFEST_DIR
set -uo pipefail
APPLY=$1 SERVER=$2 CLIENT=$3 M=$4
NS=wslb-$$
CG2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
[ -n "$CG2" ] || { echo "SKIP: no cgroup2 mount"; exit 77; }
"$APPLY" --help 2>&1 | grep -q -- --socket-lb-cgroup || { echo "SKIP: no socket-LB in this build"; exit 77; }
CG=$CG2/weft-e2e-socklb-$$
srv=
fails=0

cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	wait 2>/dev/null
	ip netns del $NS 2>/dev/null
	# the programs attached to it go with it
	[ -d "$CG" ] && rmdir "$CG"
}
trap cleanup EXIT
trap "exit 1" INT TERM

ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
# nsenter rather than ip netns exec: that one remounts /sys, where the cgroup2 mount lives
apply() { # manifest: a one-shot driver, as an agent that exits (its programs stay)
	echo "apply $M/$1" | nsenter --net=/run/netns/$NS "$APPLY" --node node-1 \
		--node-ip 192.168.0.1 --cluster-cidr 10.244.0.0/16 --socket-lb-cgroup "$CG"
}
in_cg() { bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" nsenter --net=/run/netns/$NS "$@"; }
out_cg() { nsenter --net=/run/netns/$NS "$@"; }
vip_ct() { grep -c "dst=$1 " /proc/net/nf_conntrack; } # run inside the namespace
ct_count() { out_cg bash -c "grep -c 'dst=$1 ' /proc/net/nf_conntrack" || true; }

ip netns add $NS
out_cg ip link set lo up
for a in 10.250.0.1 10.250.0.2 10.250.0.3; do out_cg ip addr add $a/32 dev lo; done
out_cg ip addr add fd00:250::1/128 dev lo nodad
# VIPs route somewhere, so that a connect() the programs leave alone reaches the nat hook
out_cg ip route add 10.96.0.0/16 dev lo
out_cg ip -6 route add fd00:96::/64 dev lo
mkdir "$CG"
ip netns exec $NS python3 "$SERVER" e &
srv=$!
for _ in $(seq 50); do out_cg bash -c 'exec 3<>/dev/tcp/10.250.0.1/8080' 2>/dev/null && break; sleep 0.1; done

out=$(apply m1.yaml)
[[ "$out" == "ok kind=full"*"slb_keys=5 "* ]] && ok "load with socket-LB: $out" || { fail "load: $out"; exit 1; }

# IPv4 TCP, both endpoints, in the socket
seen=
for _ in $(seq 20); do
	r=$(in_cg python3 "$CLIENT" tcp 10.96.0.10 80)
	case "$r" in
	"getpeername=10.96.0.10:80 kernel_peer=10.250.0."[12]":8080") seen="$seen ${r##*kernel_peer=}" ;;
	*) fail "TCP through socket-LB: '$r'"; break ;;
	esac
done
n=$(tr ' ' '\n' <<<"$seen" | grep . | sort -u | wc -l)
[ "$n" = 2 ] && ok "IPv4 TCP: the endpoint as the kernel's peer, the VIP from getpeername(), both endpoints" ||
	fail "IPv4 TCP endpoints seen: '$seen'"
c=$(ct_count 10.96.0.10)
[ "$c" = 0 ] && ok "no conntrack entry toward the VIP" || fail "$c conntrack entries toward the VIP"

r=$(in_cg python3 "$CLIENT" udp 10.96.0.10 53)
[ "$r" = "reply_from=10.96.0.10:53 connected_reply_from=10.96.0.10:53 getpeername=10.96.0.10:53" ] &&
	ok "IPv4 UDP: replies from the VIP" || fail "IPv4 UDP: '$r'"
r=$(in_cg python3 "$CLIENT" tcp fd00:96::10 80)
[ "$r" = "getpeername=[fd00:96::10]:80 kernel_peer=[fd00:250::1]:8080" ] && ok "IPv6 TCP" || fail "IPv6 TCP: '$r'"
r=$(in_cg python3 "$CLIENT" udp fd00:96::10 53)
[ "$r" = "reply_from=[fd00:96::10]:53 connected_reply_from=[fd00:96::10]:53 getpeername=[fd00:96::10]:53" ] &&
	ok "IPv6 UDP" || fail "IPv6 UDP: '$r'"
r=$(in_cg python3 "$CLIENT" tcp ::ffff:10.96.0.10 80)
[[ "$r" == "getpeername=[::ffff:10.96.0.10]:80 kernel_peer=[::ffff:10.250.0."[12]"]:8080" ]] &&
	ok "IPv4-mapped address on an IPv6 socket" || fail "IPv4-mapped: '$r'"
r=$(in_cg python3 "$CLIENT" udp ::ffff:10.96.0.10 53)
[ "$r" = "reply_from=[::ffff:10.96.0.10]:53 connected_reply_from=[::ffff:10.96.0.10]:53 getpeername=[::ffff:10.96.0.10]:53" ] &&
	ok "IPv4-mapped UDP" || fail "IPv4-mapped UDP: '$r'"

# No endpoints: left to the table, which refuses at once
t0=$(date +%s%N)
in_cg timeout 3 bash -c 'exec 3<>/dev/tcp/10.96.0.20/80' 2>/dev/null
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc -ne 0 ] && [ $ms -lt 1500 ] && ok "no endpoints: refused in $ms ms" || fail "no endpoints: rc=$rc after $ms ms"

# Outside the cgroup: the nft table DNATs (so the checks above could fail)
r=$(out_cg python3 "$CLIENT" tcp 10.96.0.10 80)
c=$(ct_count 10.96.0.10)
[[ "$r" == "getpeername=10.96.0.10:80 kernel_peer=10.96.0.10:80" ]] && [ "$c" -ge 1 ] &&
	ok "outside the cgroup: the nft path (DNAT, $c entry)" || fail "outside the cgroup: '$r', $c entries"

# A second driver (a restarted agent) with an endpoint change: its programs replace the first
# one's (which would still send to the old endpoints) and share their maps
out=$(apply m2.yaml)
# every key taken over from the first driver's maps (reused by id), then only the change
# written: a's two counts 2 -> 1 (TCP, UDP), a slot each, two slots deleted, the enable flag
[[ "$out" == "ok kind="*"slb_keys=5 slb_writes=7 slb_adopted=5"* ]] &&
	ok "restart with a change, the maps taken over: $out" || fail "restart: $out"
bad=0
for _ in $(seq 10); do
	r=$(in_cg python3 "$CLIENT" tcp 10.96.0.10 80)
	[ "$r" = "getpeername=10.96.0.10:80 kernel_peer=10.250.0.3:8080" ] || { bad=1; break; }
done
[ $bad = 0 ] && ok "after the restart every connection goes to the new endpoint" || fail "after the restart: '$r'"

echo "# $fails failed"
[ $fails -eq 0 ]
