#!/usr/bin/env python3
"""gen.py N OUTDIR: one cluster of N ClusterIP Services with 2-10 endpoints each (6 on
average; deterministic), written three ways:

  weft.yaml, weft-changed.yaml   Services + EndpointSlices for weft (the real code path);
                                 "changed" moves one endpoint of the LAST service
  weft-added.yaml                the LAST service with one endpoint more (a count change)
  iptables.rules                 shaped like kube-proxy's iptables mode (iptables-restore)
  iptables-delta.rules           what its minimal sync writes for that change (--noflush:
                                 the whole KUBE-SERVICES chain plus the changed chains)
  nft.nft                        shaped like kube-proxy's nftables mode (nft -f)
  nft-delta.nft                  its transaction for the same change
  vips                           first and last service VIP

Every endpoint address is in 10.250.0.0/16, which run.sh makes local (a local route on lo),
so any chosen endpoint accepts. Service i has VIP 10.96.x.y and port 8080 -> 8080."""
import hashlib
import os
import sys

n = int(sys.argv[1])
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
CLUSTER_CIDR = "10.244.0.0/16"


def vip(i):
    return f"10.96.{(i >> 8) & 255}.{i & 255}" if i < 65536 else None


def eps_of(i, changed=False):
    k = 2 + (i * 7919) % 9  # 2..10, mean 6
    eps = [f"10.250.{((i * 10 + j) >> 8) & 255}.{(i * 10 + j) & 255}" for j in range(k)]
    if changed:
        eps[0] = "10.250.255.254"
    return eps


def h(s):
    return hashlib.sha256(s.encode()).hexdigest()[:16].upper()


def weft(path, changed, added=False):
    with open(path, "w") as f:
        for i in range(n):
            name = f"svc-{i}"
            f.write(f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: bench}}\n"
                    f"spec:\n  clusterIP: {vip(i)}\n  selector: {{app: {name}}}\n"
                    f"  ports: [{{name: http, port: 8080, targetPort: 8080}}]\n")
            f.write(f"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                    f"metadata:\n  name: {name}-x\n  namespace: bench\n"
                    f"  labels: {{kubernetes.io/service-name: {name}}}\n"
                    f"addressType: IPv4\nports: [{{name: http, port: 8080}}]\nendpoints:\n")
            eps = eps_of(i, changed and i == n - 1)
            if added and i == n - 1:
                eps.append("10.250.255.253")
            for e in eps:
                f.write(f"- {{addresses: [{e}], nodeName: node-1}}\n")


def ipt_service_lines(i, eps):
    name = f"bench/svc-{i}:http"
    svc = "KUBE-SVC-" + h(name)
    return (f"-A KUBE-SERVICES -d {vip(i)}/32 -p tcp -m comment --comment \"{name} cluster IP\" "
            f"-m tcp --dport 8080 -j {svc}\n")


def ipt_chains(i, eps):
    name = f"bench/svc-{i}:http"
    svc = "KUBE-SVC-" + h(name)
    decl, rules = [f":{svc} - [0:0]\n"], []
    rules.append(f"-A {svc} ! -s {CLUSTER_CIDR} -d {vip(i)}/32 -p tcp -m comment --comment "
                 f"\"{name} cluster IP\" -m tcp --dport 8080 -j KUBE-MARK-MASQ\n")
    for j, e in enumerate(eps):
        sep = "KUBE-SEP-" + h(name + e)
        decl.append(f":{sep} - [0:0]\n")
        left = len(eps) - j
        prob = "" if left == 1 else f" -m statistic --mode random --probability {1 / left:.11f}"
        rules.append(f"-A {svc} -m comment --comment \"{name} -> {e}:8080\"{prob} -j {sep}\n")
        rules.append(f"-A {sep} -s {e}/32 -m comment --comment \"{name}\" -j KUBE-MARK-MASQ\n")
        rules.append(f"-A {sep} -p tcp -m comment --comment \"{name}\" -m tcp "
                     f"-j DNAT --to-destination {e}:8080\n")
    return decl, rules


