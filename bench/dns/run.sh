#!/usr/bin/env bash
# DNS benchmark: weft vs Knot DNS vs NSD vs a raw UDP responder (the ceiling), on a generated
# cluster of SERVICES ClusterIP Services with SRV-bearing named ports; 80% hits, 20% NXDOMAIN.
# Each server is pinned to CPU 0, the load generator (bench/dns/dns-load, many queries in
# flight) to CPU 1. Figure of merit: answered queries per second of the server's own CPU time
# (utime+stime from /proc, before and after), with qps and latency beside it. Also: weft's
# memory per 1,000 Services, live-update latency at SERVICES Services, and 2 workers.
#
# usage: bench/dns/run.sh [BUILD_DIR]   env: SERVICES=10000 DURATION=5 ROUNDS=2
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build}
n=${SERVICES:-10000}
dur=${DURATION:-5}
rounds=${ROUNDS:-2}
weft=$build/src/dns/weft-dns
load=$build/bench/dns/dns-load
raw=$build/bench/dns/raw-responder
for b in "$weft" "$load" "$raw"; do
	[ -x "$b" ] || { echo "run.sh: $b missing; build with ninja -C $build" >&2; exit 1; }
done
command -v knotd >/dev/null && command -v nsd >/dev/null ||
	{ echo "run.sh: knotd and nsd are needed (scripts/setup.sh installs them)" >&2; exit 1; }

. bench/dns/lib.sh
bench_tmp bench
hz=$(getconf CLK_TCK)

python3 bench/dns/gen.py "$n" "$tmp"

descendants() { # a process and all its descendants (NSD forks a main, servers and xfrd)
	local c
	echo "$1"
	for c in $(ps --ppid "$1" -o pid= 2>/dev/null); do descendants "$c"; done
}
# CPU ticks (user + system) of a process tree.
cpu_ticks() {
	local total=0 p
	for p in $(descendants "$1"); do
		[ -r "/proc/$p/stat" ] || continue
		# fields after the ")" of comm: utime is the 12th, stime the 13th
		read -r ut st < <(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12, $13}')
		total=$((total + ut + st))
	done
	echo "$total"
}

wait_port() { # wait_port PORT
	for _ in $(seq 1 100); do
		dig @127.0.0.1 -p "$1" +time=1 +tries=1 svc-1.ns-1.svc.cluster.local A >/dev/null 2>&1 &&
			return 0
		sleep 0.1
	done
	echo "run.sh: nothing answers on port $1" >&2
	return 1
}

# measure NAME PID PORT: prints one result line and stores the figures
declare -A QPC QPS P50 P99 LOST
measure() {
	local name=$1 pid=$2 port=$3 out c0 c1
	# warm-up, until the server answers under load (a server still loading answers nothing)
	for _ in 1 2 3 4 5; do
		out=$("$load" -s 127.0.0.1 -p "$port" -f "$tmp/queries.txt" -d 1)
		grep -q 'answered=0 ' <<<"$out" || break
		sleep 1
	done
	c0=$(cpu_ticks "$pid")
	out=$(taskset -c 1 "$load" -s 127.0.0.1 -p "$port" -f "$tmp/queries.txt" -d "$dur" -c 512 -n 16)
	c1=$(cpu_ticks "$pid")
	local answered qps cpu
	answered=$(sed -E 's/.*answered=([0-9]+).*/\1/' <<<"$out")
	qps=$(sed -E 's/.* qps=([0-9]+).*/\1/' <<<"$out")
	cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" 'BEGIN{printf "%.2f", (b-a)/hz}')
	QPC[$name]=$(awk -v q="$answered" -v c="$cpu" 'BEGIN{printf "%.0f", (c>0)?q/c:0}')
	QPS[$name]=$qps
	P50[$name]=$(sed -E 's/.*lat_p50_us=([0-9]+).*/\1/' <<<"$out")
	P99[$name]=$(sed -E 's/.*lat_p99_us=([0-9]+).*/\1/' <<<"$out")
	LOST[$name]=$(sed -E 's/.*lost=([0-9]+).*/\1/' <<<"$out")
	echo "  $name: $out cpu_s=$cpu"
}

