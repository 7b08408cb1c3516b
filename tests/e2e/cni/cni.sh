#!/usr/bin/env bash
# End-to-end tests of weft-cni: root, network namespaces made here (a "node" netns in which the
# plugin runs, and pod netns), judged with ip, ping, nft, tc, jq. Nothing of the host's network
# is touched. Usage: cni.sh WEFT_CNI WEFT_IPAM CASE
set -uo pipefail

BIN=$1
IPAM_BIN=$2
CASE=$3
ID=$$$RANDOM
NODE=wfn-$ID
DIR=$(mktemp -d /tmp/weft-cni-e2e.XXXXXX)
NETNS=()
PIDS=()
FAILS=0

cleanup() {
	local ns p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for ns in "${NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	ip netns del "$NODE" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}
ok() { echo "ok: $*"; }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}

ip netns add "$NODE" || exit 1
ip netns exec "$NODE" ip link set lo up

pod() { # pod NAME: creates a pod netns
	ip netns add "wfp-$ID-$1"
	NETNS+=("wfp-$ID-$1")
	ip netns exec "wfp-$ID-$1" ip link set lo up
}
podns() { echo "wfp-$ID-$1"; }

# cni COMMAND CONTAINERID POD IFNAME CONFIG [extra env...]: runs the plugin in the node netns;
# sets OUT (stdout) and RC.
cni() {
	local cmd=$1 cid=$2 p=$3 ifn=$4 conf=$5
	shift 5
	local ns=""
	[ -n "$p" ] && ns=/run/netns/$(podns "$p")
	OUT=$(printf '%s' "$conf" | nsenter --net=/run/netns/"$NODE" env CNI_COMMAND="$cmd" \
		CNI_CONTAINERID="$cid" CNI_NETNS="$ns" CNI_IFNAME="$ifn" \
		CNI_PATH="$(dirname "$IPAM_BIN"):/usr/lib/cni" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$cid" "$@" \
		"$BIN" 2>"$DIR/stderr")
	RC=$?
}
jqo() { printf '%s' "$OUT" | jq -er "$1"; }
in_pod() {
	local p=$1
	shift
	ip netns exec "$(podns "$p")" "$@"
}
in_node() { ip netns exec "$NODE" "$@"; }
store_count() { # number of reserved addresses in the store of network $1 (weft-ipam list)
	[ -d "$DIR/ipam/$1" ] || { echo 0; return; }
	"$IPAM_BIN" list "$DIR/ipam/$1" | grep -vc '^- '
}
store_atts() { # number of attachments (records) in the store of network $1
	[ -d "$DIR/ipam/$1" ] || { echo 0; return; }
	"$IPAM_BIN" list "$DIR/ipam/$1" | awk '{print $2, $3}' | sort -u | wc -l
}
store_state() { # what the store of network $1 holds and its files (names and sizes)
	"$IPAM_BIN" list "$DIR/ipam/$1" | sort
	(cd "$DIR/ipam/$1" && stat -c '%n %s' -- * .[!.]* 2>/dev/null | sort)
}

# conf NAME MODE EXTRA_TOP_JSON IPAM_JSON
conf() {
	local name=$1 mode=$2 extra=$3 ipam=$4
	jq -cn --arg n "$name" --arg m "$mode" --arg d "$DIR/ipam" --argjson e "$extra" \
		--argjson i "$ipam" \
		'{cniVersion:"1.1.0", name:$n, type:"weft-cni", mode:$m, bridge:"wfb\($n|.[0:8])",
		  isGateway:true, isDefaultGateway:true, ipMasq:false, mtu:1450, hairpinMode:true,
		  ipam:({type:"weft-ipam", dataDir:$d} + $i)} + $e'
}

C4=$(conf n4 bridge '{}' '{"subnet":"10.123.0.0/24"}')

case_bridge() {
	pod a
	pod b
	cni ADD ca a eth0 "$C4"
	check "ADD a succeeds" test "$RC" = 0
	check "result has 3 interfaces" test "$(jqo '.interfaces|length')" = 3
	check "pod interface sandbox" test "$(jqo '.interfaces[2].sandbox')" = /run/netns/$(podns a)
	check "ip points at pod interface" test "$(jqo '.ips[0].interface')" = 2
	check "1.1.0 result carries mtu" test "$(jqo '.interfaces[2].mtu')" = 1450
	check "1.x result has no ips[].version" test "$(jqo '.ips[0]|has("version")')" = false
	local ipa gw
	ipa=$(jqo '.ips[0].address' | cut -d/ -f1)
	gw=$(jqo '.ips[0].gateway')
	local hv
	hv=$(jqo '.interfaces[1].name')
	check "gateway is .1" test "$gw" = 10.123.0.1
	check "first address skips gateway" test "$ipa" = 10.123.0.2
	cni ADD cb b eth0 "$C4"
	check "ADD b succeeds" test "$RC" = 0
	local ipb
	ipb=$(jqo '.ips[0].address' | cut -d/ -f1)
	check "pod a has its address" in_pod a ip -4 addr show dev eth0 to "$ipa/32"
	check "pod a has mtu 1450" sh -c "ip netns exec $(podns a) ip link show eth0 | grep -q 'mtu 1450'"
	check "pod a default route via gateway" sh -c \
		"ip netns exec $(podns a) ip route show default | grep -q 'via $gw'"
	check "a reaches b" in_pod a ping -c1 -W2 "$ipb"
	check "b reaches a" in_pod b ping -c1 -W2 "$ipa"
	check "a reaches the node (gateway)" in_pod a ping -c1 -W2 "$gw"
	check "node reaches a" in_node ping -c1 -W2 "$ipa"
	check "hairpin on the bridge port" sh -c \
		"ip netns exec $NODE ip -d link show $hv | grep -q 'hairpin on'"
	local prevb=$OUT
	cni CHECK cb b eth0 "$(printf '%s' "$C4" | jq -c --argjson p "$prevb" '. + {prevResult:$p}')"
	check "CHECK b succeeds" test "$RC" = 0
	in_pod b ip addr flush dev eth0
	cni CHECK cb b eth0 "$(printf '%s' "$C4" | jq -c --argjson p "$prevb" '. + {prevResult:$p}')"
	check "CHECK notices a removed address" test "$RC" != 0
	cni ADD ca a eth0 "$C4"
	check "second ADD of an existing interface fails" test "$RC" != 0
	check "failed ADD left the first attachment intact" in_pod a ip link show eth0
	# a record whose interface is gone (what an ADD killed after its record leaves): the next
	# ADD of that attachment undoes it first, then succeeds
	in_pod a ip link del eth0
	cni ADD ca a eth0 "$C4"
	check "ADD over a leftover record succeeds" test "$RC" = 0
	check "the leftover's reservation was replaced" test "$(store_count n4)" = 2
	cni DEL ca a eth0 "$C4"
	check "DEL a succeeds" test "$RC" = 0
	check "pod interface gone" sh -c "! ip netns exec $(podns a) ip link show eth0"
	check "host veth gone" sh -c "! ip netns exec $NODE ip link show $hv"
	cni DEL ca a eth0 "$C4"
	check "second DEL succeeds" test "$RC" = 0
	cni DEL cb "" eth0 "$C4"
	check "DEL with empty CNI_NETNS succeeds" test "$RC" = 0
	check "store is empty after DELs" test "$(store_count n4)" = 0
	# DEL after the pod's netns is gone (the runtime removed it first)
	pod gone
	cni ADD cg gone eth0 "$C4"
	local gonehv
	gonehv=$(jqo '.interfaces[1].name')
	ip netns del "$(podns gone)"
	cni DEL cg gone eth0 "$C4"
	check "DEL succeeds when the netns is gone" test "$RC" = 0
	check "its address is released" test "$(store_count n4)" = 0
	check "its host veth is gone" sh -c "! ip netns exec $NODE ip link show $gonehv"
}

