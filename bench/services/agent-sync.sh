#!/usr/bin/env bash
# The agent's service proxy path for one EndpointSlice change, end to end: store commit of the
# changed slice -> the store's events -> the proxy reconciler's sync -> the data plane.
#
#   bench/services/agent-sync.sh [BUILD_DIR] [N...]   (root; default build-bench, N = 1000 10000)
#   env: CHANGES (50), RUNS (2)
#
# Services come from gen.py (2-10 endpoints, 6 on average). Each change moves one endpoint of a
# different service. "fake" is the user-space path alone (the fake backend, nothing rendered);
# "nft" adds the kernel (a fresh network namespace per run, made by unshare: nothing of the
# host's is touched). Prints p50/p90/max per change in microseconds, and the store's share.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build-bench}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 10000)
CHANGES=${CHANGES:-50}
RUNS=${RUNS:-2}
[ -d "$BUILD" ] || meson setup "$BUILD" --buildtype=release >/dev/null
ninja -C "$BUILD" bench/services/proxy-agent-bench >/dev/null
BENCH=$BUILD/bench/services/proxy-agent-bench
WORK=$(mktemp -d /tmp/weft-bench-agent-sync.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "# $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${SIZES[@]}"; do
	python3 bench/services/gen.py "$n" "$WORK/$n" >/dev/null
	for run in $(seq "$RUNS"); do
		"$BENCH" "$WORK/$n/weft.yaml" "$CHANGES" fake 2>/dev/null
		unshare --net "$BENCH" "$WORK/$n/weft.yaml" "$CHANGES" nft 2>/dev/null
	done
done
echo "# end load: $(cut -d' ' -f1-3 /proc/loadavg)"
