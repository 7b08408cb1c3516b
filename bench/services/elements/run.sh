#!/usr/bin/env bash
# Prototype measurements for an element-only service data plane (issue 5). Root.
#
#   bench/services/elements/run.sh BUILD_DIR DESIGN N...     DESIGN: class | slots
#
# Per N, in a fresh network namespace: the whole ruleset in one transaction (the kernel's time
# in sendmsg, and wall time of nft -f); the same split into the table block plus one
# transaction per "add element" command; five rounds of endpoint changes on the last service
# (kernel time of each transaction); for "class", adding one more class rule (the kernel walks
# the endpoint map when a rule binds to it); new-connection p50 (connlat, CONNECTS connects)
# with no rules and through the first and the last service. nft text is used throughout; the
# kernel figures (sendmsg) are what a libnftnl writer would see.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BUILD=$1 DESIGN=$2
shift 2
CONNECTS=${CONNECTS:-2000}
ninja -C "$BUILD" bench/services/connlat >/dev/null
CONNLAT=$BUILD/bench/services/connlat
WORK=$(mktemp -d /tmp/weft-bench-elements.XXXXXX)
NS=wpx-el-$$
trap 'ip netns del $NS 2>/dev/null; rm -rf "$WORK"' EXIT

fresh() {
	ip netns del $NS 2>/dev/null || true
	ip netns add $NS
	ip -n $NS link set lo up
	ip -n $NS route add local 10.250.0.0/15 dev lo
	ip -n $NS route add 10.96.0.0/16 dev lo
}
# Longest sendmsg (ms) of one nft -f: the kernel processes a batch inside sendmsg.
ksend() {
	ip netns exec $NS strace -f -e trace=sendmsg -T nft -f "$1" 2>&1 |
		awk -F'<' '/sendmsg/ { sub(">", "", $NF); if ($NF * 1000 > m) m = $NF * 1000 }
			   /Error/ { print "nft error" > "/dev/stderr"; exit 1 } END { print m + 0 }'
}
p50() { timeout 120 ip netns exec $NS "$CONNLAT" "$1" 8080 "$CONNECTS" | sed -E 's/.*p50_us=([0-9.]+).*/\1/'; }

for n in "$@"; do
	F=$WORK/$DESIGN-$n.nft
	read -r first last < <(python3 bench/services/elements/gen.py "$DESIGN" "$n" "$F")
	fresh
	t0=$(date +%s%N)
	ip netns exec $NS nft -f "$F"
	t1=$(date +%s%N)
	fresh
	one=$(ksend "$F")
	# Split: table block, then each "add element" command alone.
	fresh
	awk -v d="$WORK/part" '/^add element/ { n++ } { print > (d sprintf("%03d", n)) }' "$F"
	t2=$(date +%s%N)
	split=0
	for p in "$WORK"/part*; do
		k=$(ksend "$p")
		split=$(echo "if ($k > $split) $k else $split" | bc)
	done
	t3=$(date +%s%N)
	rm -f "$WORK"/part*
	printf '%s N=%s load: one transaction %s ms in the kernel (nft -f wall %d ms); split into %s transactions: max %s ms, wall %d ms\n' \
		"$DESIGN" "$n" "$one" $(((t1 - t0) / 1000000)) "$(grep -c '^add element' "$F")" "$split" $(((t3 - t2) / 1000000))
	# Endpoint changes on the last service (2 endpoints in "class", 6 in "slots").
	S="$last . tcp . 8080"
	if [ "$DESIGN" = class ]; then
		printf 'delete element inet wx eps4 { %s . 1 }\nadd element inet wx eps4 { %s . 1 : 10.251.250.1 . 8080 }\n' "$S" "$S" >"$WORK/c-a"
		printf 'delete element inet wx cls2-4 { %s }\nadd element inet wx cls3-4 { %s }\nadd element inet wx eps4 { %s . 2 : 10.251.250.2 . 8080 }\n' "$S" "$S" "$S" >"$WORK/c-b"
		printf 'delete element inet wx cls3-4 { %s }\nadd element inet wx cls2-4 { %s }\ndelete element inet wx eps4 { %s . 2 }\n' "$S" "$S" "$S" >"$WORK/c-c"
		names="c-a c-b c-c"
	else
		{
			printf 'delete element inet wx eps4 {'
			for s in $(seq 1 6 59); do printf ' %s . %d,' "$S" "$s"; done
			printf ' }\nadd element inet wx eps4 {'
			for s in $(seq 1 6 59); do printf ' %s . %d : 10.251.250.1 . 8080,' "$S" "$s"; done
			printf ' }\n'
		} >"$WORK/c-a"
		names="c-a"
	fi
	out=""
	for i in 1 2 3 4 5; do
		for c in $names; do out="$out $c=$(ksend "$WORK/$c")"; done
	done
	echo "$DESIGN N=$n change (ms in the kernel):$out"
	if [ "$DESIGN" = class ]; then
		printf 'table inet wx {\n\tset cls11-4 { type ipv4_addr . inet_proto . inet_service; }\n\tchain services {\n\t\tip daddr . meta l4proto . th dport @cls11-4 dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 11 map @eps4\n\t}\n}\n' >"$WORK/rule"
		echo "$DESIGN N=$n new class rule: $(ksend "$WORK/rule") ms in the kernel"
	fi
	none=$(p50 10.250.0.1)
	echo "$DESIGN N=$n p50 us: none $none, first $(p50 "$first"), last $(p50 "$last")"
done