case_routed() {
	pod a
	pod b
	local c
	c=$(conf rt routed '{}' '{"ranges":[[{"subnet":"10.124.0.0/24"}],[{"subnet":"fd00:124::/64"}]]}')
	cni ADD ra a eth0 "$c"
	check "routed ADD a" test "$RC" = 0
	check "two addresses (dual-stack)" test "$(jqo '.ips|length')" = 2
	check "routed: no bridge in result" test "$(jqo '.interfaces|length')" = 2
	local a4 a6
	a4=$(jqo '.ips[0].address' | cut -d/ -f1)
	a6=$(jqo '.ips[1].address' | cut -d/ -f1)
	cni CHECK ra a eth0 "$(printf '%s' "$c" | jq -c --argjson p "$OUT" '. + {prevResult:$p}')"
	check "routed CHECK" test "$RC" = 0
	cni ADD rb b eth0 "$c"
	check "routed ADD b" test "$RC" = 0
	local b4 b6
	b4=$(jqo '.ips[0].address' | cut -d/ -f1)
	b6=$(jqo '.ips[1].address' | cut -d/ -f1)
	check "pod address is a /32" in_pod a ip -4 addr show dev eth0 to "$a4/32"
	check "host has a /32 route per pod" sh -c \
		"ip netns exec $NODE ip route show $a4 | grep -q 'dev wf'"
	check "no bridge on the node" sh -c "! ip netns exec $NODE ip link show type bridge | grep -q ."
	check "a reaches b over IPv4" in_pod a ping -c1 -W2 "$b4"
	check "a reaches b over IPv6" in_pod a ping -c1 -W2 "$b6"
	check "b reaches a over IPv6" in_pod b ping -c1 -W2 "$a6"
	in_node ip addr add 192.0.2.200/32 dev lo
	check "a reaches the node" in_pod a ping -c1 -W2 192.0.2.200
	cni DEL ra a eth0 "$c"
	check "routed DEL" test "$RC" = 0
	check "host route gone" sh -c "! ip netns exec $NODE ip route show $a4 | grep -q ."
	cni DEL rb b eth0 "$c"
	check "store empty" test "$(store_count rt)" = 0
}

case_dualstack_bridge() {
	pod a
	pod b
	local c
	c=$(conf ds bridge '{}' '{"ranges":[[{"subnet":"10.125.0.0/24"}],[{"subnet":"fd00:125::/64","gateway":"fd00:125::1"}]]}')
	cni ADD da a eth0 "$c"
	check "dual-stack bridge ADD" test "$RC" = 0
	local a6
	a6=$(jqo '.ips[1].address' | cut -d/ -f1)
	cni ADD db b eth0 "$c"
	local b6
	b6=$(jqo '.ips[1].address' | cut -d/ -f1)
	check "IPv6 pod to pod" in_pod a ping -c1 -W3 "$b6"
	check "IPv6 pod to gateway" in_pod b ping -c1 -W3 fd00:125::1
	check "IPv6 default route" sh -c "ip netns exec $(podns a) ip -6 route show default | grep -q fd00:125::1"
	cni DEL da a eth0 "$c"
	cni DEL db b eth0 "$c"
	check "store empty" test "$(store_count ds)" = 0
}

case_versions() {
	pod a
	local v c
	for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		c=$(printf '%s' "$C4" | jq -c --arg v "$v" '.cniVersion=$v')
		cni ADD "v${v//./}" a eth0 "$c"
		check "ADD with cniVersion $v" test "$RC" = 0
		check "result cniVersion $v" test "$(jqo .cniVersion)" = "$v"
		case $v in
		0.*) check "$v result has ips[].version" test "$(jqo '.ips[0].version')" = 4 ;;
		*) check "$v result has no ips[].version" test "$(jqo '.ips[0]|has("version")')" = false ;;
		esac
		case $v in
		1.1.0) check "$v has interface mtu" jqo '.interfaces[0].mtu' ;;
		*) check "$v has no interface mtu" test "$(jqo '.interfaces[0]|has("mtu")')" = false ;;
		esac
		cni DEL "v${v//./}" a eth0 "$c"
		check "DEL with cniVersion $v" test "$RC" = 0
	done
	OUT=$(printf '{"cniVersion":"1.0.0"}' | CNI_COMMAND=VERSION "$BIN")
	check "VERSION echoes the version" test "$(jqo .cniVersion)" = 1.0.0
	check "VERSION lists 1.1.0 and 0.3.1" sh -c "printf '%s' '$OUT' | jq -e '.supportedVersions|index(\"1.1.0\") and index(\"0.3.1\")'"
	OUT=$(CNI_COMMAND=VERSION "$BIN" </dev/null)
	check "VERSION with empty stdin" jqo .supportedVersions
	check "weft-ipam answers VERSION" sh -c "CNI_COMMAND=VERSION $IPAM_BIN </dev/null | jq -e .supportedVersions"
}

