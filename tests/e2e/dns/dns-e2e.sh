#!/usr/bin/env bash
# End-to-end test of `weft dns` in a network namespace of its own, judged by real clients:
# dig over UDP and TCP, the glibc resolver (getent) with a pod's resolv.conf (search path,
# ndots:5) in a private mount namespace, curl for /metrics, and a second weft-dns instance as
# the upstream resolver for forwarding and caching. Live updates: a manifest written into the
# watched directory shows up in answers.
#
# usage: dns-e2e.sh WEFT_DNS_BINARY FIXTURE_DIR
set -euo pipefail

bin=$1
fixture=$2
ns=wfdns-$$-$RANDOM
tmp=$(mktemp -d /tmp/weft-dns-e2e.XXXXXX)
pids=()
failures=0

cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
ok() {
	echo "ok: $*"
}
in_ns() {
	ip netns exec "$ns" "$@"
}
# dig in the namespace against the cluster DNS address
qdig() {
	in_ns dig @10.96.0.10 +time=2 +tries=1 "$@"
}
expect() { # expect DESCRIPTION PATTERN COMMAND...
	local what=$1 pat=$2 out
	shift 2
	out=$("$@" 2>&1 || true)
	if grep -qE -- "$pat" <<<"$out"; then
		ok "$what"
	else
		fail "$what: /$pat/ not in:"
		sed 's/^/    /' <<<"$out" >&2
	fi
}
expect_not() {
	local what=$1 pat=$2 out
	shift 2
	out=$("$@" 2>&1 || true)
	if grep -qE -- "$pat" <<<"$out"; then
		fail "$what: /$pat/ unexpectedly in:"
		sed 's/^/    /' <<<"$out" >&2
	else
		ok "$what"
	fi
}
wait_for() { # wait_for SECONDS COMMAND...: retries until the command succeeds
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}

ip netns add "$ns"
in_ns ip link set lo up
in_ns ip addr add 10.96.0.10/32 dev lo

# The upstream: another weft-dns, authoritative for upstream.test, on 127.0.0.2.
mkdir -p "$tmp/upstream" "$tmp/manifests"
cat >"$tmp/upstream/svc.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: www, namespace: default}
spec:
  clusterIP: 10.96.7.7
  ports: [{name: http, port: 80}]
YAML
ip netns exec "$ns" "$bin" --manifests "$tmp/upstream" --listen 127.0.0.2:53 --upstream none \
	--cluster-domain upstream.test --ttl 60 2>"$tmp/upstream.log" &
pids+=($!)