start_raw() {
	taskset -c 0 "$raw" 127.0.0.1 5300 &
	pids+=($!)
	sleep 0.3
}
start_weft() { # start_weft PORT WORKERS [extra]
	local port=$1 workers=$2
	shift 2
	taskset -c 0 "$weft" --manifests "$tmp/manifests" --listen "127.0.0.1:$port" --upstream none \
		--workers "$workers" "$@" 2>>"$tmp/weft.log" &
	pids+=($!)
	wait_port "$port"
}
start_knot() {
	knot_conf 5302
	taskset -c 0 knotd -c "$tmp/knot/knot.conf" 2>>"$tmp/knot.log" &
	pids+=($!)
	wait_port 5302
}
start_nsd() {
	mkdir -p "$tmp/nsd"
	cat >"$tmp/nsd/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.1@5303
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$tmp/zone"
    pidfile: "$tmp/nsd/nsd.pid"
    database: ""
    xfrdfile: "$tmp/nsd/xfrd.state"
    zonelistfile: "$tmp/nsd/zone.list"
    xfrdir: "$tmp/nsd"
    logfile: "$tmp/nsd/nsd.log"
    verbosity: 0
    hide-version: yes
    rrl-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: cluster.local
    zonefile: cluster.local.zone
CONF
	taskset -c 0 nsd -d -c "$tmp/nsd/nsd.conf" &
	pids+=($!)
	wait_port 5303
}
stop_last() {
	local p=${pids[-1]}
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	unset 'pids[-1]'
}

echo "== DNS benchmark: $n Services ($((n * 3)) records), 80% hits / 20% NXDOMAIN, ${dur}s per server"
echo "   machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "   server on CPU 0, load generator on CPU 1 (512 queries in flight over 16 sockets)"

# Answers must agree before speed means anything.
start_weft 5301 1
start_knot
start_nsd
for q in "svc-7.ns-7.svc.cluster.local A" "_http._tcp.svc-7.ns-7.svc.cluster.local SRV" \
	"nosvc-7.ns-7.svc.cluster.local A"; do
	for port in 5301 5302 5303; do
		dig @127.0.0.1 -p $port +noall +answer +comments $q | grep -E 'status|IN' |
			sed -E 's/id: [0-9]+//; s/\s+/ /g' >"$tmp/ans.$port"
	done
	if ! cmp -s "$tmp/ans.5301" "$tmp/ans.5302" || ! cmp -s "$tmp/ans.5301" "$tmp/ans.5303"; then
		echo "run.sh: answers differ for $q:" >&2
		head -5 "$tmp"/ans.530* >&2
		exit 1
	fi
done
echo "   answers agree (weft, knot, nsd) on a hit, an SRV and an NXDOMAIN"
stop_last
stop_last
stop_last

for round in $(seq 1 "$rounds"); do
	echo "-- round $round"
	start_raw
	measure raw "${pids[-1]}" 5300
	stop_last
	start_weft 5301 1
	measure weft "${pids[-1]}" 5301
	stop_last
	start_knot
	measure knot "${pids[-1]}" 5302
	stop_last
	start_nsd
	measure nsd "${pids[-1]}" 5303
	stop_last
	printf '   %-6s %10s %10s %12s %8s %8s %7s %7s\n' server qps lost "q/cpu-s" vs_raw vs_knot p50_us p99_us
	for s in raw weft knot nsd; do
		printf '   %-6s %10s %10s %12s %8s %8s %7s %7s\n' "$s" "${QPS[$s]}" "${LOST[$s]}" "${QPC[$s]}" \
			"$(awk -v a="${QPC[$s]}" -v b="${QPC[raw]}" 'BEGIN{printf "%.2f", a/b}')" \
			"$(awk -v a="${QPC[$s]}" -v b="${QPC[knot]}" 'BEGIN{printf "%.2f", a/b}')" \
			"${P50[$s]}" "${P99[$s]}"
	done
