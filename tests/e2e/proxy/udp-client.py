#!/usr/bin/env python3
"""udp-client.py HOST PORT [SRCPORT]: sends one datagram, prints the answer (exit 1 on none
within 2 s). A fixed SRCPORT keeps the client's conntrack entry the same between calls."""
import socket
import sys

s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if len(sys.argv) > 3:
    s.bind(("", int(sys.argv[3])))
s.settimeout(2)
# Connected, so that an ICMP port unreachable reaches us as ECONNREFUSED.
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"hello")
try:
    print(s.recv(512).decode())
except (socket.timeout, ConnectionRefusedError) as e:
    print(f"no answer: {e}", file=sys.stderr)
    sys.exit(1)
