#!/usr/bin/env bash
# Installs every Debian 12 package weft needs to build, test and benchmark, then builds it.
# Run as root on a fresh machine; safe to run again (apt-get and meson are idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
	# build
	build-essential meson ninja-build pkg-config clang clang-format libclang-rt-14-dev
	# libraries (DESIGN.md "Dependencies")
	libjansson-dev libyaml-dev libmnl-dev libnftables-dev libnftnl-dev
	libnetfilter-conntrack-dev liburcu-dev libssl-dev libnghttp2-dev libcurl4-openssl-dev
	libcmocka-dev libbpf-dev node-llhttp
	# data plane and the real clients the tests judge by
	iproute2 nftables procps dnsutils curl iputils-ping util-linux python3
	# anchors the benchmarks compare against
	containernetworking-plugins knot nsd dnsperf iperf3 hyperfine ethtool python3-yaml iptables bc
	# real container runtime for the CNI test
	podman runc busybox-static jq
)

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: run as root (apt-get install needs it)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# Daemons shipped by anchor packages (knot, nsd) must not start on the host: benchmarks
	# start their own instances on loopback.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build=${WEFT_BUILD:-build}
if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=debugoptimized
fi
ninja -C "$build"
