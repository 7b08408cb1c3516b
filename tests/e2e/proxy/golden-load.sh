#!/usr/bin/env bash
# Every golden ruleset must be one the kernel accepts: load each into a fresh namespace of our
# own and read it back.   golden-load.sh GOLDEN_DIR
set -uo pipefail
NS=wpx-golden-$$
trap 'ip netns del $NS 2>/dev/null' EXIT
fails=0
for f in "$1"/*.nft; do
	ip netns add $NS
	if ip netns exec $NS nft -f "$f" && ip netns exec $NS nft list table inet weft >/dev/null; then
		echo "ok - $(basename "$f") loads"
	else
		echo "FAIL - $(basename "$f") does not load"
		fails=$((fails + 1))
	fi
	ip netns del $NS
done
[ "$fails" -eq 0 ]
