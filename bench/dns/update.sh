#!/usr/bin/env bash
# Live-update benchmark for weft dns: at SERVICES Services (bench/dns/gen.py), rewrite the file
# holding one Service (svc-0 gets a new ClusterIP, atomic rename) CHANGES times and time from
# the rename to the first UDP answer that shows the new address (a query every 0.5 ms).
# Runs the daemon twice, --rebuild incremental (the default) and --rebuild full, and prints for
# each p50/p95 of that latency and the CPU per update (the daemon's own log: the zone update on
# its thread's CPU clock; and the whole process's utime+stime over the run, file parsing, store
# and polling queries included), then the ratios; and the process's RSS with SERVICES Services
# against an empty one. With EXTRA_PODS=N it also
# measures what N Pods that DNS does not read (default --pods insecure) cost in RSS: the store
# keeps every kind the directory source reads.
#
# usage: bench/dns/update.sh [BUILD_DIR]   env: SERVICES=10000 CHANGES=20 EXTRA_PODS=0
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build}
n=${SERVICES:-10000}
changes=${CHANGES:-20}
extra_pods=${EXTRA_PODS:-0}
weft=$build/src/dns/weft-dns
[ -x "$weft" ] || { echo "update.sh: $weft missing; build with ninja -C $build" >&2; exit 1; }

. bench/dns/lib.sh
bench_tmp update
hz=$(getconf CLK_TCK)
python3 bench/dns/gen.py "$n" "$tmp" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
# Waits until the daemon answers svc-0 (zone published); with a second argument, any answer.
wait_ready() {
	python3 - "$1" "${2:-}" <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
q = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in "svc-0.ns-0.svc.cluster.local".split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
end = time.time() + 120
while time.time() < end:
    s.sendto(q, ("127.0.0.1", port))
    try:
        r = s.recv(512)
        if sys.argv[2] or (r[3] & 15 == 0 and struct.unpack(">H", r[6:8])[0] > 0):
            sys.exit(0)
    except socket.timeout:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
}

start() { # PORT MANIFEST_DIR LOG [any] [extra weft options...]
	local port=$1 dir=$2 log=$3 any=${4:-}
	shift 4 || shift $#
	"$weft" --manifests "$dir" --listen "127.0.0.1:$port" --upstream none "$@" 2>"$log" &
	pids+=($!)
	wait_ready "$port" "$any" || { echo "update.sh: weft dns did not answer on port $port" >&2; exit 1; }
}

declare -A P50 P95 CPU PROC
run_mode() { # MODE PORT
	local mode=$1 port=$2 pid lines c0 c1 out rest modes
	start "$port" "$tmp/manifests" "$tmp/$mode.log" "" --rebuild "$mode"
	pid=${pids[-1]}
	lines=$(grep -c 'zone published' "$tmp/$mode.log")
	c0=$(cpu_ticks "$pid")
	out=$(python3 - "$tmp/manifests" "$port" "$changes" "$mode" <<'EOF'
import os, socket, struct, sys, time
d, port, changes, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
name = "svc-0.ns-0.svc.cluster.local"
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.05)
base = open(d + "/one.yaml").read().split("clusterIP: ")
lat = []
for k in range(changes):
    new = "10.111.%d.%d" % (k // 200 + (100 if mode == "full" else 0), 1 + k % 200)
    want = socket.inet_aton(new)
    rest = base[1].split("\n", 1)[1]
    with open(d + "/.one.tmp", "w") as f:
        f.write(base[0] + "clusterIP: %s\n" % new + rest)
    t0 = time.monotonic()
    os.rename(d + "/.one.tmp", d + "/one.yaml")
    while True:
        s.sendto(q, ("127.0.0.1", port))
        try:
            r = s.recv(512)
            if want in r:
                break
        except socket.timeout:
            pass
        if time.monotonic() - t0 > 10:
            print("no change after 10 s", file=sys.stderr); sys.exit(1)
        time.sleep(0.0005)
    lat.append((time.monotonic() - t0) * 1e3)
    time.sleep(0.3)  # one update at a time
ls = sorted(lat)
p = lambda x: ls[min(len(ls) - 1, int(round(x * (len(ls) - 1))))]
print("%.1f %.1f %s" % (p(0.5), p(0.95), " ".join("%.1f" % x for x in lat)))
EOF
)
	c1=$(cpu_ticks "$pid")
	sleep 0.2
	read -r p50 p95 rest <<<"$out"
	P50[$mode]=$p50
	P95[$mode]=$p95
	PROC[$mode]=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v ch="$changes" 'BEGIN{printf "%.2f", (b-a)*1000/hz/ch}')
	CPU[$mode]=$(tail -n +"$((lines + 1))" "$tmp/$mode.log" | grep 'zone published' |
		sed -E 's/.* cpu_us=([0-9]+).*/\1/' | sort -n |
		awk '{ c[NR] = $1 } END { if (NR) printf "%.3f", c[int((NR + 1) / 2)] / 1000; else print "nan" }')
	modes=$(tail -n +"$((lines + 1))" "$tmp/$mode.log" | grep 'zone published' |
		sed -E 's/.* mode=([a-z]+).*/\1/' | sort | uniq -c | awk '{printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2}')
	echo "   --rebuild $mode: change -> answer (ms): $rest"
	echo "   --rebuild $mode: p50 ${P50[$mode]} ms, p95 ${P95[$mode]} ms; zone update CPU p50" \
		"${CPU[$mode]} ms ($modes); whole process ${PROC[$mode]} ms CPU per change"
	kill "$pid"; wait "$pid" 2>/dev/null || true
}

