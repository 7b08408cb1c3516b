#!/usr/bin/env python3
"""Prototype rulesets for an element-only service data plane (issue 5), written as nft text.

  gen.py class N OUT   one DNAT rule per endpoint-count class k (k = 1..10 here), a set of the
                       VIP keys of each class, one map of endpoints keyed VIP.proto.port.slot
                       (slot = numgen random mod k): N services x 2..10 endpoints (6 on average),
                       elements = endpoints
  gen.py slots N OUT   one DNAT rule for all services, M = 60 slots per service filled
                       round-robin with 6 endpoints: elements = 60 x N

Both: VIP 10.96.x.y:8080/tcp -> endpoints 10.250.0.0/15:8080 (local addresses in the bench
namespace, so connlat's listener answers). Element blocks are written as separate "add element"
commands of <= 20,000 elements after the table block, so they can be split into transactions
(run.sh). Prints "first_vip last_vip".
"""
import sys

MODE, N, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
K = 10  # classes 1..K
M = 60  # slots in the "slots" design
CHUNK = 20000


def vip(i):
    return "10.96.%d.%d" % (i // 250, i % 250 + 1)


def nep(i):
    return 2 + i % 9 if MODE == "class" else 6


def ep(i, j):
    k = i * 10 + j
    return "10.%d.%d.%d" % (250 + k // 62500, (k // 250) % 250, k % 250 + 1)


# nft 1.0.6: the map must be declared with typeof, and its data side with "tcp dport" (not
# "th dport"), or nft cannot re-read it from the kernel ("conflicting protocols specified: ip
# vs. th") and every later nft command on the table fails. "tcp dport" makes nft add "meta
# l4proto tcp" to the rules that use the map: this prototype is TCP-only (a real table needs
# one map per protocol; see RESULTS.md). Numgen slots are written 0, 1, ...
KEYT = "type ipv4_addr . inet_proto . inet_service"
head = """table inet wx {
	set clustercidrs4 { type ipv4_addr; flags interval; elements = { 10.244.0.0/16 } }
	map eps4 {
		typeof ip daddr . meta l4proto . tcp dport . numgen random mod 2 : ip daddr . tcp dport
	}
	set svcs4 { %s; }
	set noep4 { %s; }
""" % (KEYT, KEYT)
with open(OUT, "w") as f:
    f.write(head)
    if MODE == "class":
        for k in range(1, K + 1):
            f.write("\tset cls%d-4 { %s; }\n" % (k, KEYT))
    f.write("""	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}
	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}
	chain filter-output {
		type filter hook output priority -110; policy accept;
		ct state new ip daddr . meta l4proto . th dport @noep4 reject
	}
	chain services {
		ip daddr . meta l4proto . th dport @svcs4 ip saddr != @clustercidrs4 meta mark set meta mark | 0x4000
""")
    key = "ip daddr . meta l4proto . th dport"
    if MODE == "class":
        for k in range(1, K + 1):
            f.write("\t\t%s @cls%d-4 dnat ip to %s . numgen random mod %d map @eps4\n"
                    % (key, k, key, k))
    else:
        f.write("\t\tdnat ip to %s . numgen random mod %d map @eps4\n" % (key, M))
    f.write("\t}\n}\n")
    # Endpoints first, then the sets that make a service reachable: split at any chunk
    # boundary, every service is either complete or not dispatched at all.
    items = []
    for i in range(N):
        for s in range(M if MODE == "slots" else nep(i)):
            items.append("%s . tcp . 8080 . %d : %s . 8080" % (vip(i), s, ep(i, s % nep(i))))
    for c in range(0, len(items), CHUNK):
        f.write("add element inet wx eps4 {\n" + ",\n".join(items[c:c + CHUNK]) + " }\n")
    f.write("add element inet wx svcs4 {\n" +
            ",\n".join("%s . tcp . 8080" % vip(i) for i in range(N)) + " }\n")
    if MODE == "class":
        for k in range(1, K + 1):
            l = [vip(i) for i in range(N) if nep(i) == k]
            if l:
                f.write("add element inet wx cls%d-4 {\n" % k +
                        ",\n".join("%s . tcp . 8080" % v for v in l) + " }\n")
print(vip(0), vip(N - 1))
