"""A loopback HTTP proxy that injects faults into chosen requests of a tracking server.

Each connection is served by a thread. Requests are framed by Content-Length (what
MLflow's client and uvicorn send). A request whose path contains ``path_part`` takes
the next fault of the list given, in order:

- ``"503"``: answer 503 Service Unavailable without forwarding;
- ``"drop_before"``: close the connection without forwarding;
- ``"drop_after"``: forward, let the server answer, close without a byte of the answer;
- ``"truncate"``: forward, send half the answer, close;
- ``"cut_body"``: forward, send the answer's head whole and half of its body, close
  (the client reads a status and headers, then an incomplete body);
- ``"stall"``: never answer (until the proxy stops): a server that hangs;
- ``"hold"``: forward, let the server answer, and keep the answer until ``release()``
  (``holding`` is set meanwhile): a response that takes as long as the test wants;
- ``"pass"``: forward untouched (to spoil only later requests).

Every other request passes untouched. ``injected`` lists the faults applied, and
``bodies`` the bodies of the requests whose path contains ``path_part``, in arrival
order (what the server was sent), and ``requests`` their request lines.

    with FaultProxy(server_url, ["503", "truncate"], path_part="log-batch") as proxy:
        client = MlflowClient(proxy.url)
"""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit

#: The faults a retry can fix.
FAULTS = ("503", "drop_before", "drop_after", "truncate", "cut_body")
#: Every fault the proxy knows.
ALL_FAULTS = (*FAULTS, "stall", "hold", "pass")
_SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 11\r\nConnection: close\r\n\r\nunavailable"
)


class FaultProxy:
    def __init__(self, target_url: str, faults: list[str], *, path_part: str = "log-batch"):
        unknown = set(faults) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {ALL_FAULTS}")
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._faults = list(faults)
        self._path_part = path_part.encode()
        self._lock = threading.Lock()
        self.injected: list[str] = []
        self.bodies: list[bytes] = []
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopped = threading.Event()
        #: Set while a "hold" answer waits for ``release()``.
        self.holding = threading.Event()
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def heal(self) -> None:
        """Inject no more faults: every later request passes untouched."""
        with self._lock:
            self._faults.clear()

    def release(self) -> None:
        """Send the answers that "hold" keeps, and keep no later one."""
        self._released.set()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._released.set()
        # close() alone does not wake a thread blocked in accept() on Linux; shutdown does
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(5)
        if self._thread.is_alive():
            raise RuntimeError("the fault proxy's accept thread did not stop")

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _next_fault(self, head: bytes) -> str | None:
        if self._path_part not in head.split(b"\r\n", 1)[0]:
            return None
        with self._lock:
            self.bodies.append(head.partition(b"\r\n\r\n")[2])
            self.requests.append(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            if not self._faults:
                return None
            fault = self._faults.pop(0)
            self.injected.append(fault)
            return fault

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        with contextlib.suppress(OSError), client:
            reader = client.makefile("rb")
            while True:
                request = _read_message(reader)
                if request is None:
                    return
                fault = self._next_fault(request)
                if fault == "503":
                    client.sendall(_SERVICE_UNAVAILABLE)
                    return
                if fault == "drop_before":
                    return
                if fault == "stall":
                    self._stopped.wait()
                    return
                if upstream is None:
                    upstream = socket.create_connection(self._target)
                    upstream_reader = upstream.makefile("rb")
                upstream.sendall(request)
                response = _read_message(upstream_reader)
                if response is None:
                    return
                if fault == "drop_after":
                    return
                if fault == "truncate":
                    client.sendall(response[: len(response) // 2])
                    return
                if fault == "cut_body":
                    head, _, body = response.partition(b"\r\n\r\n")
                    client.sendall(
                        head + b"\r\n\r\n" + body[: len(body) // 2 if len(body) > 2 else 0]
                    )
                    return
                if fault == "hold":
                    self.holding.set()
                    self._released.wait()
                client.sendall(response)
        if upstream is not None:
            upstream.close()


def _read_message(reader: object) -> bytes | None:
    """One HTTP message (head and Content-Length body), or None at end of stream."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()  # type: ignore[attr-defined]
        if not line:
            return None
        head += line
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = reader.read(length) if length else b""  # type: ignore[attr-defined]
    return head + body
