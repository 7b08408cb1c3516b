#!/usr/bin/env bash
# Service proxy benchmark: weft's nftables data plane against rulesets shaped like kube-proxy's
# iptables mode and nftables mode, for N services of 2-10 endpoints (6 on average).
#
#   bench/services/run.sh [BUILD_DIR] [N...]      (root; default build-bench, N = 1000 5000 10000)
#   env: CONNECTS (2000), ROUNDS (3), PLANES ("weft socklb iptables nftables"; "weft" alone is
#        quick), PIN_CPU (1: the CPU connlat runs on)
#
# For each N, each data plane gets a fresh network namespace and is measured for:
# - full load: weft through its real code path (manifests -> model -> nft backend: the table
#   block by libnftables, then the elements by libnftnl in transactions of <= 20k elements),
#   YAML parsing excluded (shown apart), and the longest single kernel transaction;
# - endpoint changes on the last service, ROUNDS times each (median and max shown): one
#   endpoint replaced (and back), one endpoint added (a count change) and removed again;
# - new-connection p50 through the first and the last service, against three baselines: no
#   rules at all (conntrack off) and a nat table with no services (conntrack on), both
#   connecting straight to an endpoint - any DNAT-based proxy pays conntrack - and "nat1", one
#   static DNAT + masquerade rule for the first VIP: the floor of any DNAT-based proxy.
# - "weft+socklb" (PLANES has socklb, the build has eBPF): weft's table plus the socket-level
#   load balancer, attached to a fresh cgroup (made and removed here) that connlat runs in,
#   its maps synced by the same apply path (proxy-apply-bench --socket-lb-cgroup): connect()
#   goes straight to an endpoint, no DNAT; its p50 beside the others, and its ratios; then the
#   same with the table flushed (the programs alone: no conntrack, no nat hook).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-bench}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 5000 10000)
CONNECTS=${CONNECTS:-2000}
ROUNDS=${ROUNDS:-3}
# PLANES=weft skips the kube-proxy-shaped rulesets (minutes at 10k) for a quick look.
PLANES=${PLANES:-weft socklb iptables nftables}
has() { [[ " $PLANES " == *" $1 "* ]]; }
[ -d "$BUILD" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" bench/services/connlat bench/services/proxy-apply-bench >/dev/null
CONNLAT=$BUILD/bench/services/connlat
APPLY=$BUILD/bench/services/proxy-apply-bench
WORK=$(mktemp -d /tmp/weft-bench-services.XXXXXX)
NS=wpx-bench-$$
CG=
trap 'ip netns del $NS 2>/dev/null; [ -z "$CG" ] || rmdir "$CG" 2>/dev/null; rm -rf "$WORK"' EXIT
# The socket-LB plane needs a cgroup v2 hierarchy and an apply driver built with eBPF.
CG2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
if has socklb && { [ -z "$CG2" ] || ! "$APPLY" --help 2>&1 | grep -q -- --socket-lb-cgroup; }; then
	echo "note: no cgroup2 mount or no socket-LB in this build: skipping weft+socklb" >&2
	PLANES=${PLANES//socklb/}
fi

fresh() {
	ip netns del $NS 2>/dev/null || true
	ip netns add $NS
	ip -n $NS link set lo up
	# Every endpoint address is local: connects through a VIP land on connlat's listener.
	ip -n $NS route add local 10.250.0.0/16 dev lo
	# VIPs route somewhere (lo), so that connect() reaches the nat output hook; without DNAT
	# nothing answers there.
	ip -n $NS route add 10.96.0.0/16 dev lo
}
ms() { echo "scale=1; ($2 - $1) / 1000000" | bc; }
# A nat table with no services: conntrack runs for every connection, as it does under any
# DNAT-based proxy.
conntrack_on() {
	ip netns exec $NS nft -f - <<-'NFT'
	table ip ctbase {
		chain out { type nat hook output priority -100; policy accept; ct state new counter; }
		chain post { type nat hook postrouting priority srcnat; policy accept; }
	}
	NFT
}
# The least any DNAT-based proxy does for a connection: one static DNAT and a masquerade (the
# bench's client is outside the cluster CIDR, so every plane here masquerades it).
nat_floor() { # VIP
	ip netns exec $NS nft -f - <<-NFT
	table ip natfloor {
		chain out { type nat hook output priority -100; policy accept; ip daddr $1 tcp dport 8080 meta mark set 0x4000 dnat to 10.250.0.1:8080; }
		chain post { type nat hook postrouting priority srcnat; policy accept; meta mark 0x4000 masquerade fully-random; }
	}
	NFT
}
# median and max of numbers on stdin: "MED (max MAX)"
medmax() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit } printf "%s (max %s)", v[int((NR + 1) / 2)], v[NR] }'; }
field() { sed -E "s/.* $1=([0-9.]+).*/\1/"; }
# connlat's client and acceptor pinned to one CPU: cross-CPU wake-ups made p50 bimodal here.
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c "${PIN_CPU:-1}")
p50() { ip netns exec $NS "${PIN[@]}" "$CONNLAT" "$1" 8080 "$CONNECTS" | sed -E 's/.*p50_us=([0-9.]+).*/\1/'; }
ratio() { echo "scale=3; $1 / $2" | bc; }
# The same from inside cgroup $CG (the shell joins it, then becomes connlat). nsenter, not ip
# netns exec: that one remounts /sys, hiding the cgroup2 mount the shell writes to.
p50_cg() {
	bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" nsenter --net=/run/netns/$NS \
		"${PIN[@]}" "$CONNLAT" "$1" 8080 "$CONNECTS" | sed -E 's/.*p50_us=([0-9.]+).*/\1/'
}

