#!/usr/bin/env bash
# Where an ADD's and a DEL's time goes: N pods ADDed then DELed one after another with
# WEFT_CNI_TRACE=1, each step's median and p90 in µs (in-process CLOCK_MONOTONIC timestamps,
# src/cni/plugin.c trace()). Process start-up before main() is not included.
# Root; everything happens in network namespaces made here.
#
#   bench/cni/steps.sh [BUILD_DIR] [N]      (default: build, 200)
#   env: WARM=1 runs one unmeasured round of N pods first (a store where pods came and went)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
N=${2:-200}
WEFT=$(realpath "$BUILD")/src/cni/weft-cni
ID=$$
NODE=wfsn-$ID
T=$(mktemp -d /tmp/weft-cni-steps.XXXXXX)
cleanup() {
	for i in $(seq 0 $((N - 1))); do ip netns del "wfsp-$ID-$i" 2>/dev/null || true; done
	ip netns del "$NODE" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ip netns add "$NODE"
for i in $(seq 0 $((N - 1))); do ip netns add "wfsp-$ID-$i"; done
cat >"$T/conf.json" <<EOC
{"cniVersion":"1.0.0","name":"stepnet","type":"weft-cni","bridge":"wfstep0","isGateway":true,
 "ipMasq":false,"hairpinMode":true,"mtu":1500,
 "ipam":{"type":"weft-ipam","subnet":"10.213.0.0/16","dataDir":"$T/ipam"}}
EOC
round() {
for cmd in ADD DEL; do
	for i in $(seq 0 $((N - 1))); do
		nsenter --net=/run/netns/"$NODE" env WEFT_CNI_TRACE=1 CNI_COMMAND=$cmd \
			CNI_CONTAINERID="s$i" CNI_NETNS=/run/netns/wfsp-$ID-$i CNI_IFNAME=eth0 \
			CNI_PATH="$(dirname "$WEFT")" "$WEFT" <"$T/conf.json" 2>&1 >/dev/null |
			sed -n "s/^weft-cni trace:/$cmd/p"
	done
done
}
[ "${WARM:-0}" = 1 ] && round >/dev/null
round | python3 -c '
import sys
steps = {}
for line in sys.stdin:
    f = line.split()
    for kv in (x for x in f[1:] if not x.startswith("@")):
        k, v = kv.split("=")
        steps.setdefault(f[0] + " " + k, []).append(int(v))
print("%-28s %8s %8s %6s" % ("step (us)", "median", "p90", "n"))
for k, v in steps.items():
    v.sort()
    print("%-28s %8d %8d %6d" % (k, v[len(v) // 2], v[int(len(v) * 0.9)], len(v)))
'