expect_code() { # expect_code DESCRIPTION CODE
	if [ "$RC" != 0 ] && [ "$(jqo .code 2>/dev/null)" = "$2" ] && jqo .msg >/dev/null; then
		ok "$1 -> code $2"
	else
		fail "$1: expected code $2, got rc=$RC out=$OUT"
	fi
}

case_errors() {
	pod a
	cni ADD e1 a eth0 '{"cniVersion":"1.0.0", "name":'
	expect_code "invalid JSON" 6
	cni ADD e1 a eth0 '{"cniVersion":"1.0.0","type":"weft-cni"}'
	expect_code "missing name" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.cniVersion="0.2.0"')"
	expect_code "unsupported version 0.2.0" 1
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.cniVersion="2.0.0"')"
	expect_code "unsupported version 2.0.0" 1
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c 'del(.cniVersion)')"
	expect_code "missing cniVersion" 1
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.cniVersion="one"')"
	expect_code "malformed version" 6
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.ipam.subnet="10.0.0.0/33"')"
	expect_code "bad CIDR /33" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.ipam.subnet="10.0.0.300/24"')"
	expect_code "bad CIDR address" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.ipam.rangeStart="10.9.9.9"')"
	expect_code "rangeStart outside subnet" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c 'del(.ipam.subnet)')"
	expect_code "ipam without subnet" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.mode="vxlan"')"
	expect_code "unknown mode" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.mtu="big"')"
	expect_code "mtu not a number" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.runtimeConfig={portMappings:[{hostPort:0,containerPort:80}]}')"
	expect_code "bad port mapping" 7
	cni ADD e1 a eth0 "$(printf '%s' "$C4" | jq -c '.ipam.type="no-such-ipam"')"
	expect_code "delegated IPAM not found" 7
	cni ADD e1 a "eth0/x" "$C4"
	expect_code "interface name with /" 4
	cni ADD e1 a "averyveryverylongname" "$C4"
	expect_code "interface name too long" 4
	cni ADD e1 a ".." "$C4"
	expect_code "interface name .." 4
	cni ADD "" a eth0 "$C4"
	expect_code "missing CNI_CONTAINERID" 4
	OUT=$(printf '%s' "$C4" | nsenter --net=/run/netns/"$NODE" env -u CNI_COMMAND "$BIN" 2>/dev/null)
	RC=$?
	expect_code "CNI_COMMAND unset" 4
	cni FROB e1 a eth0 "$C4"
	expect_code "unknown CNI_COMMAND" 4
	cni ADD e1 a eth0 "$C4" CNI_ARGS="FOO=bar"
	expect_code "unknown CNI_ARGS key without IgnoreUnknown" 4
	cni ADD e1 a eth0 "$C4" CNI_NETNS=/run/netns/wf-no-such-ns-$ID
	expect_code "netns that does not exist" 3
	cni STATUS "" "" "" "$(printf '%s' "$C4" | jq -c '.cniVersion="1.0.0"')"
	expect_code "STATUS with a 1.0.0 config" 1
	# exhausted pool: a /29 has 5 usable addresses besides the gateway
	local small i
	small=$(conf sm bridge '{}' '{"subnet":"10.126.0.0/29"}')
	for i in 1 2 3 4 5; do
		pod "x$i"
		cni ADD "x$i" "x$i" eth0 "$small"
		[ "$RC" = 0 ] || fail "ADD $i into /29"
	done
	pod x6
	cni ADD x6 x6 eth0 "$small"
	expect_code "exhausted pool" 11
	check "failed ADD left no interface" sh -c "! ip netns exec $(podns x6) ip link show eth0"
	check "failed ADD left no host veth" test "$(ip netns exec "$NODE" ip -o link show | grep -c '@')" = 5
	cni STATUS "" "" "" "$small"
	expect_code "STATUS on an exhausted pool" 50
	cni DEL x3 x3 eth0 "$small"
	cni STATUS "" "" "" "$small"
	check "STATUS fine again after a DEL" test "$RC" = 0
	cni ADD x6 x6 eth0 "$small"
	check "freed address is reused" test "$(jqo '.ips[0].address')" = 10.126.0.4/29
	for i in 1 2 4 5 6; do cni DEL "x$i" "x$i" eth0 "$small"; done
	check "store empty" test "$(store_count sm)" = 0
}

case_static_ips() {
	pod a
	pod b
	pod c
	cni ADD sa a eth0 "$(printf '%s' "$C4" | jq -c '.runtimeConfig={ips:["10.123.0.77/24"]}')"
	check "ips capability" test "$(jqo '.ips[0].address')" = 10.123.0.77/24
	cni ADD sb b eth0 "$(printf '%s' "$C4" | jq -c '.args={cni:{ips:["10.123.0.78"]}}')"
	check "args.cni.ips" test "$(jqo '.ips[0].address')" = 10.123.0.78/24
	cni ADD sc c eth0 "$C4" CNI_ARGS="IgnoreUnknown=1;IP=10.123.0.79;K8S_POD_NAME=x"
	check "CNI_ARGS IP=" test "$(jqo '.ips[0].address')" = 10.123.0.79/24
	pod d
	cni ADD sd d eth0 "$(printf '%s' "$C4" | jq -c '.runtimeConfig={ips:["10.123.0.77"]}')"
	expect_code "requested address taken" 11
	cni ADD sd d eth0 "$(printf '%s' "$C4" | jq -c '.runtimeConfig={ips:["10.99.99.99"]}')"
	expect_code "requested address outside the ranges" 7
	cni ADD sd d eth0 "$(printf '%s' "$C4" | jq -c '.runtimeConfig={mac:"02:11:22:33:44:55"}')"
	check "mac capability" sh -c "ip netns exec $(podns d) ip link show eth0 | grep -q 02:11:22:33:44:55"
	for x in a b c d; do cni DEL "s$x" "$x" eth0 "$C4"; done
	check "store empty" test "$(store_count n4)" = 0
}

