#!/usr/bin/env bash
# Deltas must land exactly where a full load lands: one driver applies a sequence of manifest
# sets (full load, then element deltas over netlink, and deltas that change the table block),
# another loads only the last set in full; the two tables must list the same (elements
# compared as a set, since the kernel lists them in hash order). A restart variant runs each
# apply in a new driver process: the reconcile from a dump of the installed elements must
# land in the same place too.
#   delta-equiv.sh PROXY_APPLY GOLDEN_DIR
set -uo pipefail
APPLY=$1 G=$2
A=wpx-da-$$ B=wpx-db-$$
W=$(mktemp -d /tmp/weft-proxy-delta.XXXXXX)
trap 'ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; rm -rf "$W"' EXIT
fails=0
# Variants of the golden manifests: an endpoint replaced, an endpoint added (count change), an
# affinity service's endpoint and timeout changed (the timeout adds a rule: block path), a
# policy flipped, services added and removed.
sed 's/10\.244\.2\.7/10.244.3.9/' "$G/clusterip.yaml" >"$W/eps.yaml"
sed 's/^- addresses: \["10\.244\.2\.7"\]$/- addresses: ["10.244.2.7"]\n  nodeName: node-2\n- addresses: ["10.244.3.3"]/' "$G/clusterip.yaml" >"$W/eps-more.yaml"
sed 's/10\.244\.2\.7\]/10.244.2.8]/' "$G/features.yaml" >"$W/f-aff-eps.yaml"
sed 's/10\.244\.2\.7\]/10.244.2.8]/; s/timeoutSeconds: 600/timeoutSeconds: 700/' "$G/features.yaml" >"$W/f-aff-timeout.yaml"
sed 's/10\.244\.2\.5\], nodeName: node-2/10.244.1.9], nodeName: node-1/' "$G/features.yaml" >"$W/f-local.yaml"
{ cat "$G/features.yaml"; echo ---; cat "$G/clusterip.yaml"; } >"$W/both.yaml"

run() { # name expected-kinds [--restart] files...
	local name=$1 want=$2 restart=
	shift 2
	[ "$1" = --restart ] && { restart=1; shift; }
	ip netns add $A
	ip netns add $B
	if [ -n "$restart" ]; then
		: >"$W/a.log"
		for f in "$@"; do
			# An .nft file is a table someone else left (the previous design's).
			if [ "${f%.nft}" != "$f" ]; then
				ip netns exec $A nft -f "$f" && echo "ok kind=nft" >>"$W/a.log"
				continue
			fi
			echo "apply $f" | ip netns exec $A "$APPLY" --node node-1 \
				--cluster-cidr 10.244.0.0/16 >>"$W/a.log" 2>&1
		done
	else
		for f in "$@"; do echo "apply $f"; done |
			ip netns exec $A "$APPLY" --node node-1 --cluster-cidr 10.244.0.0/16 >"$W/a.log" 2>&1
	fi
	echo "apply ${*: -1}" |
		ip netns exec $B "$APPLY" --node node-1 --cluster-cidr 10.244.0.0/16 >"$W/b.log" 2>&1
	kinds=$(sed -E 's/^ok kind=([a-z]+).*/\1/' "$W/a.log" | tr '\n' ' ')
	norm() {
		ip netns exec "$1" nft list table inet weft | sed 's/elements = { //; s/ }$//' |
			tr ',' '\n' | sed 's/^[ \t]*//; s/[ \t]*$//' | grep -v '^$' | sort
	}
	if [ "$kinds" != "$want" ]; then
		echo "FAIL - $name: applies were '$kinds', want '$want'"
		fails=$((fails + 1))
	elif ! diff <(norm $A) <(norm $B) >"$W/diff"; then
		echo "FAIL - $name: the delta-built table differs from a full load"
		head -20 "$W/diff"
		fails=$((fails + 1))
	else
		echo "ok - $name ($kinds)"
	fi
	ip netns del $A
	ip netns del $B
}
run "endpoint replaced, and back" "full nl nl " "$G/clusterip.yaml" "$W/eps.yaml" "$G/clusterip.yaml"
run "endpoint added, and removed (class change)" "full nl nl " "$G/clusterip.yaml" \
	"$W/eps-more.yaml" "$G/clusterip.yaml"
run "affinity endpoint change, then timeout change" "full nl block " \
	"$G/features.yaml" "$W/f-aff-eps.yaml" "$W/f-aff-timeout.yaml"
run "an endpoint moves to this node" "full nl " "$G/features.yaml" "$W/f-local.yaml"
run "services added, then removed" "full nl nl " "$G/features.yaml" "$W/both.yaml" \
	"$G/features.yaml"
run "restarts onto other states (reconcile from a dump)" "full full full full " --restart \
	"$G/features.yaml" "$W/f-aff-eps.yaml" "$W/both.yaml" "$W/f-local.yaml"
run "restart onto the previous design's table" "nft full " --restart \
	"$(dirname "$0")/old-design.nft" "$G/features.yaml"
echo "$fails failed"
[ "$fails" -eq 0 ]
