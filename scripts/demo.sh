#!/usr/bin/env bash
# The README's first command: sets weft up (scripts/setup.sh installs packages and builds),
# starts a 2-node lab with the example application in examples/, and shows pods talking across
# nodes - by pod IP always, and by Service name once cluster DNS and the service proxy are in
# the build. Leaves the lab running and prints what to try next.
#
#   scripts/demo.sh             set up, start the lab "weft", tour it
#   scripts/demo.sh --down      take the demo lab down
#   scripts/demo.sh --fabric host-gw     (default vxlan)
set -euo pipefail
cd "$(dirname "$0")/.."

fabric=vxlan
down=0
while [ $# -gt 0 ]; do
	case "$1" in
	--down) down=1 ;;
	--fabric) fabric=$2; shift ;;
	-h|--help) sed -n '2,10p' "$0"; exit 0 ;;
	*) echo "demo: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (the lab creates network namespaces)" >&2
	exit 1
fi
build=${WEFT_BUILD:-build}
weft_bin() {
	if [ -x "$build/src/cli/weft" ]; then echo "$build/src/cli/weft"
	else echo "$build/src/lab/weft-lab"; fi
}
if [ "$down" -eq 1 ]; then
	"$(weft_bin)" lab down
	exit 0
fi

bash scripts/setup.sh
WEFT=$(weft_bin)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

if [ -d /run/weft/lab/weft ]; then
	say "a lab named weft is already running; taking it down first"
	"$WEFT" lab down
fi
say "starting a 2-node lab with the example application ($fabric)"
run "$WEFT" lab up -f examples/ --nodes 2 --fabric "$fabric"
say "what is running"
run "$WEFT" lab status

ip_of() { "$WEFT" lab get pod "$1" -o json | sed -n 's/^ *"podIP": "\(.*\)",*$/\1/p'; }
node_of() { "$WEFT" lab get pod "$1" -o json | sed -n 's/^ *"nodeName": "\(.*\)",*$/\1/p'; }
pods() { "$WEFT" lab get pods | awk -v p="$1" 'NR > 1 && $1 ~ "^" p {print $1}'; }

say "pods talking across nodes (by pod IP)"
for b in $(pods backend-); do
	echo "client (on $(node_of client)) -> $b (on $(node_of "$b"), $(ip_of "$b")):"
	run "$WEFT" lab exec client -- curl -s -m 3 "http://$(ip_of "$b"):8080/" || true
done
db=$(pods database- | head -1)
f=$(pods frontend- | head -1)
echo "$f (on $(node_of "$f")) -> $db (on $(node_of "$db")):"
run "$WEFT" lab exec "$f" -- curl -s -m 3 "http://$(ip_of "$db"):5432/" || true

say "by Service name (needs weft dns and the service proxy of weft agent)"
run "$WEFT" lab exec client -- curl -s -m 3 http://backend/ ||
	echo "(not reachable by name in this build yet: pod-IP traffic above is what the lab itself provides)"

say "from outside the cluster to the frontend's NodePort 30080 (needs the service proxy)"
node1=$("$WEFT" lab get node node-1 -o json | grep -m1 -o '172\.30\.[0-9]*\.[0-9]*')
run "$WEFT" lab exec --outside -- curl -s -m 3 "http://$node1:30080/" ||
	echo "(NodePorts need weft agent's service proxy)"

say "from outside the cluster to the LoadBalancer Service storefront (layer-2 address from the lab's pool)"
lb=$("$WEFT" lab get svc storefront -o json | python3 -c 'import json, sys
s = json.load(sys.stdin)
print(((s.get("status") or {}).get("loadBalancer") or {}).get("ingress", [{}])[0].get("ip", ""))' 2>/dev/null || true)
if [ -n "$lb" ]; then
	run "$WEFT" lab exec --outside -- curl -s -m 3 "http://$lb/" || true
else
	echo "(storefront has no address yet)"
fi

cat <<HINTS

The lab keeps running. Try:
  $WEFT lab get pods -o wide
  $WEFT lab get endpointslices -o yaml
  $WEFT lab exec client -- sh
  $WEFT lab logs client
  $WEFT lab exec --outside -- curl -s http://$node1:30080/
  scripts/demo.sh --down          (or: $WEFT lab down)
HINTS