case_concurrent() {
	local i pids=()
	for i in $(seq 1 8); do pod "c$i"; done
	for i in $(seq 1 8); do
		(cni ADD "cc$i" "c$i" eth0 "$C4"; printf '%s' "$OUT" >"$DIR/out.$i"; exit $RC) &
		pids+=($!)
	done
	local bad=0
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	check "8 concurrent ADDs succeed" test "$bad" = 0
	local n
	n=$(cat "$DIR"/out.* | jq -r '.ips[0].address' | sort -u | wc -l)
	check "8 unique addresses" test "$n" = 8
	check "8 reservations" test "$(store_count n4)" = 8
	check "c1 reaches c8" in_pod c1 ping -c1 -W2 "$(jq -r '.ips[0].address' "$DIR/out.8" | cut -d/ -f1)"
	pids=()
	for i in $(seq 1 8); do
		(cni DEL "cc$i" "c$i" eth0 "$C4"; exit $RC) &
		pids+=($!)
	done
	bad=0
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	check "8 concurrent DELs succeed" test "$bad" = 0
	check "store empty" test "$(store_count n4)" = 0
}

case_cycles() {
	pod a
	cni ADD warm a eth0 "$C4"
	cni DEL warm a eth0 "$C4"
	local before after i bad=0
	before=$(store_state n4 | md5sum)
	local links_before
	links_before=$(ip netns exec "$NODE" ip -o link | wc -l)
	for i in $(seq 1 1000); do
		cni ADD "cy$i" a eth0 "$C4"
		[ "$RC" = 0 ] || { bad=$((bad + 1)); echo "ADD $i: $OUT" >&2; }
		cni DEL "cy$i" a eth0 "$C4"
		[ "$RC" = 0 ] || bad=$((bad + 1))
	done
	after=$(store_state n4 | md5sum)
	check "1000 ADD/DEL cycles all succeed" test "$bad" = 0
	check "store exactly as before" test "$before" = "$after"
	check "no links left behind" test "$(ip netns exec "$NODE" ip -o link | wc -l)" = "$links_before"
	check "no interface left in the pod" sh -c "! ip netns exec $(podns a) ip link show eth0"
}

case_kill9() {
	local i pid c
	c=$(printf '%s' "$C4" | jq -c '.ipMasq=true | .runtimeConfig={portMappings:[{hostPort:18080,containerPort:80,protocol:"tcp"}]}')
	# a store that has seen pods come and go first, so that the kills also hit ADDs that
	# reuse freed slots
	for i in $(seq 1 8); do
		pod "s$i"
		cni ADD "s$i" "s$i" eth0 "$C4"
	done
	check "8 attachments, one store file" test "$(store_atts n4)/$(ls -A "$DIR/ipam/n4" | tr '\n' ' ')" = "8/lock store "
	for i in $(seq 1 8); do cni DEL "s$i" "s$i" eth0 "$C4"; done
	# kill -9 at many points of ADD; then DEL and GC must leave nothing
	for i in $(seq 1 20); do
		pod "k$i"
		printf '%s' "$c" | nsenter --net=/run/netns/"$NODE" env CNI_COMMAND=ADD CNI_CONTAINERID="k$i" \
			CNI_NETNS="/run/netns/$(podns "k$i")" CNI_IFNAME=eth0 "$BIN" >/dev/null 2>&1 &
		pid=$!
		sleep "0.00$((RANDOM % 10))"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	echo "after the kills: $(store_count n4) reservations, $(ip netns exec "$NODE" ip -o link show | grep -c '@') host veths, $(store_atts n4) records"
	# half are cleaned by DEL (what a runtime does after a failed ADD), the rest by GC
	for i in $(seq 1 10); do
		cni DEL "k$i" "k$i" eth0 "$c"
		[ "$RC" = 0 ] || fail "DEL after kill -9 ($i): $OUT"
	done
	cni GC "" "" "" "$(printf '%s' "$c" | jq -c '. + {"cni.dev/valid-attachments":[]}')"
	[ "$RC" = 0 ] || echo "GC: $OUT" >&2
	check "GC succeeds" test "$RC" = 0
	check "no reservation left" test "$(store_count n4)" = 0
	check "no record left" test "$(store_atts n4)" = 0
	check "no host veth left" test "$(ip netns exec "$NODE" ip -o link show | grep -c '@')" = 0
	check "no nft element left" sh -c "! ip netns exec $NODE nft list table inet weft_cni 2>/dev/null | grep -q 10.123"
	check "no stray file" test "$(ls -A "$DIR/ipam/n4" | tr '\n' ' ')" = "lock store "
	# and the store still hands out unique addresses, reusing what is left
	local pids=()
	for i in $(seq 1 10); do
		pod "a$i"
		(cni ADD "a$i" "a$i" eth0 "$C4"; printf '%s' "$OUT" >"$DIR/k9.$i"; exit $RC) &
		pids+=($!)
	done
	local bad=0
	for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
	check "10 concurrent ADDs after the kills" test "$bad" = 0
	check "10 unique addresses" test "$(cat "$DIR"/k9.* | jq -r '.ips[0].address' | sort -u | wc -l)" = 10
	check "10 reservations" test "$(store_count n4)" = 10
	for i in $(seq 1 10); do cni DEL "a$i" "a$i" eth0 "$C4"; done
	check "store empty again" test "$(store_count n4)" = 0
}

