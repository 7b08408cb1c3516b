# Sourced by the bench/dns scripts (run from the repository's top directory).

# bench_tmp NAME: a scratch directory in $tmp, removed on exit together with every server
# whose pid the script appended to pids.
pids=()
bench_tmp() {
	tmp=$(mktemp -d "/tmp/weft-dns-$1.XXXXXX")
	trap bench_cleanup EXIT
}
bench_cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}

# knot_conf PORT: Knot DNS configuration serving $tmp/zone/cluster.local.zone (bench/dns/gen.py)
# on 127.0.0.1@PORT with one worker of each kind, written to $tmp/knot/knot.conf.
knot_conf() {
	mkdir -p "$tmp/knot"
	cat >"$tmp/knot/knot.conf" <<CONF
server:
    rundir: "$tmp/knot"
    listen: 127.0.0.1@$1
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$tmp/knot"
log:
  - target: stderr
    any: error
template:
  - id: default
    storage: "$tmp/zone"
    semantic-checks: off
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: cluster.local
    file: cluster.local.zone
CONF
}