done

# Workers: each has its own SO_REUSEPORT sockets and writes nothing another reads, so its
# queries per CPU-second should not drop when two run at once. On two cores the load generator
# shares the CPUs with the workers, so total qps cannot grow here: what is compared is each
# worker's queries (weft_dns_worker_requests_total), its own CPU time (its thread in
# /proc/PID/task) and its mean batch (queries per recvmmsg), with 1 and with 2 workers.
thread_ticks() { # thread_ticks PID COMM: CPU ticks of the thread named COMM
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] || continue
		sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}'
		return
	done
	echo 0
}
worker_metric() { # worker_metric ADMIN_PORT NAME WORKER
	curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2{worker=\"$3\"}" '$1 == n {print $2}'
}
# A worker's CPU per query also depends on its batch (queries per recvmmsg/sendmmsg: fewer
# syscalls per query in larger batches), which depends on how busy it is; so each setting runs
# at 64, 256 and 512 queries in flight per worker, and workers are compared at like batches.
echo "-- weft workers: --workers 1 and 2 (--pin: worker i on CPU i), load generator unpinned;"
echo "   per worker: queries, its thread's CPU time, queries per CPU-second, mean batch"
printf '   %-8s %-9s %-7s %10s %7s %10s %6s\n' workers inflight worker queries cpu_s q/cpu-s batch
for workers in 1 2; do
	admin=$((9300 + workers))
	taskset -c 0,1 "$weft" --manifests "$tmp/manifests" --listen 127.0.0.1:5304 --upstream none \
		--workers "$workers" --pin --admin "127.0.0.1:$admin" 2>>"$tmp/weft.log" &
	pids+=($!)
	wait_port 5304
	"$load" -s 127.0.0.1 -p 5304 -f "$tmp/queries.txt" -d 1 >/dev/null # warm-up
	for inflight in 64 256 512; do
		declare -A q0 b0 t0
		for ((i = 0; i < workers; i++)); do
			q0[$i]=$(worker_metric "$admin" weft_dns_worker_requests_total "$i")
			b0[$i]=$(worker_metric "$admin" weft_dns_worker_udp_batches_total "$i")
			t0[$i]=$(thread_ticks "${pids[-1]}" "weft-dns-w$i")
		done
		"$load" -s 127.0.0.1 -p 5304 -f "$tmp/queries.txt" -d "$dur" \
			-c $((inflight * workers)) -n $((16 * workers)) >/dev/null
		tq=0 tt=0 tb=0
		for ((i = 0; i < workers; i++)); do
			q=$(($(worker_metric "$admin" weft_dns_worker_requests_total "$i") - q0[$i]))
			b=$(($(worker_metric "$admin" weft_dns_worker_udp_batches_total "$i") - b0[$i]))
			t=$(($(thread_ticks "${pids[-1]}" "weft-dns-w$i") - t0[$i]))
			tq=$((tq + q)) tt=$((tt + t)) tb=$((tb + b))
			awk -v w="$workers" -v c="$inflight" -v i="$i" -v q="$q" -v b="$b" -v t="$t" \
				-v hz="$hz" 'BEGIN{printf "   %-8d %-9d %-7d %10d %7.2f %10.0f %6.1f\n",
				w, c, i, q, t / hz, t ? q * hz / t : 0, b ? q / b : 0}'
		done
		if [ "$workers" -gt 1 ]; then
			awk -v w="$workers" -v c="$inflight" -v q="$tq" -v b="$tb" -v t="$tt" \
				-v hz="$hz" 'BEGIN{printf "   %-8d %-9d %-7s %10d %7.2f %10.0f %6.1f\n",
				w, c, "all", q, t / hz, t ? q * hz / t : 0, b ? q / b : 0}'
		fi
	done
	stop_last