case_gc() {
	local i c
	c=$(printf '%s' "$C4" | jq -c '.ipMasq=true')
	# a store of the previous layout (one file per address, as host-local's) is converted
	mkdir -p "$DIR/ipam/n4"
	printf 'old1\r\neth0' >"$DIR/ipam/n4/10.123.0.200"
	printf '10.123.0.200' >"$DIR/ipam/n4/last_reserved_ip.0"
	for i in 1 2 3; do
		pod "g$i"
		cni ADD "g$i" "g$i" eth0 "$c"
	done
	check "the old layout's reservation is honoured" \
		sh -c "'$IPAM_BIN' list '$DIR/ipam/n4' | grep -qx '10.123.0.200 old1 eth0'"
	check "round-robin continues after the old hint" \
		sh -c "'$IPAM_BIN' list '$DIR/ipam/n4' | grep -qx '10.123.0.201 g1 eth0'"
	check "the old layout's files are gone" test "$(ls -A "$DIR/ipam/n4" | tr '\n' ' ')" = "lock store "
	check "4 reservations" test "$(store_count n4)" = 4
	cni GC "" "" "" "$(printf '%s' "$c" | jq -c '. + {"cni.dev/valid-attachments":[{containerID:"g2",ifname:"eth0"}]}')"
	check "GC succeeds" test "$RC" = 0
	check "GC keeps the valid one" test "$(store_count n4)" = 1
	check "GC kept g2's interface" in_pod g2 ip link show eth0
	check "GC removed g1's interface" sh -c "! ip netns exec $(podns g1) ip link show eth0"
	check "GC removed g1's masquerade element" sh -c \
		"test \$(ip netns exec $NODE nft list set inet weft_cni masq4 | grep -o '10\.123\.0\.[0-9]*' | wc -l) = 1"
	# the older key spelling
	cni GC "" "" "" "$(printf '%s' "$c" | jq -c '. + {"cni.dev/attachments":[]}')"
	check "GC with cni.dev/attachments" test "$(store_count n4)" = 0
}

case_portmap_masq() {
	pod a
	pod b
	local c ipa
	c=$(printf '%s' "$C4" | jq -c '.ipMasq=true | .runtimeConfig={portMappings:[{hostPort:18080,containerPort:8080,protocol:"tcp"},{hostPort:15353,containerPort:5353,protocol:"udp"}]}')
	cni ADD pa a eth0 "$c"
	check "ADD with portMappings and ipMasq" test "$RC" = 0
	ipa=$(jqo '.ips[0].address' | cut -d/ -f1)
	# an "outside" netns on a second link of the node
	pod out
	ip link add "wfo$ID" netns "$NODE" type veth peer name eth0 netns "$(podns out)"
	in_node ip addr add 198.51.100.1/24 dev "wfo$ID"
	in_node ip link set "wfo$ID" up
	in_pod out ip addr add 198.51.100.2/24 dev eth0
	in_pod out ip link set eth0 up
	# no route back to the pod subnet: only masquerade lets the pod's traffic return
	# Started with ip netns exec directly (it execs the server), not through the in_pod
	# function: a backgrounded function is a subshell, and its pid is not the server's, so
	# cleanup would leave the server running.
	ip netns exec "$(podns a)" busybox nc -ll -p 8080 -e echo hello-weft >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.3
	local got
	got=$(in_pod out timeout 5 busybox nc -w 3 198.51.100.1 18080 </dev/null 2>/dev/null)
	check "hostPort reaches the pod from outside" test "$got" = hello-weft
	got=$(in_node timeout 5 busybox nc -w 3 198.51.100.1 18080 </dev/null 2>/dev/null)
	check "hostPort reaches the pod from the node itself" test "$got" = hello-weft
	got=$(in_pod a timeout 5 busybox nc -w 3 198.51.100.1 18080 </dev/null 2>/dev/null)
	check "hostPort hairpin: the pod reaches itself through it" test "$got" = hello-weft
	check "ipMasq: pod reaches outside" in_pod a ping -c1 -W2 198.51.100.2
	check "nft has the pod in masq4" sh -c "ip netns exec $NODE nft list set inet weft_cni masq4 | grep -q $ipa"
	cni ADD pb b eth0 "$c"
	check "a second pod cannot take the same hostPort" test "$RC" != 0
	check "failed ADD removed its nft elements" sh -c \
		"test \$(ip netns exec $NODE nft list set inet weft_cni masq4 | grep -o '10\.123\.0\.[0-9]*' | wc -l) = 1"
	# DEL without prevResult and without runtimeConfig still removes the mappings
	cni DEL pa a eth0 "$C4"
	check "DEL succeeds" test "$RC" = 0
	check "port mapping gone" sh -c "! ip netns exec $NODE nft list map inet weft_cni ports4 | grep -q 18080"
	check "masquerade element gone" sh -c "! ip netns exec $NODE nft list set inet weft_cni masq4 | grep -q 10.123"
	check "store empty" test "$(store_count n4)" = 0
}

# A UDP echo server on [::] (IPv4 too), in the foreground: start it with ip netns exec ... &
UDP_ECHO='import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(__import__("sys").argv[1])))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(b"udp-" + d, a)'
# udp_ask ADDR PORT: one datagram, prints the answer (empty after 2 s without one)
UDP_ASK='import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(b"weft", (sys.argv[1], int(sys.argv[2])))
try:
    print(s.recv(2048).decode())
except OSError:
    pass'

