#!/usr/bin/env bash
# The example application with the cluster DNS addon and the node agents' service proxy: pods
# reach Services by name (glibc resolver, dig) and by ClusterIP, the outside client reaches a
# NodePort on every node, and EndpointSlices follow the pods.
LAB=e2s$$
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$DIR/../../.." && pwd)
for c in agent dns; do
	"$WEFT" "$c" --help >/dev/null 2>&1 || { echo "SKIP: this build has no weft $c"; exit 77; }
done
check "up with examples/ and the DNS addon" lab up -f "$ROOT/examples" --nodes 2
snapshot
check "kube-dns Service at 10.96.0.10" bash -c "\"$WEFT\" lab --name $LAB get svc kube-dns -n kube-system | grep -q ' 10.96.0.10 '"
check "weft dns pod ready" eventually 20 bash -c "\"$WEFT\" lab --name $LAB get pods -n kube-system | grep -q '^weft-dns-.* 1/1 *Running'"
check "dig through the kube-dns ClusterIP" eventually 20 bash -c "\"$WEFT\" lab --name $LAB exec client -- dig +short +time=1 +tries=1 backend.default.svc.cluster.local | grep -Eq '^10\.(9[6-9]|1[01][0-9])\.'"
check "glibc resolver with the pod's search path" bash -c "\"$WEFT\" lab --name $LAB exec client -- getent hosts database | grep -q 'database.default.svc.cluster.local'"
check "HTTP to a Service by name reaches a backend pod" eventually 20 bash -c "\"$WEFT\" lab --name $LAB exec client -- curl -sS -m 2 http://backend/ | grep -q '^pod=backend-'"
both_backends() {
	local seen=""
	for _ in $(seq 30); do
		seen+=$("$WEFT" lab --name "$LAB" exec client -- curl -s -m 2 http://backend/ | awk '{print $3}')$'\n'
	done
	[ "$(echo "$seen" | grep -c node=node-1)" -gt 0 ] && [ "$(echo "$seen" | grep -c node=node-2)" -gt 0 ]
}
check "the Service balances over backends on both nodes" both_backends
N1=$(lab get node node-1 -o json | grep -m1 -o '172\.30\.[0-9]*\.[0-9]*')
N2=$(lab get node node-2 -o json | grep -m1 -o '172\.30\.[0-9]*\.[0-9]*')
check "outside client reaches NodePort 30080 on node-1" eventually 10 bash -c "\"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$N1:30080/ | grep -q '^pod=frontend-'"
check "... and on node-2" bash -c "\"$WEFT\" lab --name $LAB exec --outside -- curl -sS -m 2 http://$N2:30080/ | grep -q '^pod=frontend-'"
# scale the backend to 0: the Service's slice empties and the name stops answering
sed 's/replicas: 2/replicas: 0/' "$ROOT/examples/backend.yaml" >"$TMP/backend0.yaml"
check "scale backend to 0" lab apply -f "$TMP/backend0.yaml"
no_backend_eps() {
	"$WEFT" lab --name "$LAB" get endpointslices -o json | python3 -c "
import json,sys
eps=[e for s in json.load(sys.stdin)['items'] if s['metadata']['labels'].get('kubernetes.io/service-name')=='backend' for e in s['endpoints']]
sys.exit(0 if not eps else 1)"
}
check "backend's EndpointSlice empties" eventually 40 no_backend_eps
check "the Service no longer answers" eventually 10 bash -c "! \"$WEFT\" lab --name $LAB exec client -- curl -s -m 1 http://backend/"
check "scale back to 2" lab apply -f "$ROOT/examples/backend.yaml"
check "the Service answers again" eventually 20 bash -c "\"$WEFT\" lab --name $LAB exec client -- curl -sS -m 2 http://backend/ | grep -q '^pod=backend-'"
check "down" lab down
check "down leaves nothing" nothing_left
finish
