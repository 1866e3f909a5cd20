#!/usr/bin/env python3
"""tests/hook-receiver.py — a webhook receiver on 127.0.0.1 for the
notification tests.

    hook-receiver.py PORTFILE LOG

Listens on a free port of 127.0.0.1 and writes it to PORTFILE (the test
waits for that file). Each POST is appended to LOG as one JSON line:
{"path", "headers" (lower-case names), "body" (text)}, after the answer is
sent. The answer depends on the path:
    /ok/...         200
    /flaky/...      503 the first time for each X-Qkvm-Delivery, then 200
    /reject/...     400 "no such channel"
Runs until killed (the test ends it by its PID).
"""
import http.server
import json
import os
import sys

port_file, log_file = sys.argv[1], sys.argv[2]
seen = set()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        delivery = self.headers.get("X-Qkvm-Delivery", "")
        if self.path.startswith("/flaky/") and delivery not in seen:
            seen.add(delivery)
            status, text = 503, "busy, try later"
        elif self.path.startswith("/reject/"):
            status, text = 400, "no such channel"
        else:
            status, text = 200, "ok"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text.encode())
        with open(log_file, "a") as f:
            f.write(json.dumps({"path": self.path, "status": status,
                                "headers": {k.lower(): v for k, v in self.headers.items()},
                                "body": body}) + "\n")

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
tmp = port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, port_file)
srv.serve_forever()