case_portmap_v6_udp() {
	# hostPort over IPv6 and over UDP (both families), from a netns outside the node
	pod a
	local c ipa6
	c=$(conf p6 bridge '{"ipMasq":true}' \
		'{"ranges":[[{"subnet":"10.131.0.0/24"}],[{"subnet":"fd00:131::/64","gateway":"fd00:131::1"}]]}' |
		jq -c '.runtimeConfig={portMappings:[{hostPort:18081,containerPort:8081,protocol:"tcp"},{hostPort:15354,containerPort:5354,protocol:"udp"}]}')
	cni ADD p6 a eth0 "$c"
	check "dual-stack ADD with tcp and udp portMappings" test "$RC" = 0
	ipa6=$(jqo '.ips[1].address' | cut -d/ -f1)
	check "nft maps the IPv6 tcp hostPort" sh -c \
		"ip netns exec $NODE nft list map inet weft_cni ports6 | grep -q 'tcp . 18081 : $ipa6 . 8081'"
	check "nft maps the IPv6 udp hostPort" sh -c \
		"ip netns exec $NODE nft list map inet weft_cni ports6 | grep -q 'udp . 15354 : $ipa6 . 5354'"
	pod out
	ip link add "wfo$ID" netns "$NODE" type veth peer name eth0 netns "$(podns out)"
	in_node ip addr add 198.51.100.1/24 dev "wfo$ID"
	in_node ip addr add 2001:db8:51::1/64 dev "wfo$ID" nodad
	in_node ip link set "wfo$ID" up
	in_pod out ip addr add 198.51.100.2/24 dev eth0
	in_pod out ip addr add 2001:db8:51::2/64 dev eth0 nodad
	in_pod out ip link set eth0 up
	# the pod answers from its IPv6 address once duplicate address detection is over
	local i
	for i in $(seq 1 30); do
		[ -z "$(in_pod a ip -6 addr show dev eth0 tentative)" ] && break
		sleep 0.1
	done
	ip netns exec "$(podns a)" busybox nc -ll -p 8081 -e echo hello-v6 >/dev/null 2>&1 &
	PIDS+=($!)
	ip netns exec "$(podns a)" /usr/bin/python3 -c "$UDP_ECHO" 5354 >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.5
	local got
	got=$(in_pod out timeout 5 busybox nc -w 3 2001:db8:51::1 18081 </dev/null 2>/dev/null)
	check "IPv6 tcp hostPort reaches the pod from outside" test "$got" = hello-v6
	got=$(in_pod out /usr/bin/python3 -c "$UDP_ASK" 198.51.100.1 15354 2>/dev/null)
	check "IPv4 udp hostPort reaches the pod from outside" test "$got" = udp-weft
	got=$(in_pod out /usr/bin/python3 -c "$UDP_ASK" 2001:db8:51::1 15354 2>/dev/null)
	check "IPv6 udp hostPort reaches the pod from outside" test "$got" = udp-weft
	got=$(in_node /usr/bin/python3 -c "$UDP_ASK" 2001:db8:51::1 15354 2>/dev/null)
	check "IPv6 udp hostPort reaches the pod from the node itself" test "$got" = udp-weft
	cni DEL p6 a eth0 "$(conf p6 bridge '{}' '{"ranges":[[{"subnet":"10.131.0.0/24"}],[{"subnet":"fd00:131::/64","gateway":"fd00:131::1"}]]}')"
	check "DEL succeeds" test "$RC" = 0
	check "IPv6 port mappings gone" sh -c "! ip netns exec $NODE nft list map inet weft_cni ports6 | grep -q 1535"
	check "IPv4 udp port mapping gone" sh -c "! ip netns exec $NODE nft list map inet weft_cni ports4 | grep -q 15354"
	got=$(in_pod out /usr/bin/python3 -c "$UDP_ASK" 2001:db8:51::1 15354 2>/dev/null)
	check "nothing answers on the udp hostPort after DEL" test -z "$got"
	check "store empty" test "$(store_count p6)" = 0
}

case_bandwidth() {
	pod a
	local c hv
	c=$(printf '%s' "$C4" | jq -c '.runtimeConfig={bandwidth:{ingressRate:8000000,ingressBurst:800000,egressRate:4000000,egressBurst:400000}}')
	cni ADD bw a eth0 "$c"
	check "ADD with bandwidth" test "$RC" = 0
	hv=$(jqo '.interfaces[1].name')
	check "tbf shapes traffic to the pod" sh -c "ip netns exec $NODE tc qdisc show dev $hv | grep -q 'tbf.*rate 8Mbit'"
	check "egress goes through an ifb with tbf" sh -c \
		"ip netns exec $NODE tc qdisc show dev wi${hv#wf} | grep -q 'tbf.*rate 4Mbit'"
	cni DEL bw a eth0 "$c"
	check "DEL removes the ifb" sh -c "! ip netns exec $NODE ip link show wi${hv#wf}"
}

case_chain() {
	pod a
	# weft-cni first, the reference portmap and tuning after it, as a runtime runs a conflist
	# Debian's reference plugins speak up to 1.0.0
	local c prev
	c=$(printf '%s' "$C4" | jq -c '.cniVersion="1.0.0"')
	cni ADD ch a eth0 "$c"
	prev=$OUT
	local pm
	pm=$(jq -cn --argjson p "$prev" '{cniVersion:"1.0.0",name:"n4",type:"tuning",sysctl:{"net.ipv4.conf.eth0.rp_filter":"0"},prevResult:$p}')
	OUT=$(printf '%s' "$pm" | nsenter --net=/run/netns/"$NODE" env CNI_COMMAND=ADD CNI_CONTAINERID=ch \
		CNI_NETNS="/run/netns/$(podns a)" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni /usr/lib/cni/tuning 2>&1)
	check "reference tuning plugin accepts weft's result" test "$(jqo '.ips[0].address')" = "$(printf '%s' "$prev" | jq -r '.ips[0].address')"
	# weft-cni chained after another interface plugin: honours prevResult
	pod b
	local c2 out1
	cni ADD chb b eth0 "$C4"
	out1=$OUT
	c2=$(conf n5 bridge '{}' '{"subnet":"10.127.0.0/24"}' | jq -c --argjson p "$out1" '. + {prevResult:$p}')
	cni ADD chb b net1 "$c2"
	check "chained ADD succeeds" test "$RC" = 0
	check "prevResult interfaces kept" test "$(jqo '.interfaces|length')" = 6
	check "prevResult ips kept, ours appended" test "$(jqo '[.ips[].address]|join(",")')" = "$(printf '%s' "$out1" | jq -r '.ips[0].address'),10.127.0.2/24"
	check "our ip indexes our interface" test "$(jqo '.ips[1].interface')" = 5
	cni DEL chb b net1 "$c2"
	cni DEL chb b eth0 "$C4"
	cni DEL ch a eth0 "$C4"
	check "store empty" test "$(store_count n4)" = 0
}

