#!/usr/bin/env python3
"""An RFC 7662 token introspection endpoint for the test Dovecot's oauth2 passdb.

    introspect.py TOKENS_FILE USER PORT_FILE [PORT]

POST /introspect with the form field token=...: {"active": true, "username": USER} when the
token is one line of TOKENS_FILE, {"active": false} otherwise (a real issuer says the same of an
expired or revoked token). Listens on 127.0.0.1:PORT (0, the default, lets the kernel choose a
free port) and writes the port to PORT_FILE once it listens. Standard library only.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

# A form larger than this is no token of ours: Microsoft's are under 4 KB.
MAX_BODY = 64 * 1024


def main():
    tokens_file, user, port_file = sys.argv[1:4]
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    with open(tokens_file, encoding="ascii") as f:
        good = {line.strip() for line in f if line.strip()}

    class Introspect(BaseHTTPRequestHandler):
        def do_POST(self):
            if self.path != "/introspect":
                self.send_error(404)
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.send_error(413)
                return
            form = parse_qs(self.rfile.read(length).decode("ascii", "replace"))
            token = form.get("token", [""])[0]
            if token in good:
                answer = {"active": True, "username": user}
            else:
                answer = {"active": False}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            # The request line only: the token travels in the body, never logged.
            sys.stderr.write("introspect: %s\n" % (fmt % args))

    server = ThreadingHTTPServer(("127.0.0.1", port), Introspect)
    with open(port_file + ".tmp", "w", encoding="ascii") as f:
        f.write("%d\n" % server.server_address[1])
    # Renamed into place: whoever waits for the file never reads half a port number.
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
