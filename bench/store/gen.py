#!/usr/bin/env python3
"""Generates a large cluster as manifest files, the way a GitOps tree or `kubectl get -o yaml`
dumps look: 10,000 Services, 10,000 EndpointSlices of 10 endpoints each, 100,000 Pods
(by default), in 100 namespaces. Per namespace: services.yaml, endpointslices.yaml and one
pods-N.yaml per 250 pods.

    gen.py OUT_DIR [--namespaces 100] [--services 100] [--pods 1000]
"""
import argparse
import os
import zlib


def service(ns, i):
    name = f"svc-{i:03d}"
    port = 30000 + zlib.crc32((ns + str(i)).encode()) % 2700
    node_port = f"\n    nodePort: {port}" if i % 10 == 0 else ""
    kind = "NodePort" if i % 10 == 0 else "ClusterIP"
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app: {name}
    app.kubernetes.io/part-of: {ns}
spec:
  type: {kind}
  clusterIP: 10.{96 + (i // 250)}.{(zlib.crc32(ns.encode()) % 250)}.{i % 250 + 1}
  selector:
    app: {name}
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: 8080{node_port}
  - name: metrics
    port: 9090
    protocol: TCP
    targetPort: metrics
"""


def pod_ip(nsi, p):
    return f"10.{(nsi * 40 + p // 250) // 256 % 256 + 1}.{(nsi * 40 + p // 250) % 256}.{p % 250 + 2}"


def endpointslice(ns, nsi, i, pods_per_svc):
    name = f"svc-{i:03d}"
    eps = []
    for k in range(10):
        p = (i * pods_per_svc + k) % 1000
        eps.append(f"""- addresses:
  - {pod_ip(nsi, p)}
  conditions:
    ready: true
    serving: true
    terminating: false
  nodeName: node-{p % 100:03d}
  targetRef:
    kind: Pod
    name: {name}-{k}
    namespace: {ns}""")
    return f"""apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-abcde
  namespace: {ns}
  labels:
    kubernetes.io/service-name: {name}
    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
addressType: IPv4
ports:
- name: http
  port: 8080
  protocol: TCP
- name: metrics
  port: 9090
  protocol: TCP
endpoints:
""" + "\n".join(eps) + "\n"


def pod(ns, nsi, p, services):
    svc = p % services
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: svc-{svc:03d}-{p:04d}
  namespace: {ns}
  labels:
    app: svc-{svc:03d}
    pod-template-hash: 7d4b9c{p % 7}
spec:
  nodeName: node-{p % 100:03d}
  containers:
  - name: app
    image: registry.example.com/{ns}/app:1.{p % 9}
    ports:
    - containerPort: 8080
      name: http
      protocol: TCP
    - containerPort: 9090
      name: metrics
      protocol: TCP
    readinessProbe:
      httpGet:
        path: /healthz
        port: http
status:
  phase: Running
  hostIP: 172.18.{p % 100 // 250}.{p % 100 + 2}
  podIP: {pod_ip(nsi, p)}
  podIPs:
  - ip: {pod_ip(nsi, p)}
  conditions:
  - type: Ready
    status: "True"
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--services", type=int, default=100, help="per namespace")
    ap.add_argument("--pods", type=int, default=1000, help="per namespace")
    a = ap.parse_args()
    for nsi in range(a.namespaces):
        ns = f"ns-{nsi:03d}"
        d = os.path.join(a.out, ns)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "services.yaml"), "w") as f:
            f.write("---\n".join(service(ns, i) for i in range(a.services)))
        with open(os.path.join(d, "endpointslices.yaml"), "w") as f:
            f.write("---\n".join(endpointslice(ns, nsi, i, max(1, a.pods // a.services))
                                 for i in range(a.services)))
        for part in range(0, a.pods, 250):
            with open(os.path.join(d, f"pods-{part // 250}.yaml"), "w") as f:
                f.write("---\n".join(pod(ns, nsi, p, a.services)
                                     for p in range(part, min(a.pods, part + 250))))


if __name__ == "__main__":
    main()
