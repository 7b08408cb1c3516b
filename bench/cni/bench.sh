#!/usr/bin/env bash
# weft-cni against Debian's reference plugins (bridge + host-local), with equivalent configs,
# in one run: N sequential pods, then N pods two at a time; ADD and DEL medians and p95, the
# floor (a do-nothing static process + one veth pair into a namespace) and the ratios.
# Root; everything happens in network namespaces made here.
#
#   bench/cni/bench.sh [BUILD_DIR] [N]      (default: build, 100; env WARM=1, see below)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
N=${2:-100}
B=$(realpath "$BUILD")
TIMER=$B/bench/cni/cni-bench
NOOP=$B/bench/cni/cni-noop
WEFT=$B/src/cni/weft-cni
REF=/usr/lib/cni/bridge
for f in "$TIMER" "$NOOP" "$WEFT" "$REF" /usr/lib/cni/host-local; do
	[ -x "$f" ] || { echo "missing $f (build first: ninja -C $BUILD)" >&2; exit 1; }
done

ID=$$
NODE=wfbn-$ID
T=$(mktemp -d /tmp/weft-cni-bench.XXXXXX)
cleanup() {
	for i in $(seq 0 $((N - 1))); do ip netns del "wfbp-$ID-$i" 2>/dev/null || true; done
	ip netns del "$NODE" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

ip netns add "$NODE"
for i in $(seq 0 $((N - 1))); do ip netns add "wfbp-$ID-$i"; done

cat >"$T/weft.json" <<EOF
{"cniVersion":"1.0.0","name":"benchnet","type":"weft-cni","bridge":"wfbench0","isGateway":true,
 "ipMasq":false,"hairpinMode":true,"mtu":1500,
 "ipam":{"type":"weft-ipam","subnet":"10.211.0.0/16","dataDir":"$T/weft-ipam"}}
EOF
cat >"$T/ref.json" <<EOF
{"cniVersion":"1.0.0","name":"benchnet","type":"bridge","bridge":"refbench0","isGateway":true,
 "ipMasq":false,"hairpinMode":true,"mtu":1500,
 "ipam":{"type":"host-local","subnet":"10.212.0.0/16","dataDir":"$T/ref-ipam"}}
EOF

run() { # LABEL CONC PLUGIN CNI_PATH CONFIG
	"$TIMER" run "$1" "$NODE" "wfbp-$ID-" "$N" "$2" "$3" "$4" "$5"
}
# weft-cni's DEL returns before the kernel has finished removing the veth (its detached child
# waits for that, docs/cni.md). Wait for those children before the next phase, so that the
# kernel work a weft DEL phase leaves behind (~20 ms of RTNL time per pod) is not charged to
# whatever is measured next - the reference, or the floor.
settle() {
	local end=$((SECONDS + 60)) busy p
	while [ $SECONDS -lt $end ]; do
		busy=0
		for p in /proc/[0-9]*; do
			[ "$(readlink "$p/exe" 2>/dev/null)" = "$WEFT" ] && { busy=1; break; }
		done
		[ $busy -eq 0 ] && return 0
		sleep 0.1
	done
}

# The floor is measured right before and right after weft-cni's sequential run (the machine may
# be shared and noisy); the goals use their mean.
# WARM=1: one unmeasured round of N pods per plugin first, so that both address stores are in
# the state of a node where pods have come and gone (weft-cni's slot file then holds freed
# slots; host-local's directory has its history of freed inodes). Default: fresh stores.
if [ "${WARM:-0}" = 1 ]; then
	run warm 1 "$WEFT" "$(dirname "$WEFT")" "$T/weft.json" >/dev/null
	run warm 1 "$REF" /usr/lib/cni "$T/ref.json" >/dev/null
	settle
	echo "address stores: warmed by one unmeasured round of $N pods per plugin (WARM=1)"
else
	echo "address stores: fresh (WARM=1 measures them after one round of $N pods)"
fi
{
	"$TIMER" floor "$NODE" "wfbp-$ID-0" "$NOOP" 200
	run weft-seq 1 "$WEFT" "$(dirname "$WEFT")" "$T/weft.json"
	settle
	"$TIMER" floor "$NODE" "wfbp-$ID-0" "$NOOP" 200
	run ref-seq 1 "$REF" /usr/lib/cni "$T/ref.json"
	run weft-conc2 2 "$WEFT" "$(dirname "$WEFT")" "$T/weft.json"
	settle
	run ref-conc2 2 "$REF" /usr/lib/cni "$T/ref.json"
} >"$T/results"

awk -v n="$N" '
$1 == "floor" { nf++; spawn += ($2 - spawn) / nf; vadd += ($3 - vadd) / nf; vdel += ($4 - vdel) / nf; next }
{ add[$1] = $2; a95[$1] = $3; del[$1] = $4; d95[$1] = $5; rss[$1] = $6 }
END {
	fa = spawn + vadd; fd = spawn + vdel
	printf "floor: static process %.3f ms + veth pair into a netns %.3f ms = ADD floor %.3f ms; DEL floor (process + veth removal %.3f ms) = %.3f ms\n\n", spawn, vadd, fa, vdel, fd
	printf "%-18s %10s %10s %10s %10s %9s\n", "(" n " pods, ms)", "ADD med", "ADD p95", "DEL med", "DEL p95", "RSS KiB"
	split("weft-seq ref-seq weft-conc2 ref-conc2", order, " ")
	for (i = 1; i <= 4; i++) { k = order[i]
		printf "%-18s %10.3f %10.3f %10.3f %10.3f %9d\n", k, add[k], a95[k], del[k], d95[k], rss[k] }
	printf "\nratios (reference / weft-cni; >1 means weft-cni is faster):\n"
	printf "  sequential   ADD %.1fx  DEL %.2fx\n", add["ref-seq"] / add["weft-seq"], del["ref-seq"] / del["weft-seq"]
	printf "  2 concurrent ADD %.1fx  DEL %.2fx\n", add["ref-conc2"] / add["weft-conc2"], del["ref-conc2"] / del["weft-conc2"]
	printf "goals: ADD median / floor = %.2f (goal <= 1.3), ADD median %.3f ms (goal <= 2)\n", add["weft-seq"] / fa, add["weft-seq"]
	printf "       DEL median - DEL floor = %+.3f ms (goal <= +1), plugin max RSS %d KiB (goal <= 4096)\n", del["weft-seq"] - fd, rss["weft-seq"]
}' "$T/results"
