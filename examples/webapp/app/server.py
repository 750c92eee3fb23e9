"""The web application: counts visits in redis and says hello."""

import json
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from resp import command


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body, code = b"ok\n", 200
        else:
            visits = command("INCR", "visits")
            body = json.dumps({
                "message": os.environ.get("GREETING", "hello"),
                "visits": visits,
                "schema": command("GET", "schema:version"),
                "served_by": socket.gethostname(),
            }).encode() + b"\n"
            code = 200
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("app:", self.address_string(), fmt % args, flush=True)


# As PID 1 a process gets no default signal actions: without this handler
# SIGTERM is ignored and `stop` has to wait for the grace period and SIGKILL.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
