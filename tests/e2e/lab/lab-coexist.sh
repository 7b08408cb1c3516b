#!/usr/bin/env bash
# Two labs of different names side by side; `down` of one leaves the other running.
LAB=e2c$$a
source "$(dirname "$0")/lib.sh"
LAB2=e2c$$b
trap 'cleanup; "$WEFT" lab --name "$LAB2" down >/dev/null 2>&1' EXIT
cat >"$TMP/one.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  nodeName: node-3
  containers: [{name: echo, image: weft/echo}]
YAML
check "first lab (3 nodes, host-gw)" lab up -f "$TMP/one.yaml" --nodes 3 --fabric host-gw --no-dns
check "second lab with another name" "$WEFT" lab --name "$LAB2" up -f "$TMP/one.yaml" --nodes 3 --no-dns
check "both have their own namespaces" bash -c "ip netns list | grep -q '^weft-$LAB-node-3' && ip netns list | grep -q '^weft-$LAB2-node-3'"
IP=$(pod_ip p)
check "outside client reaches nothing it should not (no route to pods)" bash -c "! \"$WEFT\" lab --name $LAB exec --outside -- ping -c 1 -W 1 $IP"
check "node namespace reaches its pod" lab exec --node node-3 -- curl -s -m 5 "http://$IP:8080/"
check "node-1 reaches a pod on node-3" lab exec --node node-1 -- curl -s -m 5 "http://$IP:8080/"
snapshot
check "down of the first" lab down
check "first left nothing" nothing_left
check "second still works" "$WEFT" lab --name "$LAB2" exec p -- curl -s -m 5 "http://$IP:8080/"
LAB=$LAB2
snapshot
check "down of the second" lab down
check "second left nothing" nothing_left
finish
