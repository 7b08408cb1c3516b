# Shared by podpath.sh and labpath.sh (sourced): connlat's p50, the median of rounds, the
# conntrack-on baseline table, and the result rows.

# connlat's output line -> its p50 in µs
p50_field() { sed -E 's/.*p50_us=([0-9.]+).*/\1/'; }

# the median of the numbers in $1 (space-separated)
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# nft text of the conntrack-on baseline: a nat table with no rule but a counter, so conntrack
# runs for every connection the node forwards (as under any DNAT-based proxy)
ct_on_table() {
	cat <<-'NFT'
	table ip ctbase {
		chain pre { type nat hook prerouting priority dstnat; policy accept; ct state new counter; }
		chain post { type nat hook postrouting priority srcnat; policy accept; }
	}
	NFT
}

# One row per plane of the associative array R (plane -> " p50 p50 ..."): the median and its
# ratios to the medians of planes $1 and $2. Planes in $3... in that order; absent ones skipped.
report_rows() {
	local a b k m
	a=$(median "${R[$1]}")
	b=$(median "${R[$2]}")
	local base1=$1 base2=$2
	shift 2
	for k in "$@"; do
		[ -n "${R[$k]:-}" ] || continue
		m=$(median "${R[$k]}")
		printf '  %-20s %7s   (rounds:%s)   vs %s %s   vs %s %s\n' "$k" "$m" "${R[$k]}" \
			"$base1" "$(echo "scale=3; $m / $a" | bc)" "$base2" "$(echo "scale=3; $m / $b" | bc)"
	done
}
