#!/usr/bin/env bash
# LoadBalancer Services in the lab: the control plane's LB IPAM fills status.loadBalancer.ingress
# from the underlay pool (172.30.<k>.200-249), one node's weft agent answers ARP for each address,
# and the outside host reaches it with no route of its own. Judged with curl, `ip neigh` and a
# raw ARP probe (counting the MACs that answer) from the outside host.
LAB=e2lb$$
source "$(dirname "$0")/lib.sh"
"$WEFT" agent --help >/dev/null 2>&1 || { echo "SKIP: this build has no weft agent"; exit 77; }
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "SKIP: needs curl, python3"; exit 77; }

pod() { # pod NAME NODE
	cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: lb}}
spec:
  nodeName: $2
  terminationGracePeriodSeconds: 1
  containers:
  - {name: echo, image: weft/echo, ports: [{name: http, containerPort: 8080}]}
EOF
}
pod p1 node-1 >"$TMP/p1.yaml"
pod p2 node-2 >"$TMP/p2.yaml"
svc() { # svc NAME POLICY [loadBalancerIP]
	cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: $1}
spec:
  type: LoadBalancer
  externalTrafficPolicy: $2
  selector: {app: lb}
  ports: [{name: http, port: 80, targetPort: http}]
${3:+  loadBalancerIP: $3}
EOF
}
svc web Cluster >"$TMP/web.yaml"
svc loc Local >"$TMP/loc.yaml"
{ cat "$TMP/p1.yaml"; echo ---; cat "$TMP/p2.yaml"; echo ---; cat "$TMP/web.yaml"; echo ---
  cat "$TMP/loc.yaml"; } >"$TMP/all.yaml"

check "up with two pods and two LoadBalancer Services" lab up -f "$TMP/all.yaml" --nodes 2 --no-dns
snapshot
K=$(lab get node node-1 -o json | grep -m1 -o '172\.30\.[0-9]*\.' | cut -d. -f3)

lbip() { # the Service's status.loadBalancer.ingress[0].ip
	lab get svc "$1" -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(((s.get("status") or {}).get("loadBalancer") or {}).get("ingress", [{}])[0].get("ip", ""))'
}
in_pool() { local ip; ip=$(lbip "$1"); [[ $ip =~ ^172\.30\.$K\.([0-9]+)$ ]] && ((BASH_REMATCH[1] >= 200 && BASH_REMATCH[1] <= 249)); }
check "web: status.loadBalancer.ingress from the pool" eventually 10 in_pool web
check "loc: status.loadBalancer.ingress from the pool" eventually 10 in_pool loc
WEB=$(lbip web)
LOC=$(lbip loc)
check "the two addresses differ" test "$WEB" != "$LOC"
check "get svc shows LoadBalancer" bash -c "\"$WEFT\" lab --name $LAB get svc web | grep -q LoadBalancer"
check "get svc shows the address as EXTERNAL-IP" bash -c "\"$WEFT\" lab --name $LAB get svc web | grep -q \"LoadBalancer .* $WEB \""
check "status shows the address" bash -c "\"$WEFT\" lab --name $LAB status | grep -q \" $WEB \""

# owners IP: the nodes holding IP (the announcer's /32 on eth0)
owners() {
	local n
	for n in node-1 node-2; do
		lab exec --node "$n" -- ip -4 -o addr show dev eth0 | grep -q " $1/32 " && echo "$n"
	done
}
one_owner() { [ "$(owners "$1" | wc -l)" -eq 1 ]; }
check "exactly one node holds $WEB" eventually 20 one_owner "$WEB"
ready() { lab get pods | grep -c ' 1/1 *Running' | grep -qx 2; }
check "pods running" eventually 40 ready
check "outside reaches $WEB with no route of its own" eventually 20 bash -c "\"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$WEB/ | grep -q '^pod=p[12]'"
check "the outside host has no route but the underlay's" bash -c "[ \"\$(\"$WEFT\" lab --name $LAB exec --outside -- ip -4 route | grep -vc 'proto kernel')\" -eq 0 ]"

# (not /sys/class/net: sysfs shows the namespace it was mounted in)
mac_of() { lab exec --node "$1" -- ip -o link show dev eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }
neigh_is_owner() { # neigh_is_owner IP: the outside host's ARP entry is the owner's MAC
	local o; o=$(owners "$1")
	[ -n "$o" ] && lab exec --outside -- ip neigh show "$1" | grep -qi "lladdr $(mac_of "$o")"
}
check "outside's ip neigh for $WEB is the owner's MAC" neigh_is_owner "$WEB"

