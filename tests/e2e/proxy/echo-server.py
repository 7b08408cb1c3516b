#!/usr/bin/env python3
"""A pod's workload for the proxy end-to-end test: tells who answered and who asked.

  echo-server.py NAME
    TCP 8080 (IPv4 and IPv6), 5353: HTTP/1.0, body "NAME PEER-IP\n" (PEER-IP shows
    masquerading)
    UDP 5353 (IPv4 and IPv6): answers each datagram with "NAME PEER-IP"
    TCP 9000: a stream, one line "NAME N" every 100 ms until the client goes
"""
import socket
import socketserver
import sys
import threading
import time

NAME = sys.argv[1]


class Http(socketserver.StreamRequestHandler):
    def handle(self):
        try:
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            body = f"{NAME} {self.client_address[0]}\n".encode()
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass


class Stream(socketserver.StreamRequestHandler):
    def handle(self):
        n = 0
        try:
            while True:
                self.wfile.write(f"{NAME} {n}\n".encode())
                self.wfile.flush()
                n += 1
                time.sleep(0.1)
        except OSError:
            pass


class Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(f"{NAME} {self.client_address[0]}".encode(), self.client_address)


class TServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class TServer6(TServer):
    """IPv6 only, so that IPv4 clients keep seeing plain IPv4 peers on the other socket."""
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class UServer6(socketserver.ThreadingUDPServer):
    """IPv6 only, as TServer6."""
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()


serve(TServer(("0.0.0.0", 8080), Http))
serve(TServer6(("::", 8080), Http))
serve(TServer(("0.0.0.0", 5353), Http))
serve(TServer(("0.0.0.0", 9000), Stream))
serve(socketserver.ThreadingUDPServer(("0.0.0.0", 5353), Udp))
serve(UServer6(("::", 5353), Udp))
print("ready", flush=True)
while True:
    time.sleep(3600)
