#!/usr/bin/env bash
# weft-cni under a real container runtime: Debian's podman 4.3 with its CNI network backend runs
# two containers from a local busybox rootfs on a weft-cni network; one reaches the other.
# podman runs plugins in the root netns, so this test uses a bridge with a unique name and a
# subnet that no route of the host uses, and removes all of it afterwards. Everything else
# (config, storage, IPAM store, plugin dir) lives in a private temporary directory.
# Usage: podman.sh WEFT_CNI WEFT_IPAM
set -uo pipefail

BIN=$1
IPAM_BIN=$2
ID=$$$RANDOM
T=$(mktemp -d /tmp/weft-podman.XXXXXX)
NET=weft-e2e-$ID
BR=wfpd$((ID % 100000))
FAILS=0

command -v podman >/dev/null || { echo "podman not installed" >&2; exit 1; }
BUSYBOX=$(command -v busybox) || { echo "busybox-static not installed" >&2; exit 1; }

# a /24 in 10.250-254 that nothing on the host routes or holds
SUBNET=""
for a in $(seq 250 254); do
	for b in $(shuf -i 1-250 -n 5); do
		if ! ip route show | grep -q "^10\.$a\.$b\." && ! ip addr show | grep -q " 10\.$a\.$b\."; then
			SUBNET=10.$a.$b
			break 2
		fi
	done
done
[ -n "$SUBNET" ] || { echo "no free subnet" >&2; exit 1; }

PM=(podman --root "$T/storage" --runroot "$T/run" --storage-driver vfs --cgroup-manager cgroupfs
	--events-backend none --tmpdir "$T/tmp")
RUN=(run -d --network "$NET" --runtime /usr/sbin/runc --ulimit nofile=1024:1024
	--ulimit nproc=1024:1024)

cleanup() {
	"${PM[@]}" rm -f -t 0 "c1-$ID" "c2-$ID" >/dev/null 2>&1
	ip link del "$BR" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/net.d" "$T/bin" "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/proc" "$T/rootfs/sys" \
	"$T/rootfs/dev" "$T/rootfs/tmp" "$T/storage" "$T/run" "$T/tmp"
cp "$BUSYBOX" "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/sh"
touch "$T/rootfs/etc/hosts" "$T/rootfs/etc/resolv.conf" "$T/rootfs/etc/hostname"
cp "$BIN" "$T/bin/weft-cni"
cp "$IPAM_BIN" "$T/bin/weft-ipam"
cat >"$T/containers.conf" <<EOF
[network]
network_backend = "cni"
cni_plugin_dirs = ["$T/bin"]
network_config_dir = "$T/net.d"
[engine]
tmp_dir = "$T/tmp"
EOF
cat >"$T/net.d/$NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NET",
  "plugins": [
    {
      "type": "weft-cni",
      "bridge": "$BR",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "weft-ipam",
        "subnet": "$SUBNET.0/24",
        "dataDir": "$T/ipam"
      }
    }
  ]
}
EOF
export CONTAINERS_CONF=$T/containers.conf

echo "podman: network $NET, bridge $BR, subnet $SUBNET.0/24"
if ! "${PM[@]}" "${RUN[@]}" --name "c1-$ID" --rootfs "$T/rootfs" \
	/bin/busybox nc -ll -p 8080 -e /bin/busybox echo hello-from-c1; then
	echo "FAIL: podman could not start container 1" >&2
	exit 1
fi
IP1=$("${PM[@]}" inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "c1-$ID")
echo "container 1 has $IP1"
case $IP1 in
"$SUBNET".*) echo "ok: container 1 got an address from weft-ipam" ;;
*) echo "FAIL: container 1 address '$IP1' not in $SUBNET.0/24" >&2; FAILS=$((FAILS + 1)) ;;
esac
"$IPAM_BIN" list "$T/ipam/$NET" | grep -q "^$IP1 " && echo "ok: reservation on disk" ||
	{ echo "FAIL: no reservation for $IP1" >&2; FAILS=$((FAILS + 1)); }
sleep 0.5
GOT=$("${PM[@]}" run --rm --network "$NET" --runtime /usr/sbin/runc --ulimit nofile=1024:1024 \
	--ulimit nproc=1024:1024 --name "c2-$ID" --rootfs "$T/rootfs" \
	/bin/busybox nc -w 5 "$IP1" 8080 </dev/null)
if [ "$GOT" = hello-from-c1 ]; then
	echo "ok: container 2 reached container 1 over weft-cni"
else
	echo "FAIL: container 2 got '$GOT' from $IP1:8080" >&2
	FAILS=$((FAILS + 1))
fi
"${PM[@]}" rm -f -t 0 "c1-$ID" >/dev/null
if "$IPAM_BIN" list "$T/ipam/$NET" | grep -q .; then
	echo "FAIL: addresses still reserved after the containers were removed" >&2
	FAILS=$((FAILS + 1))
else
	echo "ok: podman's DEL released every address"
fi
if ip -o link show master "$BR" 2>/dev/null | grep -q .; then
	echo "FAIL: veths left on $BR" >&2
	FAILS=$((FAILS + 1))
else
	echo "ok: no veth left"
fi
exit "$FAILS"