case_delegate() {
	pod a
	local c
	c=$(jq -cn --arg d "$DIR/hl" --arg s "$DIR/state" '{cniVersion:"1.0.0",name:"dl",type:"weft-cni",
		bridge:"wfbdl",isGateway:true,stateDir:$s,
		ipam:{type:"host-local",subnet:"10.128.0.0/24",dataDir:$d}}')
	cni ADD dg a eth0 "$c"
	check "ADD delegating to host-local" test "$RC" = 0
	check "host-local's address used" test "$(jqo '.ips[0].address')" = 10.128.0.2/24
	check "host-local reserved it" test -f "$DIR/hl/dl/10.128.0.2"
	check "weft's record is in stateDir" test -f "$DIR/state/dl/weft:dg:eth0"
	cni DEL dg a eth0 "$c"
	check "DEL delegated" test "$RC" = 0
	check "host-local released it" test ! -f "$DIR/hl/dl/10.128.0.2"
	# weft-ipam as a standalone IPAM plugin under the reference bridge
	c=$(jq -cn --arg d "$DIR/wi" '{cniVersion:"1.0.0",name:"wi",type:"bridge",bridge:"wfbwi",isGateway:true,
		ipam:{type:"weft-ipam",subnet:"10.129.0.0/24",dataDir:$d}}')
	OUT=$(printf '%s' "$c" | nsenter --net=/run/netns/"$NODE" env CNI_COMMAND=ADD CNI_CONTAINERID=wi \
		CNI_NETNS="/run/netns/$(podns a)" CNI_IFNAME=eth0 CNI_PATH="$(dirname "$IPAM_BIN")" \
		/usr/lib/cni/bridge)
	check "reference bridge with weft-ipam" test "$(jqo '.ips[0].address')" = 10.129.0.2/24
	check "address on the pod" in_pod a ip -4 addr show dev eth0 to 10.129.0.2/32
	OUT=$(printf '%s' "$c" | nsenter --net=/run/netns/"$NODE" env CNI_COMMAND=DEL CNI_CONTAINERID=wi \
		CNI_NETNS="/run/netns/$(podns a)" CNI_IFNAME=eth0 CNI_PATH="$(dirname "$IPAM_BIN")" \
		/usr/lib/cni/bridge)
	check "weft-ipam released it" sh -c "! '$IPAM_BIN' list '$DIR/wi/wi' | grep -q '^10.129.0.2 '"
	check "weft-ipam's store: lock and store only" test "$(ls -A "$DIR/wi/wi" | tr '\n' ' ')" = "lock store "
}

case_hairpin_service() {
	# hairpin: a pod reaches itself through a DNAT (what a Service does)
	pod a
	cni ADD hp a eth0 "$C4"
	local ipa
	ipa=$(jqo '.ips[0].address' | cut -d/ -f1)
	in_node nft add table ip wfhp
	in_node nft add chain ip wfhp pre '{ type nat hook prerouting priority -100; }'
	in_node nft add chain ip wfhp post '{ type nat hook postrouting priority 100; }'
	in_node nft add rule ip wfhp pre ip daddr 10.96.0.77 dnat to "$ipa"
	in_node nft add rule ip wfhp post ip saddr "$ipa" ip daddr "$ipa" masquerade
	ip netns exec "$(podns a)" busybox nc -ll -p 7000 -e echo self >/dev/null 2>&1 &
	PIDS+=($!)
	sleep 0.3
	local got
	got=$(in_pod a timeout 5 busybox nc -w 3 10.96.0.77 7000 </dev/null 2>/dev/null)
	check "pod reaches itself through a service address (hairpin)" test "$got" = self
	cni DEL hp a eth0 "$C4"
}

