#!/usr/bin/env bash
# weft lab end to end, fabric as given ($1: vxlan or host-gw): pods on one node and across
# nodes, large packets, Services/EndpointSlices, readiness, deletion, refusals, down.
LAB=e2e$$${1:0:1}
FABRIC=${1:-vxlan}
source "$(dirname "$0")/lib.sh"

check "up with $FABRIC" lab up -f "$DIR/pods.yaml" --nodes 2 --fabric "$FABRIC" --no-dns
snapshot
if "$WEFT" agent --help >/dev/null 2>&1; then
	check "every node runs a ready weft agent (the real fabric)" bash -c "for n in 1 2; do \"$WEFT\" lab --name $LAB exec --node node-\$n -- curl -sf -m 2 http://127.0.0.1:9402/readyz || exit 1; done"
else
	echo "# no weft agent in this build: the lab's stand-in fabric is in use"
fi
check "up over an existing lab is refused" bash -c "\"$WEFT\" lab --name $LAB up -f $DIR/pods.yaml 2>&1 | grep -q 'already exists'"
A1=$(pod_ip a1); A2=$(pod_ip a2); B1=$(pod_ip b1)
check "pods have IPs from their node's podCIDR" bash -c "[[ $A1 == 10.244.1.* && $A2 == 10.244.1.* && $B1 == 10.244.2.* ]]"
check "pod to pod on one node (HTTP, source address kept)" \
	bash -c "\"$WEFT\" lab --name $LAB exec a1 -- curl -sS -m 5 http://$A2:8080/ | grep -q 'pod=a2 .*client=$A1:'"
check "pod to pod across nodes (HTTP, source address kept)" \
	bash -c "\"$WEFT\" lab --name $LAB exec a1 -- curl -sS -m 5 http://$B1:8080/ | grep -q 'pod=b1 namespace=default node=node-2 client=$A1:'"
check "UDP echo across nodes" \
	bash -c "\"$WEFT\" lab --name $LAB exec b1 -- bash -c 'exec 3<>/dev/udp/$A1/9090; echo hi >&3; timeout 3 dd bs=4096 count=1 status=none <&3' | grep -q 'pod=a1 .*client=$B1:.*port=9090/UDP'"
check "large packets across nodes (fragmented 8000-byte ping)" lab exec a1 -- ping -c 2 -W 2 -s 8000 "$B1"
MTU=$([ "$FABRIC" = vxlan ] && echo 1422 || echo 1472)
check "full-MTU packets across nodes without fragmentation ($MTU bytes)" lab exec a1 -- ping -c 2 -W 2 -M do -s "$MTU" "$B1"
check "bulk TCP across nodes (iperf3, 20 MB)" lab exec a1 -- timeout 60 iperf3 -c "$B1" -n 20M -J
SPREAD=$(lab get pods -o wide | cell NODE '^spread-' | sort -u | tr '\n' ' ')
check "Deployment spread over both nodes (NODE column of -o wide)" test "$SPREAD" = "node-1 node-2 "
check "pod sees kubelet's resolv.conf" bash -c "\"$WEFT\" lab --name $LAB exec a1 -- cat /etc/resolv.conf | tr '\n' '|' | grep -q 'search default.svc.cluster.local svc.cluster.local cluster.local|nameserver 10.96.0.10|options ndots:5'"
check "pod sees its /etc/hosts" bash -c "\"$WEFT\" lab --name $LAB exec b1 -- cat /etc/hosts | grep -q '$B1.*b1.web.default.svc.cluster.local'"
check "host's /etc/resolv.conf untouched" bash -c "! grep -q 10.96.0.10 /etc/resolv.conf"
check "Service got a ClusterIP in 10.96.0.0/12 and a NodePort" bash -c "\"$WEFT\" lab --name $LAB get svc web | grep -Eq 'web +NodePort +10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+ .*80:3[0-9]{4}/TCP'"
check "EndpointSlice: 3 ready endpoints, named targetPort resolved, service-name label" \
	bash -c "\"$WEFT\" lab --name $LAB get endpointslices -o json | python3 -c '