# A raw ARP probe from the outside host: how many distinct MACs answer for IP in 1 s.
cat >"$TMP/arp.py" <<'EOF'
import socket, struct, sys, time
ip = socket.inet_aton(sys.argv[1])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0))
mac = s.getsockname()[4]
me = socket.inet_aton(sys.argv[2])
req = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + me + b"\0" * 6 + ip
s.sendto(req, ("eth0", 0))
s.settimeout(0.2)
seen, end = set(), time.time() + 1
while time.time() < end:
    try:
        f = s.recv(128)
    except socket.timeout:
        continue
    if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" and f[28:32] == ip:
        seen.add(f[22:28].hex(":"))
print(len(seen), *sorted(seen))
EOF
arp_one() { # arp_one IP: exactly one MAC answers, and it is the owner's
	local out o; out=$(lab exec --outside -- python3 "$TMP/arp.py" "$1" "172.30.$K.250")
	o=$(owners "$1")
	echo "answers: $out owner: $o"
	[ "${out%% *}" = 1 ] && [ "${out#* }" = "$(mac_of "$o")" ]
}
check "exactly one MAC answers ARP for $WEB" arp_one "$WEB"

# externalTrafficPolicy Local: the owner has a ready local endpoint; without it, the address moves
check "exactly one node holds $LOC" eventually 20 one_owner "$LOC"
check "exactly one MAC answers ARP for $LOC" arp_one "$LOC"
check "outside reaches $LOC" eventually 20 bash -c "\"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$LOC/ | grep -q '^pod=p[12]'"
check "eTP=Local keeps the client's address" bash -c "\"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$LOC/ | grep -q 'client=172.30.$K.250:'"
LOC_OWNER=$(owners "$LOC")
VICTIM=p${LOC_OWNER#node-}
OTHER=node-$((3 - ${LOC_OWNER#node-}))
check "delete $VICTIM, the only endpoint on $LOC_OWNER" lab delete -f "$TMP/$VICTIM.yaml"
moved() { [ "$(owners "$LOC")" = "$OTHER" ]; }
check "$LOC moves to $OTHER" eventually 30 moved
check "outside reaches $LOC on $OTHER (gratuitous ARP moved its cache)" eventually 10 bash -c "\"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$LOC/ | grep -q 'node=$OTHER'"
check "outside's ip neigh for $LOC is $OTHER's MAC" neigh_is_owner "$LOC"
check "put $VICTIM back" lab apply -f "$TMP/$VICTIM.yaml"

# spec.loadBalancerIP: honoured in the pool and free; refused when taken or outside the pool
svc fixed Cluster "172.30.$K.240" >"$TMP/fixed.yaml"
check "apply a Service asking for 172.30.$K.240" lab apply -f "$TMP/fixed.yaml"
check "... it gets 172.30.$K.240" eventually 10 bash -c "[ \"\$(\"$WEFT\" lab --name $LAB get svc fixed -o json | grep -c '\"ip\": \"172.30.$K.240\"')\" -eq 1 ]"
check "... and one node holds it" eventually 20 one_owner "172.30.$K.240"
svc clash Cluster "$WEB" >"$TMP/clash.yaml"
refused() { # refused FILE MESSAGE
	local out
	out=$("$WEFT" lab --name "$LAB" apply -f "$1" 2>&1) && { echo "accepted: $out"; return 1; }
	echo "$out"
	echo "$out" | grep -q "$2"
}
check "a taken loadBalancerIP is refused" refused "$TMP/clash.yaml" "spec.loadBalancerIP.*already allocated (to default/web)"
svc far Cluster "172.30.$K.100" >"$TMP/far.yaml"
check "an out-of-pool loadBalancerIP is refused" refused "$TMP/far.yaml" "spec.loadBalancerIP.*not in the LoadBalancer pool"

# deleting the Service releases the address: gone from its node, free for another Service
check "delete web" lab delete -f "$TMP/web.yaml"
gone() { [ -z "$(owners "$WEB")" ]; }
check "$WEB is gone from every node" eventually 20 gone
check "outside no longer gets an answer for $WEB" eventually 10 bash -c "! \"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 1 http://$WEB/"
check "the released $WEB can be requested again" lab apply -f "$TMP/clash.yaml"
check "... and clash gets it" eventually 10 bash -c "[ \"\$(\"$WEFT\" lab --name $LAB get svc clash -o json | grep -c '\"ip\": \"$WEB\"')\" -eq 1 ]"

check "down" lab down
check "down leaves nothing" nothing_left
finish
