# Shared helpers of the lab's end-to-end tests (sourced). Root; each test uses its own lab name
# and a trap that takes the lab down, so nothing outlives a failed test.
set -u
WEFT=${WEFT:?WEFT must name the weft (or weft-lab) binary}
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fails=0
lab() { "$WEFT" lab --name "$LAB" "$@"; }
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND... (prints how long the step took)
	local d=$1 t0=$SECONDS
	shift
	if "$@" >/tmp/weft-e2e.$$.out 2>&1; then ok "$d ($((SECONDS - t0))s)"; else
		not_ok "$d ($((SECONDS - t0))s)"
		sed 's/^/    /' /tmp/weft-e2e.$$.out | head -20
	fi
}
# cell HEADER ROWREGEX: from a kubectl-style table on stdin, the first word of column HEADER
# (found by the header's offset) in rows matching ROWREGEX, one per line
cell() { awk -v h="$1" -v r="$2" 'NR == 1 {s = index($0, h); next} $0 ~ r {split(substr($0, s), a, " "); print a[1]}'; }
# an AGE as kubectl prints it (duration.HumanDuration)
AGE='[0-9]+[smhdy][0-9smhdy]*'
# pod_ip POD [NS]
pod_ip() { lab get pod "$1" -n "${2:-default}" -o json | sed -n 's/^ *"podIP": "\(.*\)",*$/\1/p'; }
# eventually SECONDS COMMAND...: retries every 0.2 s
eventually() {
	local end=$((SECONDS + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && { "$@"; return 1; }
		sleep 0.2
	done
}
# Records what the lab made, so leftovers can be checked after down.
snapshot() {
	SNAP_PIDS=$(awk '$1 == "pid" {print $2 ":" $3}' "/run/weft/lab/$LAB/created" 2>/dev/null)
}
# Nothing of the lab may remain: namespaces, live processes, mounts, state.
nothing_left() {
	local bad=0 p pid start st
	if ip netns list | grep -q "^weft-$LAB-"; then
		echo "namespaces left:"; ip netns list | grep "^weft-$LAB-"; bad=1
	fi
	for p in $SNAP_PIDS; do
		pid=${p%%:*}
		start=${p##*:}
		[ -r "/proc/$pid/stat" ] || continue
		st=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $1, $20}')
		# same process (start time) and not a zombie
		if [ "${st#* }" = "$start" ] && [ "${st%% *}" != Z ]; then
			echo "process left: $pid $(tr '\0' ' ' <"/proc/$pid/cmdline")"; bad=1
		fi
	done
	if grep -q -e "weft-$LAB-" -e "/run/weft/lab/$LAB" /proc/self/mountinfo; then
		echo "mounts left:"; grep -e "weft-$LAB-" -e "/run/weft/lab/$LAB" /proc/self/mountinfo; bad=1
	fi
	if [ -e "/run/weft/lab/$LAB" ]; then echo "state dir left"; bad=1; fi
	local cg2
	cg2=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
	if [ -n "$cg2" ] && [ -e "$cg2/weft-lab-$LAB" ]; then echo "cgroup left: $cg2/weft-lab-$LAB"; bad=1; fi
	return $bad
}
cleanup() { "$WEFT" lab --name "$LAB" down >/dev/null 2>&1; rm -rf "$TMP" /tmp/weft-e2e.$$.out; }
finish() {
	echo "# $fails failed"
	[ "$fails" -eq 0 ]
}
TMP=$(mktemp -d /tmp/weft-lab-e2e.XXXXXX)
trap cleanup EXIT
