#!/usr/bin/env bash
# Manifest parsing benchmark: 100,000 Pods + 10,000 Services + 10,000 EndpointSlices (10
# endpoints each), as YAML and as JSON Lists, parsed by weft (decoded, validated, objects kept)
# and by the anchor, PyYAML's libyaml-backed CSafeLoader / Python's json (plain trees, no
# validation). weft runs twice per round: on one thread (wf_k8s_parse_file per file) and on
# one thread per CPU (wf_k8s_parse_files). Also prints the floor: libyaml events alone / a bare
# jansson load (jansson's own lexer, malloc'd tree: weft's JSON path no longer uses either).
#
#   bench/k8s/run.sh [BUILD_DIR]      (default build-k8s; runs each measurement twice)
#
# Ratios use CPU seconds (user + system): on a shared machine wall time is mostly waiting.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-k8s}
bin=$build/bench/k8s/bench-k8s-parse
if [ ! -x "$bin" ]; then
	# bench/meson.build does not list k8s yet: build the helper against the build's libraries.
	ninja -C "$build" src/k8s/libwf_k8s.a src/lib/libwf_lib.a >/dev/null
	bin=$(mktemp /tmp/bench-k8s-parse.XXXXXX)
	cc -O2 -D_GNU_SOURCE -Isrc bench/k8s/bench-parse.c "$build/src/k8s/libwf_k8s.a" \
		"$build/src/lib/libwf_lib.a" $(pkg-config --libs jansson yaml-0.1 liburcu) -lm \
		-lpthread -o "$bin"
	trap 'rm -f "$bin"' EXIT
fi
dir=$(mktemp -d /tmp/bench-k8s.XXXXXX)
trap 'rm -rf "$dir"; [ "${bin#/tmp/}" != "$bin" ] && rm -f "$bin"' EXIT
"$bin" gen "$dir" 100000 10000 10000
echo "input: $(du -sh --apparent-size "$dir"/*.yaml | awk '{s+=$1} END {print s}')M YAML in $(ls "$dir"/*.yaml | wc -l) files, $(ls "$dir"/*.json | wc -l) JSON files"

py_anchor() { # $1 = yaml|json
	python3 - "$1" "$dir" <<'PY'
import glob, json, resource, sys, time, yaml
kind, d = sys.argv[1], sys.argv[2]
t0 = time.monotonic(); c0 = time.process_time(); n = 0; keep = []
for f in sorted(glob.glob(f"{d}/*.{kind}")):
    with open(f) as fh:
        if kind == "yaml":
            docs = [x for x in yaml.load_all(fh, Loader=yaml.CSafeLoader) if x]
        else:
            docs = json.load(fh)["items"]
    keep.append(docs); n += len(docs)
t = time.monotonic() - t0; c = time.process_time() - c0
print(f"objects={n} cpu_seconds={c:.3f} wall_seconds={t:.3f} max_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.1f}")
PY
}

# CPU seconds: the two cores are shared, so wall time mostly measures the neighbours. The
# parallel run (wf_k8s_parse_files, one thread per CPU) is judged by its wall time; its CPU
# seconds are the sum over its threads.
secs() { sed -E 's/.*cpu_seconds=([0-9.]+).*/\1/'; }
wall() { sed -E 's/.*wall_seconds=([0-9.]+).*/\1/'; }
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for fmt in yaml json; do
	for run in 1 2; do
		w=$("$bin" parse "$dir"/*."$fmt")
		p=$("$bin" pparse "$dir"/*."$fmt")
		a=$(py_anchor "$fmt")
		f=$("$bin" scan "$dir"/*."$fmt")
		ratio=$(echo "$(echo "$a" | secs) $(echo "$w" | secs)" | awk '{printf "%.1f", $1 / $2}')
		wratio=$(echo "$(echo "$a" | wall) $(echo "$p" | wall)" | awk '{printf "%.1f", $1 / $2}')
		echo "$fmt run $run: weft   1 thread  $w"
		echo "$fmt run $run: weft   parallel  $p"
		echo "$fmt run $run: anchor           $a"
		echo "$fmt run $run: floor            $f"
		echo "$fmt run $run: weft is ${ratio}x faster than the anchor (CPU, 1 thread);" \
			"${wratio}x (wall, parallel vs the anchor's wall)"
	done
done