import json,sys
items=[s for s in json.load(sys.stdin)[\"items\"] if s[\"metadata\"][\"labels\"].get(\"kubernetes.io/service-name\")==\"web\"]
eps=[e for s in items for e in s[\"endpoints\"]]
assert len(eps)==3, eps
assert all(e[\"conditions\"][\"ready\"] for e in eps)
assert all(p[\"port\"]==8080 for s in items for p in s[\"ports\"])
assert [e.get(\"hostname\") for e in eps if e[\"targetRef\"][\"name\"]==\"b1\"]==[\"b1\"]
'"
check "get -o yaml prints status" bash -c "\"$WEFT\" lab --name $LAB get pod a1 -o yaml | grep -q '^  podIP: $A1'"
# printing: kubectl's columns (printers.go), from the lab's own status
lab get pods >"$TMP/pods.txt"; lab get pods -o wide >"$TMP/podsw.txt"
check "get pods: NAME READY STATUS RESTARTS AGE" grep -Eq '^NAME +READY +STATUS +RESTARTS +AGE$' "$TMP/pods.txt"
check "get pods: READY from containerStatuses (b1 has 2 containers)" grep -Eq "^b1 +2/2 +Running +0 +$AGE\$" "$TMP/pods.txt"
check "get pods -o wide: ... IP NODE NOMINATED NODE READINESS GATES" grep -Eq '^NAME +READY +STATUS +RESTARTS +AGE +IP +NODE +NOMINATED NODE +READINESS GATES$' "$TMP/podsw.txt"
check "get pods -o wide: a1's row" grep -Eq "^a1 +1/1 +Running +0 +$AGE +${A1//./\\.} +node-1 +<none> +<none>\$" "$TMP/podsw.txt"
check "get svc: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE" bash -c "\"$WEFT\" lab --name $LAB get svc | grep -Eq '^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE$'"
check "get svc -o wide adds SELECTOR" bash -c "\"$WEFT\" lab --name $LAB get svc web -o wide | grep -Eq '^web +NodePort +[0-9.]+ +<none> +80:3[0-9]{4}/TCP +$AGE +app=web$'"
check "get eps: NAME ADDRESSTYPE PORTS ENDPOINTS AGE" bash -c "\"$WEFT\" lab --name $LAB get eps | grep -Eq '^NAME +ADDRESSTYPE +PORTS +ENDPOINTS +AGE$' && \"$WEFT\" lab --name $LAB get eps | grep -Eq '^web-[a-z0-9]+ +IPv4 +8080 +10\.244\.[0-9.,]+ +$AGE$'"
check "get deploy: NAME READY UP-TO-DATE AVAILABLE AGE, status included" bash -c "\"$WEFT\" lab --name $LAB get deploy | grep -Eq '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$' && \"$WEFT\" lab --name $LAB get deploy spread | grep -Eq '^spread +4/4 +4 +4 +$AGE$'"
check "get nodes: NAME STATUS ROLES AGE VERSION" bash -c "\"$WEFT\" lab --name $LAB get nodes | grep -Eq '^NAME +STATUS +ROLES +AGE +VERSION$' && \"$WEFT\" lab --name $LAB get nodes | grep -Eq '^node-2 +Ready +<none> +$AGE +weft-[0-9.]+$'"
check "get nodes -o wide: INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME" bash -c "\"$WEFT\" lab --name $LAB get no -o wide | grep -Eq '^NAME +STATUS +ROLES +AGE +VERSION +INTERNAL-IP +EXTERNAL-IP +OS-IMAGE +KERNEL-VERSION +CONTAINER-RUNTIME$' && \"$WEFT\" lab --name $LAB get no node-1 -o wide | grep -q ' 172\.30\.[0-9]*\.11 .* $(uname -r) *weft-lab://'"
check "get KIND/NAME and several kinds at once" bash -c "\"$WEFT\" lab --name $LAB get pod/a1 | grep -Eq '^a1 +1/1 ' && \"$WEFT\" lab --name $LAB get svc,deploy | grep -Eq '^(service/web|deployment/spread) '"
check "status shows pods ready from containerStatuses" bash -c "\"$WEFT\" lab --name $LAB status | grep -Eq '^default +b1 +2/2 +Running +0 +${B1//./\\.} +node-2$'"
# AGE counts from metadata.creationTimestamp: set once by the lab, kept on updates
created() { lab get "$1" "$2" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["creationTimestamp"])'; }
T_WEB=$(created svc web); T_A1=$(created pod a1)
sleep 1.2
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {changed: "yes"}}\nspec:\n  type: NodePort\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: http}\n' >"$TMP/web2.yaml"
check "update the Service (configured)" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/web2.yaml | grep -q 'service/web configured'"
check "... its label is there" eventually 3 bash -c "\"$WEFT\" lab --name $LAB get svc web -o json | grep -q '\"changed\": \"yes\"'"
check "... and its creationTimestamp did not move" test "$(created svc web)" = "$T_WEB"
check "a pod's creationTimestamp does not move as its status changes" test "$(created pod a1)" = "$T_A1"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: stamped, creationTimestamp: "2001-01-01T00:00:00Z"}\nspec:\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: dryrun, creationTimestamp: null}\nspec:\n  ports: [{port: 80}]\n' >"$TMP/stamped.yaml"
check "a manifest's own creationTimestamp is replaced by the lab's" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/stamped.yaml && sleep 0.5 && \"$WEFT\" lab --name $LAB get svc stamped dryrun | grep -Ec '^(stamped|dryrun) +ClusterIP +[0-9.]+ +<none> +80/TCP +[0-9]+s$' | grep -qx 2"
lab delete -f "$TMP/stamped.yaml" >/dev/null
check "logs show requests" bash -c "\"$WEFT\" lab --name $LAB logs a2 | grep -q 'GET / from $A1'"

# readiness flipping endpoints
cat >"$TMP/ready.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: flip, labels: {app: flip}}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: main
    image: weft/echo
    command: [sh, -c, 'trap "" TERM; exec "\$0" echo --pod flip --namespace default', "$WEFT"]
    readinessProbe:
      exec: {command: [test, -f, $TMP/ready]}
      periodSeconds: 1
      failureThreshold: 1
YAML
cat >"$TMP/flip-svc.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: flip}
spec:
  selector: {app: flip}
  ports: [{port: 80, targetPort: 8080}]
YAML
flip_ready() { # flip_ready true|false
	"$WEFT" lab --name "$LAB" get endpointslices -o json | python3 -c "
import json,sys
eps=[e for s in json.load(sys.stdin)['items'] if s['metadata']['labels'].get('kubernetes.io/service-name')=='flip' for e in s['endpoints']]
sys.exit(0 if len(eps)==1 and eps[0]['conditions']['ready']==$1 and eps[0]['conditions']['serving']==$1 else 1)"
}
check "apply a pod with an exec readiness probe" lab apply -f "$TMP/ready.yaml" -f "$TMP/flip-svc.yaml"
check "not ready while the probe fails" eventually 5 flip_ready False
touch "$TMP/ready"
check "ready once the probe passes" eventually 5 flip_ready True
rm -f "$TMP/ready"
check "not ready again when it fails" eventually 5 flip_ready False
touch "$TMP/ready"
check "ready again" eventually 5 flip_ready True
check "delete the pod" lab delete -f "$TMP/ready.yaml"
check "deleted pod is Terminating during its grace period" bash -c "\"$WEFT\" lab --name $LAB get pod flip | grep -q Terminating"
flip_eps() { # flip_eps PYTHON-CONDITION-ON-eps
	"$WEFT" lab --name "$LAB" get endpointslices -o json | python3 -c "
import json,sys
eps=[e for s in json.load(sys.stdin)['items'] if s['metadata']['labels'].get('kubernetes.io/service-name')=='flip' for e in s['endpoints']]
sys.exit(0 if $1 else 1)"
}
check "terminating endpoint: ready=false serving=true terminating=true" \
	eventually 3 flip_eps "len(eps)==1 and eps[0]['conditions']=={'ready':False,'serving':True,'terminating':True}"
rm -f "$TMP/ready"
check "terminating endpoint stops serving when its probe fails" \
	eventually 5 flip_eps "len(eps)==1 and eps[0]['conditions']=={'ready':False,'serving':False,'terminating':True}"
check "the pod still answers while it terminates" lab exec a1 -- curl -sS -m 5 "http://$(pod_ip flip):8080/"
check "delete the service: its slices go" lab delete -f "$TMP/flip-svc.yaml"
check "no slices left for it" eventually 3 flip_eps "not eps"


# refusals: the running lab stays as it was
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: x\n    ports:\n    - containerPort: 99999\n' >"$TMP/bad.yaml"
check "broken manifest refused with file:line" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/bad.yaml 2>&1 | grep -q '$TMP/bad.yaml:9:[0-9]*: spec.containers\[0\].ports\[0\].containerPort: '"
printf 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers: [ {name: x\n' >"$TMP/bad2.yaml"
check "YAML syntax error refused with file:line" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/bad2.yaml 2>&1 | grep -q 'bad2.yaml:[0-9]*:[0-9]*: '"
CIP=$(lab get svc web -o json | sed -n 's/^ *"clusterIP": "\(.*\)",*$/\1/p')
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: dup}\nspec:\n  clusterIP: %s\n  ports: [{port: 80}]\n' "$CIP" >"$TMP/dup.yaml"
check "ClusterIP already allocated is refused" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/dup.yaml 2>&1 | grep -q 'dup.yaml:5:[0-9]*: spec.clusterIP: .*already allocated'"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  clusterIP: 10.96.77.77\n  selector: {app: web}\n  ports: [{port: 80}]\n' >"$TMP/imm.yaml"
check "changing an allocated ClusterIP is refused (immutable)" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/imm.yaml 2>&1 | grep -q 'imm.yaml:5:[0-9]*: spec.clusterIP: .*field is immutable'"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: out}\nspec:\n  clusterIP: 10.200.0.1\n  ports: [{port: 80}]\n' >"$TMP/out.yaml"
check "ClusterIP outside 10.96.0.0/12 is refused" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/out.yaml 2>&1 | grep -q 'out.yaml:5:[0-9]*: spec.clusterIP: .*not in the valid range'"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: np}\nspec:\n  type: NodePort\n  ports: [{port: 80, nodePort: 29999}]\n' >"$TMP/np.yaml"
check "NodePort outside 30000-32767 is refused" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/np.yaml 2>&1 | grep -q 'np.yaml:6:[0-9]*: spec.ports\[0\].nodePort: .*range of valid ports is 30000-32767'"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: pinned}\nspec:\n  nodeName: node-7\n  containers: [{name: x, image: weft/echo}]\n' >"$TMP/pin.yaml"
check "pod pinned to a missing node is refused" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/pin.yaml 2>&1 | grep -q 'pin.yaml:5:[0-9]*: spec.nodeName: node \"node-7\" does not exist'"
check "refusals changed nothing" bash -c "! \"$WEFT\" lab --name $LAB get pods | grep -qE '^(bad|pinned) ' && ! \"$WEFT\" lab --name $LAB get svc dup 2>/dev/null"
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: noimg}\nspec:\n  containers: [{name: x, image: nginx}]\n' >"$TMP/noimg.yaml"
check "unknown image without a command is a clear error on that pod" bash -c "\"$WEFT\" lab --name $LAB apply -f $TMP/noimg.yaml 2>&1 | grep -q 'image \"nginx\" is not known'"
check "... and the rest of the lab goes on" lab exec a1 -- curl -sS -m 5 "http://$B1:8080/"

# kill -9 every lab process, then down must still remove everything
snapshot
for p in $SNAP_PIDS; do kill -9 "${p%%:*}" 2>/dev/null; done
check "down after kill -9" lab down
check "down leaves nothing (netns, processes, mounts, state dir)" nothing_left
check "second down is a no-op" bash -c "\"$WEFT\" lab --name $LAB down | grep -q 'nothing to do'"
finish
