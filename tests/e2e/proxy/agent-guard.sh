#!/usr/bin/env bash
# An agent in a network namespace of its own (a lab node, a test) never attaches the socket
# balancer to the host's root cgroup by default: that cgroup holds every process of the host.
#   WEFT=path/to/weft agent-guard.sh
set -uo pipefail
NS=wag-$$
DIR=$(mktemp -d /tmp/weft-agent-guard.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
"$WEFT" agent --help >/dev/null 2>&1 || { echo "SKIP: this build has no weft agent"; exit 77; }
ip netns add "$NS"
mkdir "$DIR/manifests"
# nsenter keeps the host's /sys (and cgroup2 mount) in view, as a careless caller would
nsenter --net=/run/netns/$NS "$WEFT" agent --manifests "$DIR/manifests" --node n1 --admin none \
	--no-fastpath >"$DIR/log" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q 'msg="started"' "$DIR/log" && break; sleep 0.1; done
fails=0
if grep -q 'socket-level load balancing needs --socket-lb-cgroup here' "$DIR/log" &&
	! grep -q 'socket-level load balancer attached' "$DIR/log"; then
	echo "ok - no --socket-lb-cgroup outside the host's namespace: the balancer stays off"
else
	echo "not ok - the agent's log:"
	cat "$DIR/log"
	fails=1
fi
echo "$fails failed"
[ "$fails" -eq 0 ]