printf '%-6s %-9s %10s %10s %12s %12s %12s %10s %10s %10s %10s %10s\n' N plane "load ms" "max tx ms" \
	"replace ms" "add ms" "remove ms" "p50 first" "p50 last" "p50 none" "p50 ct-on" "p50 nat1"
for n in "${SIZES[@]}"; do
	D=$WORK/$n
	python3 bench/services/gen.py "$n" "$D"
	read -r first last <"$D/vips"

	fresh
	base=$(p50 10.250.0.1)
	conntrack_on
	ctbase=$(p50 10.250.0.1)
	# proof that conntrack saw the connections (the nat chain sees each one's first packet)
	ctlist=$(ip netns exec $NS nft list chain ip ctbase out) # not piped: grep -q + pipefail
	grep -q 'packets [1-9]' <<<"$ctlist" ||
		echo "warning: conntrack-on baseline: conntrack saw no connection" >&2
	fresh
	nat_floor "$first"
	natbase=$(p50 "$first")

	# weft: a full load, then ROUNDS x (replace, replace back, add, remove)
	fresh
	{
		echo "apply $D/weft.yaml"
		for _ in $(seq "$ROUNDS"); do
			printf 'apply %s\napply %s\napply %s\napply %s\n' "$D/weft-changed.yaml" \
				"$D/weft.yaml" "$D/weft-added.yaml" "$D/weft.yaml"
		done
	} | ip netns exec $NS "$APPLY" --node node-1 --node-ip 192.168.0.1 \
		--cluster-cidr 10.244.0.0/16 >"$WORK/weft.out"
	if grep -q '^error' "$WORK/weft.out"; then
		cat "$WORK/weft.out" >&2
		exit 1
	fi
	first_line=$(sed -n 1p "$WORK/weft.out")
	wl=$(echo "$first_line" | field ms)
	wtx=$(echo "$first_line" | field max_tx_ms)
	wn=$(echo "$first_line" | field tx)
	welems=$(echo "$first_line" | field elems)
	wparse=$(echo "$first_line" | field load_ms)
	# lines 2.. cycle: replace, replace back, add, remove
	sel() { sed -n '2,$p' "$WORK/weft.out" | awk -v a="$1" -v b="$2" '(NR - 1) % 4 == a || (NR - 1) % 4 == b'; }
	wrep=$(sel 0 1 | field ms | medmax)
	wadd=$(sel 2 2 | field ms | medmax)
	wrem=$(sel 3 3 | field ms | medmax)
	wctx=$(sed -n '2,$p' "$WORK/weft.out" | field max_tx_ms | medmax)
	wkinds=$(sed -n '2,$p' "$WORK/weft.out" | sed -E 's/^ok kind=([a-z]+).*/\1/' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
	# an agent restart onto the same state: a dump of every set, a diff, nothing to send
	rs=$(echo "apply $D/weft.yaml" | ip netns exec $NS "$APPLY" --node node-1 \
		--node-ip 192.168.0.1 --cluster-cidr 10.244.0.0/16)
	wrs="$(echo "$rs" | field ms) ms, $(echo "$rs" | field elems) elements sent"
	wf=$(p50 "$first")
	wla=$(p50 "$last")
	printf '%-6s %-9s %10s %10s %12s %12s %12s %10s %10s %10s %10s %10s\n' \
		"$n" weft "$wl" "$wtx" "${wrep%% *}" "${wadd%% *}" "${wrem%% *}" "$wf" "$wla" "$base" "$ctbase" "$natbase"
	echo "       weft: $welems elements in $wn transactions (longest $wtx ms in the kernel); YAML parse+model $wparse ms;" \
		"changes (ms, whole sync, median (max) of $ROUNDS or $((2 * ROUNDS))): replace $wrep, add $wadd, remove $wrem;" \
		"longest kernel transaction of a change $wctx ms; kinds:${wkinds%,}; restart reconcile $wrs"

	if has socklb; then
		fresh
		CG=$CG2/weft-bench-services-$$
		mkdir "$CG"
		echo "apply $D/weft.yaml" | nsenter --net=/run/netns/$NS "$APPLY" --node node-1 \
			--node-ip 192.168.0.1 --cluster-cidr 10.244.0.0/16 --socket-lb-cgroup "$CG" \
			>"$WORK/socklb.out"
		if grep -q '^error' "$WORK/socklb.out"; then
			cat "$WORK/socklb.out" >&2
			exit 1
		fi
		sl=$(sed -n 1p "$WORK/socklb.out")
		sf=$(p50_cg "$first")
		sla=$(p50_cg "$last")
		# the programs alone, the nft table flushed: no conntrack, no nat hook - the floor
		# the socket-LB reaches once nothing else touches the connection
		ip netns exec $NS nft flush ruleset
		sbare=$(p50_cg "$first")
		rmdir "$CG" # its programs go with it
		CG=
		printf '%-6s %-9s %10s %10s %12s %12s %12s %10s %10s %10s %10s %10s\n' "$n" weft+slb \
			"$(echo "$sl" | field ms)" - - - - "$sf" "$sla" "$base" "$ctbase" "$natbase"
		echo "       weft+socklb: maps synced in $(echo "$sl" | field slb_ms) ms" \
			"($(echo "$sl" | field slb_keys) service keys, $(echo "$sl" | field slb_writes) map writes);" \
			"p50 vs none: first $(ratio "$sf" "$base") last $(ratio "$sla" "$base");" \
			"vs ct-on: first $(ratio "$sf" "$ctbase") last $(ratio "$sla" "$ctbase");" \
			"vs weft (nft): first $(ratio "$sf" "$wf") last $(ratio "$sla" "$wla");" \
			"programs alone (table flushed): p50 $sbare, vs none $(ratio "$sbare" "$base")"
	fi

	has iptables || has nftables || continue

	# kube-proxy iptables mode (iptables-nft on Debian 12)
	fresh
	t0=$(date +%s%N)
	ip netns exec $NS iptables-restore <"$D/iptables.rules"
	t1=$(date +%s%N)
	ip netns exec $NS iptables-restore --noflush <"$D/iptables-delta.rules"
	t2=$(date +%s%N)
	ip netns exec $NS iptables-restore --noflush <"$D/iptables-delta2.rules"
	il=$(ms "$t0" "$t1")
	ic=$(ms "$t1" "$t2")
	if_=$(p50 "$first")
	ila=$(p50 "$last")
	printf '%-6s %-9s %10s %10s %12s %12s %12s %10s %10s %10s %10s %10s\n' "$n" iptables "$il" - "$ic" - - "$if_" "$ila" "$base" "$ctbase" "$natbase"

	# kube-proxy nftables mode
	fresh
	t0=$(date +%s%N)
	ip netns exec $NS nft -f "$D/nft.nft"
	t1=$(date +%s%N)
	ip netns exec $NS nft -f "$D/nft-delta.nft"
	t2=$(date +%s%N)
	nl=$(ms "$t0" "$t1")
	nc=$(ms "$t1" "$t2")
	nf=$(p50 "$first")
	nla=$(p50 "$last")
	printf '%-6s %-9s %10s %10s %12s %12s %12s %10s %10s %10s %10s %10s\n' "$n" nftables "$nl" - "$nc" - - "$nf" "$nla" "$base" "$ctbase" "$natbase"

	wc=${wrep%% *}
	echo "ratios at N=$n: load weft/iptables $(ratio "$wl" "$il") weft/nftables $(ratio "$wl" "$nl");" \
		"replace weft/iptables $(ratio "$wc" "$ic") weft/nftables $(ratio "$wc" "$nc");" \
		"p50 vs none: weft first $(ratio "$wf" "$base") last $(ratio "$wla" "$base")," \
		"iptables first $(ratio "$if_" "$base") last $(ratio "$ila" "$base")," \
		"nftables first $(ratio "$nf" "$base") last $(ratio "$nla" "$base");" \
		"p50 vs ct-on: weft first $(ratio "$wf" "$ctbase") last $(ratio "$wla" "$ctbase")," \
		"iptables first $(ratio "$if_" "$ctbase") last $(ratio "$ila" "$ctbase")," \
		"nftables first $(ratio "$nf" "$ctbase") last $(ratio "$nla" "$ctbase");" \
		"p50 vs nat1: weft first $(ratio "$wf" "$natbase") last $(ratio "$wla" "$natbase")"
done
