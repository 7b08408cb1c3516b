#!/usr/bin/env python3
"""socklb-client.py tcp|udp VIP PORT: what a client sees of a Service through the socket-level
load balancer, one line of key=value: for tcp, getpeername() of a connected socket and the
peer the kernel holds for it (ss, inside the same network namespace); for udp, the source of the
reply to an unconnected sendto() and to a connected socket's send(), and getpeername() of the
latter."""
import socket
import subprocess
import sys

kind, vip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in vip else socket.AF_INET


def addr(a):
    """host:port, [host]:port for IPv6 (as ss prints it)"""
    return ("[%s]:%d" if ":" in a[0] else "%s:%d") % a[:2]


if kind == "tcp":
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(2)
    c.connect((vip, port))
    local = addr(c.getsockname())
    ss = subprocess.run(["ss", "-Htn", "state", "established", "src", local],
                        capture_output=True, text=True).stdout.split()
    # ss -H: Recv-Q Send-Q Local Peer
    print("getpeername=%s kernel_peer=%s" % (addr(c.getpeername()), ss[3] if len(ss) > 3 else "-"))
    c.close()
else:
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.settimeout(2)
    u.sendto(b"ping\n", (vip, port))
    _, src = u.recvfrom(2048)
    c = socket.socket(fam, socket.SOCK_DGRAM)
    c.settimeout(2)
    c.connect((vip, port))
    c.send(b"ping\n")
    _, csrc = c.recvfrom(2048)
    print("reply_from=%s connected_reply_from=%s getpeername=%s" %
          (addr(src), addr(csrc), addr(c.getpeername())))
