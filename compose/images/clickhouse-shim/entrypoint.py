"""Run the chdb native-protocol shim on 0.0.0.0:9000 and a /ping endpoint on 8123 for healthchecks.

/ping answers "Ok." (as ClickHouse does) only while the shim accepts connections on 9000; the
container exits with the shim. CLICKHOUSE_DB names the database created at start (default
"default"); CLICKHOUSE_USER / CLICKHOUSE_PASSWORD are accepted and ignored (the shim has no auth).
"""

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading

NATIVE_PORT = 9000
HTTP_PORT = 8123


def native_port_open() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", NATIVE_PORT)) == 0


class Ping(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/ping" and native_port_open():
            body, status = b"Ok.\n", 200
        else:
            body, status = b"not ready\n", 503
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> int:
    database = os.environ.get("CLICKHOUSE_DB") or "default"
    shim = subprocess.Popen(
        [sys.executable, "-u", "/opt/chshim/chnative_shim.py", "0.0.0.0", str(NATIVE_PORT), "/var/lib/chshim/data",
         database]
    )
    signal.signal(signal.SIGTERM, lambda *_: shim.terminate())
    signal.signal(signal.SIGINT, lambda *_: shim.terminate())
    server = http.server.ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), Ping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return shim.wait()


if __name__ == "__main__":
    sys.exit(main())
