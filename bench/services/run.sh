#!/usr/bin/env bash
# Service proxy benchmark: weft's nftables data plane against rulesets shaped like kube-proxy's
# iptables mode and nftables mode, for N services of 2-10 endpoints (6 on average).
#
#   bench/services/run.sh [BUILD_DIR] [N...]      (root; default build-bench, N = 1000 5000 10000)
#
# For each N, each data plane gets a fresh network namespace and is measured for: full load
# time; one endpoint change (of the last service); new-connection p50 through the first and
# the last service, against the same namespace with no rules at all. weft goes through its real
# code path (manifests -> model -> nft backend: libnftables for the full load, a libnftnl
# batch for the change); the load time excludes YAML parsing, shown apart.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-bench}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 5000 10000)
CONNECTS=${CONNECTS:-2000}
[ -d "$BUILD" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" bench/services/connlat bench/services/proxy-apply-bench >/dev/null
CONNLAT=$BUILD/bench/services/connlat
APPLY=$BUILD/bench/services/proxy-apply-bench
WORK=$(mktemp -d /tmp/weft-bench-services.XXXXXX)
NS=wpx-bench-$$
trap 'ip netns del $NS 2>/dev/null; rm -rf "$WORK"' EXIT

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
p50() { ip netns exec $NS "$CONNLAT" "$1" 8080 "$CONNECTS" | sed -E 's/.*p50_us=([0-9.]+).*/\1/'; }
ratio() { echo "scale=2; $1 / $2" | bc; }

printf '%-6s %-9s %12s %12s %12s %12s %12s\n' N plane "load ms" "change ms" "p50 first" "p50 last" "p50 none"
for n in "${SIZES[@]}"; do
	D=$WORK/$n
	python3 bench/services/gen.py "$n" "$D"
	read -r first last <"$D/vips"

	fresh
	base=$(p50 10.250.0.1)

	# weft
	fresh
	out=$(printf 'apply %s\napply %s\n' "$D/weft.yaml" "$D/weft-changed.yaml" |
		ip netns exec $NS "$APPLY" --node node-1 --node-ip 192.168.0.1 \
			--cluster-cidr 10.244.0.0/16)
	wl=$(echo "$out" | sed -n 1p | sed -E 's/.* ms=([0-9.]+).*/\1/')
	wparse=$(echo "$out" | sed -n 1p | sed -E 's/.*load_ms=([0-9.]+).*/\1/')
	wk=$(echo "$out" | sed -n 2p | sed -E 's/.*kind=([a-z]+).*/\1/')
	wc=$(echo "$out" | sed -n 2p | sed -E 's/.* ms=([0-9.]+).*/\1/')
	wf=$(p50 "$first")
	wla=$(p50 "$last")
	printf '%-6s %-9s %12s %12s %12s %12s %12s   (YAML parse+model %s ms; change via %s)\n' \
		"$n" weft "$wl" "$wc" "$wf" "$wla" "$base" "$wparse" "$wk"

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
	printf '%-6s %-9s %12s %12s %12s %12s %12s\n' "$n" iptables "$il" "$ic" "$if_" "$ila" "$base"

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
	printf '%-6s %-9s %12s %12s %12s %12s %12s\n' "$n" nftables "$nl" "$nc" "$nf" "$nla" "$base"

	echo "ratios at N=$n: load weft/iptables $(ratio "$wl" "$il") weft/nftables $(ratio "$wl" "$nl");" \
		"change weft/iptables $(ratio "$wc" "$ic") weft/nftables $(ratio "$wc" "$nc");" \
		"p50 vs none: weft first $(ratio "$wf" "$base") last $(ratio "$wla" "$base")," \
		"iptables first $(ratio "$if_" "$base") last $(ratio "$ila" "$base")," \
		"nftables first $(ratio "$nf" "$base") last $(ratio "$nla" "$base")"
done
