#!/usr/bin/env python3
"""Generates the DNS benchmark cluster: N ClusterIP Services with named ports (SRV), as
manifests for weft and as the equivalent RFC 1035 zone file for Knot and NSD, plus a query mix
of 80% names that exist (A and SRV) and 20% NXDOMAIN.

usage: gen.py N OUTDIR   (writes OUTDIR/manifests/{services,one}.yaml, OUTDIR/zone/cluster.local.zone,
                          OUTDIR/queries.txt)"""
import os
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
random.seed(42)
os.makedirs(out + "/manifests", exist_ok=True)
os.makedirs(out + "/zone", exist_ok=True)


def ip(i):
    i += 100  # stay clear of 10.96.0.10
    return "10.%d.%d.%d" % (96 + (i >> 16), (i >> 8) & 255, i & 255)


def svc(i, addr):
    return ("apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: ns-%d}\n"
            "spec:\n  clusterIP: %s\n  selector: {app: svc-%d}\n  ports:\n"
            "  - {name: http, port: 80, protocol: TCP}\n"
            "  - {name: grpc, port: 9090, protocol: TCP}\n---\n" % (i, i % 100, addr, i))


with open(out + "/manifests/services.yaml", "w") as f:
    for i in range(1, n):
        f.write(svc(i, ip(i)))
    for ns in range(100):
        f.write("apiVersion: v1\nkind: Namespace\nmetadata: {name: ns-%d}\n---\n" % ns)
# svc-0 alone in its own file: the live-update measurement rewrites it
with open(out + "/manifests/one.yaml", "w") as f:
    f.write(svc(0, ip(0)))

with open(out + "/zone/cluster.local.zone", "w") as f:
    f.write("$ORIGIN cluster.local.\n$TTL 30\n"
            "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30\n"
            "@ IN NS ns.dns.cluster.local.\nns.dns IN A 10.96.0.10\n"
            "dns-version 28800 IN TXT \"1.1.0\"\n")
    for i in range(n):
        o = "svc-%d.ns-%d.svc" % (i, i % 100)
        f.write("%s IN A %s\n" % (o, ip(i)))
        f.write("_http._tcp.%s IN SRV 0 100 80 %s.cluster.local.\n" % (o, o))
        f.write("_grpc._tcp.%s IN SRV 0 100 9090 %s.cluster.local.\n" % (o, o))

with open(out + "/queries.txt", "w") as f:
    for _ in range(100000):
        r = random.random()
        i = random.randrange(n)
        o = "svc-%d.ns-%d.svc.cluster.local" % (i, i % 100)
        if r < 0.6:
            f.write("%s A\n" % o)
        elif r < 0.8:
            f.write("_%s._tcp.%s SRV\n" % (random.choice(["http", "grpc"]), o))
        else:
            f.write("nosvc-%d.ns-%d.svc.cluster.local A\n" % (i, i % 100))