done
scale=$build/bench/dns/worker-scale
if [ -x "$scale" ]; then
	echo "-- the answering path alone, in 1 and 2 threads at once (bench/dns/worker-scale, no sockets)"
	"$scale" "$tmp/manifests" "$tmp/queries.txt" 2 "$dur" | sed 's/^/   /'
fi

echo "-- weft memory and live update at $n Services"
"$weft" --manifests "$tmp/manifests" --listen 127.0.0.1:5305 --upstream none 2>"$tmp/live.log" &
pids+=($!)
wait_port 5305
rss_full=$(awk '/VmRSS/{print $2}' "/proc/${pids[-1]}/status")
mkdir -p "$tmp/empty"
"$weft" --manifests "$tmp/empty" --listen 127.0.0.1:5306 --upstream none 2>/dev/null &
pids+=($!)
sleep 0.5
rss_empty=$(awk '/VmRSS/{print $2}' "/proc/${pids[-1]}/status")
stop_last
zone_bytes=$(grep -m1 'zone published' "$tmp/live.log" | sed -E 's/.* bytes=([0-9]+).*/\1/')
# Per 1,000 Services = (VmRSS with n Services, once it answers - VmRSS with an empty manifest
# directory, 0.5 s after start) / (n / 1000), in MiB (and in MB of 10^6 bytes).
echo "   RSS: ${rss_full} KiB with $n Services, ${rss_empty} KiB empty:" \
	"$(awk -v a="$rss_full" -v b="$rss_empty" -v n="$n" 'BEGIN{printf "%.2f MiB (%.2f MB)", (a-b)/1024/(n/1000), (a-b)*1024/1e6/(n/1000)}') per 1,000 Services" \
	"(zone itself: $(awk -v z="$zone_bytes" -v n="$n" 'BEGIN{printf "%.2f", z/1048576/(n/1000)}') MiB per 1,000)"
if [ -x "$build/bench/dns/dns-mem" ]; then
	echo "   where the heap goes (bench/dns/dns-mem: mallinfo2 after each step, same kinds as weft dns):"
	"$build/bench/dns/dns-mem" "$tmp/manifests" 2>/dev/null | sed -n '1,5p' | sed 's/^/     /'
fi
# Rewrite one Service (svc-0 gets a new ClusterIP) and time until answers change.
python3 - "$tmp/manifests" <<'PY'
import os, socket, struct, sys, time
d = sys.argv[1]
q = b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"".join(
    bytes([len(l)]) + l.encode() for l in "svc-0.ns-0.svc.cluster.local".split(".")) + b"\x00\x00\x01\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
results = []
for k in range(5):
    new = "10.111.%d.%d" % (200 + k, 7)
    text = open(d + "/one.yaml").read().split("clusterIP: ")[0] + "clusterIP: %s\n" % new + \
        "  selector: {app: svc-0}\n  ports:\n  - {name: http, port: 80, protocol: TCP}\n---\n"
    open(d + "/.one.tmp", "w").write(text)
    t0 = time.monotonic()
    os.rename(d + "/.one.tmp", d + "/one.yaml")
    want = socket.inet_aton(new)
    while True:
        s.sendto(q, ("127.0.0.1", 5305))
        try:
            r = s.recv(512)
        except socket.timeout:
            continue
        if want in r:
            break
        if time.monotonic() - t0 > 5:
            print("   live update: no change after 5 s"); sys.exit(1)
        time.sleep(0.0005)
    results.append((time.monotonic() - t0) * 1000)
    time.sleep(0.2)
print("   live update (one Service changed, answer observed): " +
      " ".join("%.1f" % r for r in results) + " ms")
PY
grep 'zone published' "$tmp/live.log" | tail -5 | sed -E 's/.*(names=[0-9]+).*(build_us=[0-9]+).*/   rebuild: \1 \2/'
stop_last
