"""A loopback HTTP server that answers every request with a fixed status: a tracking
server that is up but unhealthy (a 503 from a load balancer, a backend that is down).

    with StatusServer(503) as server:          # 503 to everything
    with StatusServer(503, health=200) as s:   # /health says OK, the API answers 503
        ... server.url ... server.paths()      # the paths it was asked for, in order
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StatusServer:
    def __init__(self, status: int, *, health: int | None = None):
        self.status = status
        self.health = status if health is None else health
        self._lock = threading.Lock()
        self._paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with owner._lock:
                    owner._paths.append(self.path)
                status = owner.health if self.path.split("?")[0] == "/health" else owner.status
                body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "unavailable"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def paths(self) -> list[str]:
        with self._lock:
            return list(self._paths)

    def __enter__(self) -> StatusServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
