#!/usr/bin/env python3
"""A proxy in front of git http-backend that misbehaves on purpose, for import tests.

Usage: git-proxy.py PORT UPSTREAM   (UPSTREAM like http://127.0.0.1:8080)

The first path segment picks how a request to /<mode>/<path> is passed to UPSTREAM/<path>:
  plain/    as it is
  v0/       without the Git-Protocol header, so that git answers in protocol v0
  auth/     only with `Authorization: Basic` whose password is "s3cret" (else 401)
  cut/      a fetch's answer stops halfway through, the connection closed (a server
            that goes away mid-import)
  garbage/  a fetch's answer is 200 and bytes that are not the protocol
  trailing/ a fetch's answer goes on after the end of its pack (1 MiB more)
  slow/     a fetch's answer comes 3 s late
Prints "ready" once listening.
"""
import base64
import http.server
import sys
import time
import urllib.error
import urllib.request

PORT = int(sys.argv[1])
UPSTREAM = sys.argv[2].rstrip("/")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.forward(None)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.forward(self.rfile.read(length))

    def forward(self, body):
        _, mode, rest = self.path.split("/", 2)
        if mode == "auth" and not self.authorized():
            return self.answer(401, b"", {"WWW-Authenticate": 'Basic realm="x"'})
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("host", "content-length", "authorization")
            and not (mode == "v0" and k.lower() == "git-protocol")
        }
        request = urllib.request.Request(
            f"{UPSTREAM}/{rest}", data=body, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request) as upstream:
                status, data = upstream.status, upstream.read()
                kept = {"Content-Type": upstream.headers.get("Content-Type", "")}
        except urllib.error.HTTPError as e:
            status, data, kept = e.code, e.read(), {}
        fetch = body is not None and (b"command=fetch" in body or body[4:9] == b"want ")
        if mode == "garbage" and fetch:
            data = b"this is not a pack\n" * 100
        if mode == "trailing" and fetch:
            data += b"0009more\n" * (1 << 17)
        if mode == "slow" and fetch:
            time.sleep(3)
        if mode == "cut" and fetch:
            return self.cut(status, data, kept)
        self.answer(status, data, kept)

    def authorized(self):
        value = self.headers.get("Authorization", "")
        if not value.startswith("Basic "):
            return False
        decoded = base64.b64decode(value[6:]).decode(errors="replace")
        return decoded.split(":", 1)[-1] == "s3cret"

    def answer(self, status, data, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def cut(self, status, data, headers):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(2)


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Proxy)
print("ready", flush=True)
server.serve_forever()