cp "$fixture"/*.yaml "$tmp/manifests/"
ip netns exec "$ns" "$bin" --manifests "$tmp/manifests" --listen 10.96.0.10:53 --listen 127.0.0.1:53 \
	--upstream 127.0.0.2:53 --workers 2 --admin 127.0.0.1:9153 2>"$tmp/dns.log" &
pids+=($!)

wait_for 5 in_ns dig @10.96.0.10 +time=1 +tries=1 dns-version.cluster.local TXT ||
	{ cat "$tmp/dns.log"; fail "server did not start"; exit 1; }
wait_for 5 in_ns dig @127.0.0.2 +time=1 +tries=1 www.default.svc.upstream.test ||
	{ cat "$tmp/upstream.log"; fail "upstream did not start"; exit 1; }

# --- dig, UDP and TCP
expect "A over UDP" 'web\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.96\.0\.20' \
	qdig +norec web.default.svc.cluster.local A
expect "A over TCP" 'web\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.96\.0\.20' \
	qdig +tcp web.default.svc.cluster.local A
expect "authoritative answer" 'flags: qr aa' qdig web.default.svc.cluster.local A
expect "case echoed" 'WeB\.DEFAULT\.svc\.cluster\.local\.\s+30\s+IN\s+A' \
	qdig WeB.DEFAULT.svc.cluster.local A
expect "SRV for a named port" 'SRV\s+0 100 80 web\.default\.svc\.cluster\.local\.' \
	qdig _http._tcp.web.default.svc.cluster.local SRV
expect "headless A excludes not-ready" 'ANSWER: 3,' qdig db.default.svc.cluster.local A
expect "headless SRV uses the endpoint port" 'SRV\s+0 33 5433 db-0\.db\.default' \
	qdig _postgres._tcp.db.default.svc.cluster.local SRV
expect "PTR of a ClusterIP" 'PTR\s+web\.default\.svc\.cluster\.local\.' qdig -x 10.96.0.20
expect "ExternalName CNAME" 'CNAME\s+www\.example\.com\.' qdig ext.default.svc.cluster.local A
expect "pod A record" '10-244-3-4\.default\.pod\.cluster\.local\.\s+30\s+IN\s+A\s+10\.244\.3\.4' \
	qdig 10-244-3-4.default.pod.cluster.local A
expect "dns-version" '"1\.1\.0"' qdig dns-version.cluster.local TXT
expect "NXDOMAIN with SOA" 'status: NXDOMAIN.*' qdig nope.default.svc.cluster.local A
expect "NXDOMAIN carries the SOA" 'cluster\.local\.\s+30\s+IN\s+SOA\s+ns\.dns\.cluster\.local\.' \
	qdig nope.default.svc.cluster.local A
expect "NODATA for AAAA of an IPv4 service" 'status: NOERROR.*ANSWER: 0|ANSWER: 0, AUTHORITY: 1' \
	qdig web.default.svc.cluster.local AAAA
# 100 endpoints do not fit 1232 bytes: TC over UDP, complete over TCP, dig retries by itself
expect "TC set on a large UDP answer" 'flags: qr aa tc' \
	qdig +ignore +bufsize=1232 big.default.svc.cluster.local A
expect "TC without EDNS at 512 bytes" 'flags: qr aa tc' \
	qdig +ignore +noedns big.default.svc.cluster.local A
expect "complete answer over TCP" 'ANSWER: 100,' qdig +tcp big.default.svc.cluster.local A
expect "dig falls back to TCP after TC" 'ANSWER: 100,' qdig big.default.svc.cluster.local A
expect "EDNS buffer size advertised" 'udp: 1232' qdig web.default.svc.cluster.local A

# --- TCP pipelining: several queries on one connection
expect "pipelined TCP queries" 'web\.default.*A\s+10\.96\.0\.20' \
	qdig +tcp +keepopen web.default.svc.cluster.local A kube-dns.kube-system.svc.cluster.local A
expect "pipelined TCP second answer" 'kube-dns\.kube-system.*A\s+10\.96\.0\.10' \
	qdig +tcp +keepopen web.default.svc.cluster.local A kube-dns.kube-system.svc.cluster.local A

# --- forwarding and cache
expect "forwarded to the upstream" 'www\.default\.svc\.upstream\.test\.\s+60\s+IN\s+A\s+10\.96\.7\.7' \
	qdig www.default.svc.upstream.test A
expect_not "forwarded answer is not authoritative" 'flags: qr aa' \
	qdig www.default.svc.upstream.test A
expect "upstream NXDOMAIN relayed" 'status: NXDOMAIN' qdig nope.default.svc.upstream.test A
# stop the upstream: cached answers keep coming, with a decreasing TTL
sleep 1.1
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
expect "answer from the cache with lowered TTL" 'upstream\.test\.\s+(5[0-9])\s+IN\s+A\s+10\.96\.7\.7' \
	qdig www.default.svc.upstream.test A
expect "negative answer from the cache" 'status: NXDOMAIN' qdig nope.default.svc.upstream.test A
expect "uncached name without upstream: SERVFAIL" 'status: SERVFAIL' \
	in_ns dig @10.96.0.10 +time=8 +tries=1 other.upstream.test A

# --- malformed packets: dropped or FORMERR, and the server keeps answering
in_ns bash -c 'printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01" >/dev/udp/10.96.0.10/53'
in_ns bash -c 'printf "\x12" >/dev/udp/10.96.0.10/53'
in_ns bash -c 'head -c 3000 /dev/urandom >/dev/udp/10.96.0.10/53'
expect "still answering after garbage" 'ANSWER: 1,' qdig web.default.svc.cluster.local A
expect "FORMERR for a bad query" 'FORMERR' in_ns python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(b"\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01", ("10.96.0.10", 53))
d = s.recv(512)
print({1: "FORMERR"}.get(d[3] & 15, d[3] & 15))'

# --- glibc resolver with a pod's resolv.conf (kubelet's ClusterFirst layout)
cat >"$tmp/resolv.conf" <<'CONF'
search default.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
options ndots:5
CONF
pod_getent() {
	in_ns unshare -m sh -c "mount --bind '$tmp/resolv.conf' /etc/resolv.conf && getent $*"
}
expect "getent: short name through the search path" '^10\.96\.0\.20\s+web\.default\.svc\.cluster\.local' \
	pod_getent hosts web
expect "getent: name.namespace" '^10\.96\.0\.10\s+kube-dns\.kube-system\.svc\.cluster\.local' \
	pod_getent hosts kube-dns.kube-system
expect "getent: headless hostname" '^10\.244\.1\.5\s+db-0\.db\.default\.svc\.cluster\.local' \
	pod_getent hosts db-0.db
expect "getent: IPv6 service (AAAA)" '^fd00:10:96::40\s+v6only\.default\.svc\.cluster\.local' \
	pod_getent hosts v6only
expect "getent: fully qualified" '^10\.96\.0\.20' pod_getent hosts web.default.svc.cluster.local.
# a name outside the cluster walks the search path (NXDOMAIN) and then is forwarded; the
# upstream is gone, so restart it
ip netns exec "$ns" "$bin" --manifests "$tmp/upstream" --listen 127.0.0.2:53 --upstream none \
	--cluster-domain upstream.test --ttl 60 2>>"$tmp/upstream.log" &
pids+=($!)
wait_for 5 in_ns dig @127.0.0.2 +time=1 +tries=1 www.default.svc.upstream.test
expect "getent: external name forwarded" '^10\.96\.7\.7\s+www\.default\.svc\.upstream\.test' \
	pod_getent hosts www.default.svc.upstream.test

# --- live update: a new Service appears, then disappears
cat >"$tmp/manifests/new.yaml.tmp" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: fresh, namespace: default}
spec:
  clusterIP: 10.96.5.5
  ports: [{port: 80}]
YAML
mv "$tmp/manifests/new.yaml.tmp" "$tmp/manifests/new.yaml"
if wait_for 3 sh -c "ip netns exec $ns dig @10.96.0.10 +short fresh.default.svc.cluster.local | grep -q 10.96.5.5"; then
	ok "live update: added Service answers"
else
	fail "live update: fresh.default not answered within 3 s"
fi
expect "live update: PTR of the added Service" 'fresh\.default\.svc\.cluster\.local\.' \
	qdig +short -x 10.96.5.5
grep -q 'mode=incremental' "$tmp/dns.log" && ok "live update: zone updated incrementally" ||
	fail "live update: no incremental zone update logged"
# a headless Service whose endpoint turns not ready and back (EndpointSlice changes only)
cat >"$tmp/manifests/hl.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: flip, namespace: default}
spec:
  clusterIP: None
  ports: [{name: http, port: 80}]
YAML
slice() { # slice READY
	cat >"$tmp/manifests/hl-slice.yaml.tmp" <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: flip-1
  namespace: default
  labels: {kubernetes.io/service-name: flip}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: [10.244.9.9]
  hostname: one
  conditions: {ready: $1}
- addresses: [10.244.9.10]
  conditions: {ready: true}
YAML
	mv "$tmp/manifests/hl-slice.yaml.tmp" "$tmp/manifests/hl-slice.yaml"
}
slice true
if wait_for 3 sh -c "ip netns exec $ns dig @10.96.0.10 +short one.flip.default.svc.cluster.local | grep -q 10.244.9.9"; then
	ok "live update: headless endpoint name answers"
else
	fail "live update: one.flip.default not answered within 3 s"
fi
slice false
if wait_for 3 sh -c "ip netns exec $ns dig @10.96.0.10 one.flip.default.svc.cluster.local | grep -q NXDOMAIN"; then
	ok "live update: not-ready endpoint leaves the zone"
else
	fail "live update: one.flip.default still answered after turning not ready"
fi
expect "live update: the ready endpoint stays" '^10\.244\.9\.10$' \
	qdig +short flip.default.svc.cluster.local
expect_not "live update: no PTR for the not-ready endpoint" 'flip' qdig +short -x 10.244.9.9
slice true
if wait_for 3 sh -c "ip netns exec $ns dig @10.96.0.10 +short _http._tcp.flip.default.svc.cluster.local SRV | grep -q one.flip"; then
	ok "live update: ready again, SRV back"
else
	fail "live update: SRV for one.flip not back within 3 s"
fi
rm "$tmp/manifests/hl.yaml" "$tmp/manifests/hl-slice.yaml"
rm "$tmp/manifests/new.yaml"
if wait_for 3 sh -c "ip netns exec $ns dig @10.96.0.10 fresh.default.svc.cluster.local | grep -q NXDOMAIN"; then
	ok "live update: deleted Service is NXDOMAIN"
else
	fail "live update: fresh.default still answered 3 s after deletion"
fi
# a broken manifest keeps the last good zone
echo "kind: Service
metadata: {name: [broken" >"$tmp/manifests/broken.yaml"
sleep 0.3
expect "broken manifest keeps serving" 'ANSWER: 1,' qdig web.default.svc.cluster.local A
grep -q 'manifest rejected' "$tmp/dns.log" && ok "broken manifest logged" ||
	fail "broken manifest not logged"

# --- admin endpoint
expect "readyz" '^ready' in_ns curl -sf http://127.0.0.1:9153/readyz
expect "healthz" '^ok' in_ns curl -sf http://127.0.0.1:9153/healthz
expect "metrics: queries counted" 'weft_dns_requests_total\{proto="udp"\} [1-9]' \
	in_ns curl -sf http://127.0.0.1:9153/metrics
expect "metrics: NXDOMAIN counted" 'weft_dns_responses_total\{rcode="NXDOMAIN"\} [1-9]' \
	in_ns curl -sf http://127.0.0.1:9153/metrics
expect "metrics: cache hits" 'weft_dns_cache_hits_total [1-9]' \
	in_ns curl -sf http://127.0.0.1:9153/metrics
expect "metrics: latency histogram" 'weft_dns_request_duration_seconds_count [1-9]' \
	in_ns curl -sf http://127.0.0.1:9153/metrics
expect "metrics: zone names" 'weft_dns_zone_names [1-9]' in_ns curl -sf http://127.0.0.1:9153/metrics

# --- clean stop on SIGTERM
kill -TERM "${pids[1]}"
if wait "${pids[1]}"; then ok "clean exit on SIGTERM"; else fail "exit status $? on SIGTERM"; fi

if [ "$failures" -ne 0 ]; then
	echo "--- server log:" >&2
	tail -20 "$tmp/dns.log" >&2
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all checks passed"
