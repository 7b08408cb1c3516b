#!/usr/bin/env bash
# Functional checks of the element-only layout's pieces on this kernel and nft (root): a TCP
# NodePort keyed by address 0 (`ip daddr & 0.0.0.0`), a UDP VIP through a per-protocol map,
# and ClientIP affinity as a dynamic map filled in nat postrouting. Prints the endpoint each
# client reached, counted; affinity must show one endpoint before and one after its element
# is deleted.
set -euo pipefail
NS=wpx-elc-$$
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; ip netns del $NS 2>/dev/null || true' EXIT
ip netns add $NS
ip -n $NS link set lo up
ip -n $NS addr add 10.249.0.1/32 dev lo
ip -n $NS route add local 10.250.0.0/15 dev lo
ip -n $NS route add 10.96.0.0/16 dev lo src 10.249.0.1
ip netns exec $NS nft -f - <<'NFT'
table inet wx {
	set nodeips4 { type ipv4_addr; elements = { 10.249.0.1 } }
	map eps-tcp4 { typeof ip daddr . tcp dport . numgen random mod 2 : ip daddr . tcp dport; }
	map eps-udp4 { typeof ip daddr . udp dport . numgen random mod 2 : ip daddr . udp dport; }
	set cls2-tcp4 { typeof ip daddr . tcp dport; }
	set cls2-udp4 { typeof ip daddr . udp dport; }
	set cls3-tcp4 { typeof ip daddr . tcp dport; }
	map aff-tcp4 {
		typeof ip saddr . ip daddr . tcp dport : ip daddr . tcp dport
		flags dynamic,timeout
		size 1048576
	}
	set aff10800-tcp4 { typeof ip daddr . tcp dport; }
	chain nat-output {
		type nat hook output priority -100; policy accept;
		dnat ip to ip saddr . ip daddr . tcp dport map @aff-tcp4
		ip daddr @nodeips4 ip daddr & 0.0.0.0 . tcp dport @cls2-tcp4 dnat ip to ip daddr & 0.0.0.0 . tcp dport . numgen random mod 2 map @eps-tcp4
		ip daddr . tcp dport @cls2-tcp4 dnat ip to ip daddr . tcp dport . numgen random mod 2 map @eps-tcp4
		ip daddr . tcp dport @cls3-tcp4 dnat ip to ip daddr . tcp dport . numgen random mod 3 map @eps-tcp4
		ip daddr . udp dport @cls2-udp4 dnat ip to ip daddr . udp dport . numgen random mod 2 map @eps-udp4
	}
	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		meta l4proto tcp ct status dnat ct original ip daddr . ct original proto-dst @aff10800-tcp4 update @aff-tcp4 { ip saddr . ct original ip daddr . ct original proto-dst timeout 10800s : ip daddr . tcp dport }
	}
}
add element inet wx cls2-tcp4 { 0.0.0.0 . 30080 }
add element inet wx eps-tcp4 { 0.0.0.0 . 30080 . 0 : 10.250.0.1 . 8080, 0.0.0.0 . 30080 . 1 : 10.250.0.2 . 8080 }
add element inet wx cls2-udp4 { 10.96.0.5 . 53 }
add element inet wx eps-udp4 { 10.96.0.5 . 53 . 0 : 10.250.0.3 . 8080, 10.96.0.5 . 53 . 1 : 10.250.0.4 . 8080 }
add element inet wx cls3-tcp4 { 10.96.0.1 . 8080 }
add element inet wx eps-tcp4 { 10.96.0.1 . 8080 . 0 : 10.250.0.1 . 8080, 10.96.0.1 . 8080 . 1 : 10.250.0.2 . 8080, 10.96.0.1 . 8080 . 2 : 10.250.0.3 . 8080 }
NFT
# nft must be able to read the table back (finding 5 in RESULTS.md).
ip netns exec $NS nft list table inet wx >/dev/null
ip netns exec $NS python3 - <<'PY' &
import os, select, socket
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 8080)); t.listen(128)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.setsockopt(socket.IPPROTO_IP, 8, 1)
u.bind(("0.0.0.0", 8080))
while True:
    for s in select.select([t, u], [], [])[0]:
        if s is t:
            c, _ = t.accept(); c.send(c.getsockname()[0].encode()); c.close()
        else:
            d, anc, _, a = u.recvmsg(100, 256)
            u.sendto(socket.inet_ntoa(anc[0][2][8:12]).encode(), a)
PY
PIDS+=($!)
sleep 0.7
client() {
	ip netns exec $NS python3 - "$@" <<'PY'
import collections, socket, sys
addr, port, proto, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
cnt = collections.Counter()
for _ in range(n):
    if proto == "tcp":
        c = socket.create_connection((addr, port), timeout=2)
        cnt[c.recv(100).decode()] += 1
    else:
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(2)
        c.sendto(b"x", (addr, port)); cnt[c.recv(100).decode()] += 1
    c.close()
print(proto, addr, port, dict(cnt))
PY
}
client 10.249.0.1 30080 tcp 20
client 10.96.0.5 53 udp 20
client 10.96.0.1 8080 tcp 30
ip netns exec $NS nft add element inet wx aff10800-tcp4 '{ 10.96.0.1 . 8080 }'
echo "affinity on:"
client 10.96.0.1 8080 tcp 30
# The endpoint the client sticks to goes away: one transaction moves the service to the
# 2-endpoint class, rewrites its slots and deletes the client elements that point at the
# removed endpoint (the writer would find them with a dump of the affinity map).
gone=$(ip netns exec $NS nft list map inet wx aff-tcp4 | sed -nE 's/.*: (10\.250\.0\.[0-9]+) \. 8080.*/\1/p')
keep=()
for e in 10.250.0.1 10.250.0.2 10.250.0.3; do [ "$e" = "$gone" ] || keep+=("$e"); done
ip netns exec $NS nft -f - <<NFT
delete element inet wx cls3-tcp4 { 10.96.0.1 . 8080 }
add element inet wx cls2-tcp4 { 10.96.0.1 . 8080 }
delete element inet wx eps-tcp4 { 10.96.0.1 . 8080 . 0, 10.96.0.1 . 8080 . 1, 10.96.0.1 . 8080 . 2 }
add element inet wx eps-tcp4 { 10.96.0.1 . 8080 . 0 : ${keep[0]} . 8080, 10.96.0.1 . 8080 . 1 : ${keep[1]} . 8080 }
delete element inet wx aff-tcp4 { 10.249.0.1 . 10.96.0.1 . 8080 }
NFT
echo "endpoint $gone removed (left: ${keep[*]}); affinity still on:"
client 10.96.0.1 8080 tcp 30
