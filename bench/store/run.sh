#!/usr/bin/env bash
# Store benchmark: a large cluster as manifest files (gen.py: 10,000 Services, 10,000
# EndpointSlices x 10 endpoints, 100,000 Pods in 600 files), loaded into the store through the
# directory source (store-bench), side by side with the anchor - PyYAML's C LibYAML loader
# reading the same files (pyyaml-load.py). Each is run twice (shared, noisy machines).
#
#   bench/store/run.sh [BUILD_DIR] [ROUNDS]     (default: build, 50 change rounds)
#
# Targets (issue 2): load <= 1 s and <= 300 MB RSS; one changed file reaches the store in
# <= 5 ms (from the write to the event with the new snapshot, via inotify).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-50}
bench=$build/bench/store/store-bench
py=${PYTHON:-/usr/bin/python3} # Debian python3 + python3-yaml (LibYAML), not a pyenv shim
[ -x "$bench" ] || ninja -C "$build" bench/store/store-bench >/dev/null
"$py" -c 'import yaml; yaml.CSafeLoader' 2>/dev/null ||
	{ echo "run.sh: python3-yaml with LibYAML is needed (scripts/setup.sh installs it)" >&2; exit 1; }

dir=$(mktemp -d /tmp/weft-bench-store.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 bench/store/gen.py "$dir/cluster"
echo "cluster: $(du -sh "$dir/cluster" | cut -f1) in $(find "$dir/cluster" -name '*.yaml' | wc -l) files"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

get() { grep "^$1 " "$2" | cut -d' ' -f2; }
for run in 1 2; do
	"$bench" "$dir/cluster" "$rounds" >"$dir/weft.$run"
	"$py" bench/store/pyyaml-load.py "$dir/cluster" >"$dir/py.$run"
done

printf '\n%-40s %14s %14s %14s %14s %8s\n' "" "weft run 1" "weft run 2" "PyYAML run 1" "PyYAML run 2" "ratio"
row() { # label key unit
	local w1 w2 p1 p2 ratio
	w1=$(get "$2" "$dir/weft.1"); w2=$(get "$2" "$dir/weft.2")
	p1=$(get "$2" "$dir/py.1" || true); p2=$(get "$2" "$dir/py.2" || true)
	ratio=""
	if [ -n "$p1" ] && [ -n "$p2" ]; then
		ratio=$(python3 -c "print(f'{(($p1)+($p2))/(($w1)+($w2)):.1f}x')")
	fi
	printf '%-40s %14s %14s %14s %14s %8s\n' "$1 ($3)" "$w1" "$w2" "${p1:--}" "${p2:--}" "$ratio"
}
row "load 120,000 objects" load_ms ms
row "  of which store inserts" store_insert_ms ms
row "peak RSS after load" peak_rss_mb MB
row "objects loaded" objects n
row "change services.yaml (100 obj), p50" change_services_file_p50_ms ms
row "change services.yaml (100 obj), p90" change_services_file_p90_ms ms
row "change services.yaml (100 obj), max" change_services_file_max_ms ms
row "change pods-1.yaml (250 obj), p50" change_pods_file_p50_ms ms
row "change pods-1.yaml (250 obj), p90" change_pods_file_p90_ms ms
row "editor save (rename) services, p50" rename_services_file_p50_ms ms
row "editor save (rename) services, p90" rename_services_file_p90_ms ms
row "one changed object in full store" one_object_us us
row "allocations per changed object" one_object_allocs n
echo
echo "ratio = PyYAML / weft (higher is better for weft); PyYAML has no store, so no change rows."