def iptables():
    with open(f"{out}/iptables.rules", "w") as f:
        f.write("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
                ":KUBE-POSTROUTING - [0:0]\n:KUBE-NODEPORTS - [0:0]\n")
        decls, rules = [], []
        for i in range(n):
            d, r = ipt_chains(i, eps_of(i))
            decls += d
            rules += r
        f.writelines(decls)
        f.write("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
                "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
                "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n"
                "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n"
                "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
                "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0\n"
                "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" "
                "-j MASQUERADE --random-fully\n")
        for i in range(n):
            f.write(ipt_service_lines(i, eps_of(i)))
        f.write("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports\" "
                "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n")
        f.writelines(rules)
        f.write("COMMIT\n")
    # The change: kube-proxy's minimal sync rewrites KUBE-SERVICES whole and the changed
    # service's chains; the gone endpoint's chain is deleted.
    i = n - 1
    old, new = eps_of(i), eps_of(i, True)
    name = f"bench/svc-{i}:http"
    with open(f"{out}/iptables-delta.rules", "w") as f:
        f.write("*nat\n:KUBE-SERVICES - [0:0]\n")
        d, r = ipt_chains(i, new)
        f.writelines(d)
        for k in range(n):
            f.write(ipt_service_lines(k, eps_of(k, k == i)))
        f.write("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports\" "
                "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n")
        f.writelines(r)
        f.write("COMMIT\n")
        # iptables-nft refuses to delete a chain in the transaction that unhooks it; kube-proxy
        # deletes stale chains in its next sync, and so does this second step.
    with open(f"{out}/iptables-delta2.rules", "w") as f:
        f.write(f"*nat\n-F KUBE-SEP-{h(name + old[0])}\n-X KUBE-SEP-{h(name + old[0])}\nCOMMIT\n")


def nft_ep_chain(i, e):
    return f"endpoint-{h(f'{i}{e}')[:8]}-bench/svc-{i}/tcp/http__{e}/8080"


def nft_svc_chain(i):
    return f"service-{h(str(i))[:8]}-bench/svc-{i}/tcp/http"


def nft_service(i, eps):
    s = [f"\tchain {nft_svc_chain(i)} {{\n",
         f"\t\tip daddr {vip(i)} tcp dport 8080 ip saddr != {CLUSTER_CIDR} jump mark-for-masquerade\n",
         f"\t\tnumgen random mod {len(eps)} vmap {{ "
         + ", ".join(f"{j} : goto {nft_ep_chain(i, e)}" for j, e in enumerate(eps)) + " }\n\t}\n"]
    for e in eps:
        s.append(f"\tchain {nft_ep_chain(i, e)} {{\n\t\tip saddr {e} jump mark-for-masquerade\n"
                 f"\t\tmeta l4proto tcp dnat to {e}:8080\n\t}}\n")
    return s


def nft():
    with open(f"{out}/nft.nft", "w") as f:
        f.write("table ip kube-proxy {\n"
                "\tmap service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
                "\t\telements = { "
                + ",\n\t\t\t".join(f"{vip(i)} . tcp . 8080 : goto {nft_svc_chain(i)}" for i in range(n))
                + " }\n\t}\n"
                "\tchain mark-for-masquerade {\n\t\tmeta mark set meta mark | 0x4000\n\t}\n"
                "\tchain masquerading {\n\t\tmeta mark & 0x4000 == 0 return\n"
                "\t\tmeta mark set meta mark ^ 0x4000\n\t\tmasquerade fully-random\n\t}\n"
                "\tchain services {\n\t\tip daddr . meta l4proto . th dport vmap @service-ips\n\t}\n"
                "\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
                "\t\tjump services\n\t}\n"
                "\tchain nat-output {\n\t\ttype nat hook output priority -100; policy accept;\n"
                "\t\tjump services\n\t}\n"
                "\tchain nat-postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                "\t\tjump masquerading\n\t}\n")
        for i in range(n):
            f.writelines(nft_service(i, eps_of(i)))
        f.write("}\n")
    # kube-proxy nftables mode's transaction for the change: new endpoint chain, the service
    # chain flushed and rewritten, the old endpoint chain deleted.
    i = n - 1
    old, new = eps_of(i), eps_of(i, True)
    with open(f"{out}/nft-delta.nft", "w") as f:
        f.write(f"add chain ip kube-proxy {nft_ep_chain(i, new[0])}\n"
                f"add rule ip kube-proxy {nft_ep_chain(i, new[0])} ip saddr {new[0]} jump mark-for-masquerade\n"
                f"add rule ip kube-proxy {nft_ep_chain(i, new[0])} meta l4proto tcp dnat to {new[0]}:8080\n"
                f"flush chain ip kube-proxy {nft_svc_chain(i)}\n"
                f"add rule ip kube-proxy {nft_svc_chain(i)} ip daddr {vip(i)} tcp dport 8080 "
                f"ip saddr != {CLUSTER_CIDR} jump mark-for-masquerade\n"
                f"add rule ip kube-proxy {nft_svc_chain(i)} numgen random mod {len(new)} vmap {{ "
                + ", ".join(f"{j} : goto {nft_ep_chain(i, e)}" for j, e in enumerate(new)) + " }\n"
                f"flush chain ip kube-proxy {nft_ep_chain(i, old[0])}\n"
                f"delete chain ip kube-proxy {nft_ep_chain(i, old[0])}\n")


weft(f"{out}/weft.yaml", False)
weft(f"{out}/weft-changed.yaml", True)
weft(f"{out}/weft-added.yaml", False, True)
iptables()
nft()
with open(f"{out}/vips", "w") as f:
    f.write(f"{vip(0)} {vip(n - 1)}\n")
