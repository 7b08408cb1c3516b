#!/usr/bin/env bash
# Interleaved comparison, for noisy machines: the raw responder, weft from BUILD (and from
# OTHER_BUILD, e.g. the previous commit built apart) and Knot DNS, one after the other, each for
# DURATION seconds, ROUNDS times; prints every round and the medians of queries per server
# CPU-second with the ratios to Knot and to raw. Server on CPU 0, dns-load on CPU 1 (512 in
# flight over 16 sockets), the bench/dns/gen.py cluster of SERVICES Services.
#
# usage: bench/dns/interleave.sh BUILD [OTHER_BUILD]   env: SERVICES=10000 DURATION=4 ROUNDS=6
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build}
other=${2:-}
n=${SERVICES:-10000}
dur=${DURATION:-4}
rounds=${ROUNDS:-6}
load=$build/bench/dns/dns-load
raw=$build/bench/dns/raw-responder
command -v knotd >/dev/null || { echo "interleave.sh: knotd is needed" >&2; exit 1; }
for b in "$build/src/dns/weft-dns" "$load" "$raw" ${other:+"$other/src/dns/weft-dns"}; do
	[ -x "$b" ] || { echo "interleave.sh: $b missing" >&2; exit 1; }
done

. bench/dns/lib.sh
bench_tmp interleave
hz=$(getconf CLK_TCK)
python3 bench/dns/gen.py "$n" "$tmp"
knot_conf 5310

ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
declare -A all
one() { # one NAME CMD...: start the server on CPU 0, measure, stop
	local name=$1 c0 c1 out a
	shift
	taskset -c 0 "$@" 2>/dev/null &
	pid=$!
	pids=("$pid")
	for _ in $(seq 1 100); do
		dig @127.0.0.1 -p 5310 +time=1 +tries=1 svc-1.ns-1.svc.cluster.local A +short \
			2>/dev/null | grep -q . && break
		sleep 0.1
	done
	"$load" -s 127.0.0.1 -p 5310 -f "$tmp/queries.txt" -d 1 >/dev/null # warm-up
	c0=$(ticks "$pid")
	out=$(taskset -c 1 "$load" -s 127.0.0.1 -p 5310 -f "$tmp/queries.txt" -d "$dur" -c 512 -n 16)
	c1=$(ticks "$pid")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pids=()
	a=$(sed -E 's/.*answered=([0-9]+).*/\1/' <<<"$out")
	q=$(awk -v a="$a" -v c="$((c1 - c0))" -v hz="$hz" 'BEGIN{printf "%.0f", c ? a * hz / c : 0}')
	all[$name]="${all[$name]:-} $q"
	printf '   %-6s %8s queries per CPU-second (%s CPU ticks)\n' "$name" "$q" "$((c1 - c0))"
}
names="raw weft"
[ -n "$other" ] && names="$names other"
names="$names knot"
echo "== interleaved: $names; $n Services, ${dur}s each, $rounds rounds"
for r in $(seq 1 "$rounds"); do
	echo "-- round $r (load $(cut -d' ' -f1 /proc/loadavg))"
	one raw "$raw" 127.0.0.1 5310
	one weft "$build/src/dns/weft-dns" --manifests "$tmp/manifests" --listen 127.0.0.1:5310 \
		--upstream none
	if [ -n "$other" ]; then
		one other "$other/src/dns/weft-dns" --manifests "$tmp/manifests" \
			--listen 127.0.0.1:5310 --upstream none
	fi
	one knot knotd -c "$tmp/knot/knot.conf"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "-- medians (weft = $build${other:+, other = $other})"
mraw=$(median <<<"${all[raw]}")
mknot=$(median <<<"${all[knot]}")
for s in $names; do
	m=$(median <<<"${all[$s]}")
	awk -v s="$s" -v m="$m" -v k="$mknot" -v r="$mraw" \
		'BEGIN{printf "   %-6s %8.0f   vs knot %.2f   vs raw %.2f\n", s, m, m / k, m / r}'
done
