"""The benchmark's latency proxy: delay per request, keep-alive, concurrency, clean stop.

Not collected by the default test run (``norecursedirs = ["benchmarks"]``); run it
with ``pytest tests/benchmarks/test_latency_proxy.py``.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .latency_proxy import HttpRequestFramer, LatencyProxy

DELAY = 0.1


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self) -> None:
        self._answer(b"ok")

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding") == "chunked":
            body = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(body)

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    with LatencyProxy("127.0.0.1", upstream, delay=DELAY) as running:
        yield running


class TestFramer:
    """The framer counts request starts across any chunking of the byte stream."""

    def test_content_length_and_chunked_requests_split_anywhere(self):
        stream = (
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
            b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n"
            b"GET /d HTTP/1.1\r\n\r\n"
        )
        for size in (1, 2, 3, 7, 64, len(stream)):
            framer = HttpRequestFramer()
            chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
            assert sum(framer.feed(chunk) for chunk in chunks) == 4, size

    def test_a_body_chunk_is_not_a_new_request(self):
        framer = HttpRequestFramer()
        assert framer.feed(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345") == 1
        assert framer.feed(b"67890") == 0
        assert framer.feed(b"GET / HTTP/1.1\r\n\r\n") == 1


class TestProxy:
    """Each request pays the delay once; connections are independent; stop is clean."""

    def test_keep_alive_requests_each_pay_the_delay(self, proxy):
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        start = time.perf_counter()
        for i in range(5):
            body = b"x" * (200_000 if i % 2 else 10)  # bodies spanning many chunks
            conn.request("POST", "/", body=body)
            response = conn.getresponse()
            assert response.read() == body
        elapsed = time.perf_counter() - start
        conn.close()
        assert proxy.stats.connections == 1
        assert proxy.stats.requests == 5
        assert 5 * DELAY <= elapsed < 5 * DELAY + 1.0

    def test_concurrent_connections_are_delayed_concurrently(self, proxy):
        def one(_):
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"ok"
            conn.close()

        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, range(8)))
        elapsed = time.perf_counter() - start
        assert proxy.stats.requests == 8
        assert DELAY <= elapsed < 4 * DELAY

    def test_stop_closes_listener_connections_and_thread(self, upstream):
        before = {t.name for t in threading.enumerate()}
        proxy = LatencyProxy("127.0.0.1", upstream, delay=DELAY).start()
        port = proxy.port
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        idle.request("GET", "/")
        idle.getresponse().read()  # an open keep-alive connection at stop time
        proxy.stop()
        assert "latency-proxy" not in {t.name for t in threading.enumerate()} - before
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        idle.request("GET", "/")
        with pytest.raises((OSError, http.client.HTTPException)):
            idle.getresponse().read()
        proxy.stop()  # idempotent