echo "-- weft dns live update at $n Services ($changes changes per mode)"
run_mode incremental 5310
run_mode full 5313
echo "   ratio full/incremental: zone update CPU" \
	"$(awk -v a="${CPU[full]}" -v b="${CPU[incremental]}" 'BEGIN{printf "%.0fx", a/b}')," \
	"whole-process CPU per change $(awk -v a="${PROC[full]}" -v b="${PROC[incremental]}" 'BEGIN{printf "%.1fx", (b > 0 ? a / b : 0)}')," \
	"p50 latency $(awk -v a="${P50[full]}" -v b="${P50[incremental]}" 'BEGIN{printf "%.1fx", a/b}')," \
	"p95 latency $(awk -v a="${P95[full]}" -v b="${P95[incremental]}" 'BEGIN{printf "%.1fx", a/b}')"

start 5310 "$tmp/manifests" "$tmp/live.log"
pid=${pids[-1]}
rss_full=$(rss_kib "$pid")
mkdir -p "$tmp/empty"
start 5311 "$tmp/empty" /dev/null any
rss_empty=$(rss_kib "${pids[-1]}")
start 5314 "$tmp/manifests" /dev/null "" --rebuild full
rss_noindex=$(rss_kib "${pids[-1]}")
echo "   RSS: ${rss_full} KiB with $n Services, ${rss_empty} KiB empty:" \
	"$(awk -v a="$rss_full" -v b="$rss_empty" -v n="$n" 'BEGIN{printf "%.2f", (a-b)/1024/(n/1000)}') MiB per 1,000 Services;" \
	"with --rebuild full (no owner index) ${rss_noindex} KiB:" \
	"$(awk -v a="$rss_noindex" -v b="$rss_empty" -v n="$n" 'BEGIN{printf "%.2f", (a-b)/1024/(n/1000)}') MiB per 1,000"

if [ "$extra_pods" -gt 0 ]; then
	python3 - "$tmp/manifests/pods.yaml" "$extra_pods" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        f.write("apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-%d\n  namespace: ns-%d\n"
                "  labels: {app: svc-%d}\nspec:\n  nodeName: node-1\n  containers:\n"
                "  - {name: app, image: busybox, command: [sleep, infinity]}\n"
                "status:\n  podIP: 10.244.%d.%d\n  podIPs: [{ip: 10.244.%d.%d}]\n---\n"
                % (i, i % 100, i % n, i // 250, 1 + i % 250, i // 250, 1 + i % 250))
EOF
	kill "$pid"; wait "$pid" 2>/dev/null || true
	start 5312 "$tmp/manifests" /dev/null
	rss_pods=$(rss_kib "${pids[-1]}")
	echo "   RSS with $extra_pods Pods more (not read by DNS): ${rss_pods} KiB:" \
		"$(awk -v a="$rss_pods" -v b="$rss_full" -v p="$extra_pods" 'BEGIN{printf "%.2f", (a-b)/1024/(p/1000)}') MiB per 1,000 Pods kept by the store"
fi
