#!/usr/bin/env python3
"""A webhook receiver for the end-to-end tests.

Usage: hook-receiver.py PORT SECRET LOG

Takes every POST, checks X-Hub-Signature-256 (HMAC-SHA256 of the body under SECRET), and
appends one JSON line per request to LOG: the delivery id, the event, whether the
signature is right, the payload's ref, after, forced and deleted (for push events) and
its repository's clone_url.
Answers 204. Prints "ready" once listening.
"""
import hashlib
import hmac
import http.server
import json
import sys

PORT, SECRET, LOG = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        given = self.headers.get("X-Hub-Signature-256", "")
        payload = json.loads(body or b"{}")
        line = {
            "id": self.headers.get("X-GitHub-Delivery"),
            "event": self.headers.get("X-GitHub-Event"),
            "valid": hmac.compare_digest(expected, given),
            "ref": payload.get("ref"),
            "after": payload.get("after"),
            "forced": payload.get("forced"),
            "deleted": payload.get("deleted"),
            "commits": len(payload.get("commits") or []),
            "clone_url": (payload.get("repository") or {}).get("clone_url"),
        }
        with open(LOG, "a") as log:
            log.write(json.dumps(line) + "\n")
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Receiver)
print("ready", flush=True)
server.serve_forever()