case_del_async() {
	# DEL returns once the kernel has announced the veth's removal, while a child process
	# waits out the rest (docs/cni.md, "DEL and the kernel's veth removal"): what the runtime
	# can observe must already be true when DEL returns
	local ipa ipb hv i pid c
	pod a
	pod b
	cni ADD ca a eth0 "$C4"
	ipa=$(jqo '.ips[0].address' | cut -d/ -f1)
	hv=$(jqo '.interfaces[1].name')
	cni ADD cb b eth0 "$C4"
	ipb=$(jqo '.ips[0].address' | cut -d/ -f1)
	check "b reaches a before DEL" in_pod b ping -c1 -W2 "$ipa"
	cni DEL ca a eth0 "$C4"
	check "DEL a succeeds" test "$RC" = 0
	# no sleep between DEL and these checks
	check "pod end gone at once" sh -c "! ip netns exec $(podns a) ip link show eth0"
	check "host end gone at once" sh -c "! ip netns exec $NODE ip link show $hv"
	check "no address left in the pod at once" sh -c \
		"! ip netns exec $(podns a) ip -o addr show | grep -q '$ipa'"
	check "the address is free at once" sh -c "! '$IPAM_BIN' list '$DIR/ipam/n4' | grep -q '^$ipa '"
	check "the bridge lost the port at once" sh -c \
		"! ip netns exec $NODE bridge link show | grep -q '$hv'"
	check "no traffic reaches a's old address" sh -c "! ip netns exec $(podns b) ping -c1 -W1 $ipa"
	# an ADD of the same attachment right after DEL, many times over
	local bad=0
	for i in $(seq 1 20); do
		cni DEL ca a eth0 "$C4"
		[ "$RC" = 0 ] || bad=$((bad + 1))
		cni ADD ca a eth0 "$C4"
		[ "$RC" = 0 ] || { bad=$((bad + 1)); echo "ADD after DEL: $OUT" >&2; }
	done
	check "20 x DEL then immediate ADD of the same attachment" test "$bad" = 0
	ipa=$(jqo '.ips[0].address' | cut -d/ -f1)
	check "b reaches the re-added a" in_pod b ping -c1 -W2 "$ipa"
	# the child killed before it asks the kernel: DEL removes the pair itself
	hv=$(jqo '.interfaces[1].name')
	cni DEL ca a eth0 "$C4" WEFT_CNI_TEST_UNLINK_KILL=1
	check "DEL succeeds when its child is killed" test "$RC" = 0
	check "host end gone after the child was killed" sh -c \
		"! ip netns exec $NODE ip link show $hv"
	check "pod end gone after the child was killed" sh -c \
		"! ip netns exec $(podns a) ip link show eth0"
	cni ADD ca a eth0 "$C4"
	check "ADD after a DEL whose child was killed" test "$RC" = 0
	cni DEL ca a eth0 "$C4"
	cni DEL cb b eth0 "$C4"
	check "store empty" test "$(store_count n4)" = 0
	# kill -9 of DEL (and so of its child's parent) at many points; GC then leaves nothing
	c=$C4
	for i in $(seq 1 12); do
		pod "d$i"
		cni ADD "d$i" "d$i" eth0 "$c"
	done
	for i in $(seq 1 12); do
		printf '%s' "$c" | nsenter --net=/run/netns/"$NODE" env CNI_COMMAND=DEL \
			CNI_CONTAINERID="d$i" CNI_NETNS="/run/netns/$(podns "d$i")" CNI_IFNAME=eth0 \
			"$BIN" >/dev/null 2>&1 &
		pid=$!
		sleep "0.00$((RANDOM % 4))"
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	cni GC "" "" "" "$(printf '%s' "$c" | jq -c '. + {"cni.dev/valid-attachments":[]}')"
	check "GC after killed DELs succeeds" test "$RC" = 0
	check "no reservation left" test "$(store_count n4)" = 0
	check "no record left" test "$(store_atts n4)" = 0
	check "no host veth left" test "$(ip netns exec "$NODE" ip -o link show | grep -c '@')" = 0
}

# A container runtime that is a child subreaper (PR_SET_CHILD_SUBREAPER, as containerd with
# subreaper = true, or a shim) runs DEL: DEL's veth-removal child is reparented to it. The
# runtime must neither wait for that child (its pipes see EOF when DEL exits) nor be left with
# a zombie: the child ends by itself and is the runtime's to reap, like any orphan.
# Usage: python3 -c "$SUBREAPER_DEL" CONFIG LINGER_MS -- COMMAND...; prints key=value lines.
SUBREAPER_DEL='import ctypes, os, subprocess, sys, time
conf, linger, cmd = sys.argv[1], sys.argv[2], sys.argv[4:]
assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
env = dict(os.environ)
if linger != "0":
    env["WEFT_CNI_TEST_UNLINK_LINGER_MS"] = linger
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL, env=env)
p.communicate(conf.encode())
print("del_rc=%d" % p.returncode)
print("del_ms=%d" % ((time.monotonic() - t0) * 1000))
def children():
    me, kids = os.getpid(), []
    for d in os.listdir("/proc"):
        try:
            st = open("/proc/%s/stat" % d).read()
        except (OSError, ValueError):
            continue
        f = st[st.rindex(")") + 2:].split()
        if d.isdigit() and int(f[1]) == me:
            kids.append((int(d), f[0]))
    return kids
print("orphans_at_return=%d" % len(children()))
reaped, deadline = [], time.monotonic() + 5
while time.monotonic() < deadline:
    try:
        pid, st = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid:
        reaped.append(os.waitstatus_to_exitcode(st))
    else:
        time.sleep(0.01)
print("reaped=%d" % len(reaped))
print("reaped_ok=%d" % all(r == 0 for r in reaped))
print("left=%d" % len(children()))'

case_del_subreaper() {
	local out linger
	pod a
	for linger in 2000 0; do
		cni ADD sr a eth0 "$C4"
		check "ADD ($linger)" test "$RC" = 0
		out=$(/usr/bin/python3 -c "$SUBREAPER_DEL" "$C4" "$linger" -- \
			nsenter --net=/run/netns/"$NODE" env CNI_COMMAND=DEL CNI_CONTAINERID=sr \
			CNI_NETNS=/run/netns/"$(podns a)" CNI_IFNAME=eth0 CNI_PATH=/x "$BIN")
		echo "$out" | tr '\n' ' '
		echo
		check "DEL under a subreaper succeeds (child lingers ${linger} ms)" \
			grep -qx del_rc=0 <<<"$out"
		check "the subreaper reaped the reparented child, which exited 0 ($linger)" \
			sh -c "printf '%s' '$out' | grep -qx reaped=1 && printf '%s' '$out' | grep -qx reaped_ok=1"
		check "no child and no zombie left with the subreaper ($linger)" grep -qx left=0 <<<"$out"
		check "the pod interface is gone ($linger)" sh -c "! ip netns exec $(podns a) ip link show eth0"
		if [ "$linger" != 0 ]; then
			# DEL returned while its child was still there: the runtime did not wait
			check "DEL returned before its child ended" \
				sh -c "test \$(printf '%s' '$out' | sed -n 's/^del_ms=//p') -lt 1500"
			check "the child was the subreaper's when DEL returned" \
				grep -qx orphans_at_return=1 <<<"$out"
		fi
	done
	check "store empty" test "$(store_count n4)" = 0
}

case_podman() {
	bash "$(dirname "$0")/podman.sh" "$BIN" "$IPAM_BIN"
	FAILS=$?
}

"case_$CASE"
if [ "$FAILS" -gt 0 ]; then
	echo "$CASE: $FAILS check(s) failed"
	exit 1
fi
echo "$CASE: all checks passed"
