#!/usr/bin/env bash
# Scale and lifecycle: a Service over 150 pods gets EndpointSlices of at most 100 endpoints;
# a crashing container is restarted; a Deployment's template change replaces its pods.
LAB=e2k$$
source "$(dirname "$0")/lib.sh"
cat >"$TMP/many.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec:
  replicas: 150
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: echo, image: weft/echo}]
---
apiVersion: v1
kind: Service
metadata: {name: many}
spec:
  selector: {app: many}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - name: c
    image: none
    command: [sh, -c, 'echo started; sleep 0.5; exit 3']
YAML
check "up with 150 pods" lab up -f "$TMP/many.yaml" --nodes 3 --no-dns
snapshot
slices() { # slices PYTHON-CONDITION on sizes (sorted endpoint counts of the many service)
	"$WEFT" lab --name "$LAB" get endpointslices -o json | python3 -c "
import json,sys
s=[x for x in json.load(sys.stdin)['items'] if x['metadata']['labels'].get('kubernetes.io/service-name')=='many']
sizes=sorted(len(x['endpoints']) for x in s)
sys.exit(0 if $1 else 1)"
}
check "EndpointSlices of at most 100: 100 + 50" eventually 10 slices "sizes==[50,100]"
SPREAD=$(lab get pods -o wide | cell NODE '^many-' | sort | uniq -c | awk '{print $1}' | tr '\n' ' ')
check "150 pods spread 50/50/50 over 3 nodes (NODE column of -o wide)" test "$SPREAD" = '50 50 50 '
restarts() { "$WEFT" lab --name "$LAB" get pod crash -o json | grep -q '"restartCount": [1-9]'; }
check "a crashing container is restarted (restartCount > 0)" eventually 10 restarts
check "get pod shows it backing off, with RESTARTS and when (kubectl's columns)" eventually 10 bash -c "\"$WEFT\" lab --name $LAB get pod crash | grep -Eq '^crash +0/1 +CrashLoopBackOff +[1-9][0-9]* \\($AGE ago\\) +$AGE$'"
check "... and lastState holds the run that failed (exit code 3)" bash -c "\"$WEFT\" lab --name $LAB get pod crash -o json | python3 -c 'import json,sys; c=json.load(sys.stdin)[\"status\"][\"containerStatuses\"][0]; assert c[\"lastState\"][\"terminated\"][\"exitCode\"]==3, c'"
check "its log has every run" eventually 10 bash -c "[ \$(\"$WEFT\" lab --name $LAB logs crash | grep -c started) -ge 2 ]"
sed 's/replicas: 150/replicas: 3/; s/metadata: {labels: {app: many}}/metadata: {labels: {app: many}, annotations: {v: "2"}}/' "$TMP/many.yaml" >"$TMP/few.yaml"
check "scale down to 3 with a new template" lab apply -f "$TMP/few.yaml"
check "the old pods go, 3 new ones run" eventually 30 bash -c "[ \$(\"$WEFT\" lab --name $LAB get pods | grep -c '^many-') -eq 3 ]"
ports_on_bridges() {
	local n total=0
	for n in 1 2 3; do
		total=$((total + $("$WEFT" lab --name "$LAB" exec --node node-$n -- ip -br link show master cni0 | wc -l)))
	done
	[ "$total" -eq 4 ]
}
check "deleted pods' namespaces are really gone (4 veths left on the bridges)" eventually 10 ports_on_bridges
check "one slice with 3 endpoints" eventually 10 slices "sizes==[3]"
check "down" lab down
check "down leaves nothing" nothing_left
finish
