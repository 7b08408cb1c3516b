#!/usr/bin/env bash
# Golden rulesets: renders every golden/NAME.yaml (with the options in NAME.args, if any) and
# compares the text with golden/NAME.nft. WEFT_GOLDEN_UPDATE=1 rewrites the .nft files.
#   golden.sh PROXY_RENDER GOLDEN_DIR
set -uo pipefail
render=$1 dir=$2
fails=0 n=0
for y in "$dir"/*.yaml; do
	name=${y%.yaml}
	args=()
	[ -f "$name.args" ] && read -ra args <"$name.args"
	n=$((n + 1))
	if ! out=$("$render" -f "$y" "${args[@]}"); then
		echo "FAIL $(basename "$y"): render failed"
		fails=$((fails + 1))
		continue
	fi
	# The nft writer lists chains and sets by name together: no chain may have a set's name.
	dup=$(printf '%s\n' "$out" | grep -oE '^	(chain|set|map) [^ ]+' | awk '{print $2}' | sort | uniq -d)
	if [ -n "$dup" ]; then
		echo "FAIL $(basename "$y"): names used twice: $dup"
		fails=$((fails + 1))
		continue
	fi
	if [ "${WEFT_GOLDEN_UPDATE:-}" = 1 ]; then
		printf '%s\n' "$out" >"$name.nft"
	elif ! diff -u "$name.nft" <(printf '%s\n' "$out"); then
		echo "FAIL $(basename "$y"): differs from $(basename "$name.nft")"
		fails=$((fails + 1))
	fi
done
echo "$n golden rulesets, $fails failed"
[ "$n" -gt 0 ] && [ "$fails" -eq 0 ]
