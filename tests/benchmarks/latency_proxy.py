"""A loopback TCP proxy that adds a fixed delay to every HTTP request.

It stands in for a tracking server across a network: each client->server chunk
that starts a new HTTP request waits ``delay`` seconds before it is forwarded;
the rest of a request (its body) and every server->client byte pass at once.
So one request/response costs one extra ``delay``, whatever its size.

Request boundaries are found by following HTTP/1.1 framing (Content-Length or
chunked bodies), so keep-alive connections pay the delay once per request and
pipelined requests are recognised too. Every connection is served by its own
pair of coroutines, so concurrent connections are delayed concurrently, as on a
real link. The proxy runs an asyncio loop in a background thread; ``stop()``
(or leaving the ``with`` block) closes the listener and every connection and
joins the thread.

    with LatencyProxy("127.0.0.1", 5000, delay=0.025) as proxy:
        client = MlflowClient(proxy.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass, field

_READ_SIZE = 64 * 1024
_MAX_LINE = 64 * 1024


class HttpRequestFramer:
    """Follows the client->server byte stream and says where requests start.

    ``feed(data)`` returns how many new requests begin inside ``data``. Unknown
    or broken framing makes every later chunk count as a new request: the proxy
    then errs on the side of adding latency, never of dropping bytes.
    """

    def __init__(self) -> None:
        self._state = "start"  # start | head | body | chunk-size | chunk-data | trailer
        self._buffer = b""
        self._remaining = 0

    def feed(self, data: bytes) -> int:
        starts = 0
        view = memoryview(data)
        while view:
            if self._state == "start":
                starts += 1
                self._state, self._buffer = "head", b""
            if self._state == "head":
                view = self._take_head(view)
            elif self._state in ("body", "chunk-data"):
                taken = min(self._remaining, len(view))
                self._remaining -= taken
                view = view[taken:]
                if not self._remaining:
                    self._state = "start" if self._state == "body" else "chunk-size"
            elif self._state in ("chunk-size", "trailer"):
                view = self._take_line(view)
            else:  # "broken"
                return max(starts, 1)
        return starts

    def _take_head(self, view: memoryview) -> memoryview:
        before = len(self._buffer)
        self._buffer += bytes(view)
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_LINE:
                self._state = "broken"
            return view[len(view) :]
        rest = view[end + 4 - before :]
        self._start_body(self._buffer[:end])
        self._buffer = b""
        return rest

    def _start_body(self, head: bytes) -> None:
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            self._state = "chunk-size"
            return
        try:
            length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            self._state = "broken"
            return
        self._state, self._remaining = ("body", length) if length > 0 else ("start", 0)

    def _take_line(self, view: memoryview) -> memoryview:
        before = len(self._buffer)
        self._buffer += bytes(view)
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_LINE:
                self._state = "broken"
            return view[len(view) :]
        line, rest = self._buffer[:end], view[end + 2 - before :]
        self._buffer = b""
        if self._state == "trailer":
            if not line:
                self._state = "start"
            return rest
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            self._state = "broken"
            return rest
        if size == 0:
            self._state = "trailer"
        else:
            self._state, self._remaining = "chunk-data", size + 2  # data + CRLF
        return rest


@dataclass
class ProxyStats:
    connections: int = 0
    requests: int = 0
    delayed_chunks: int = 0
    errors: list[str] = field(default_factory=list)


class LatencyProxy:
    """Forward 127.0.0.1:<port> to ``upstream``, ``delay`` seconds per HTTP request."""

    def __init__(self, upstream_host: str, upstream_port: int, *, delay: float = 0.025):
        self.upstream = (upstream_host, upstream_port)
        self.delay = delay
        self.stats = ProxyStats()
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LatencyProxy:
        self._thread = threading.Thread(target=self._run, name="latency-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise RuntimeError("latency proxy failed to start") from self._startup_error
        if self.port is None:
            raise RuntimeError("latency proxy did not start within 10 s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            except RuntimeError:  # the loop is already closed
                pass
            except TimeoutError:  # a connection would not close: stop the loop anyway
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        self._loop = self._thread = None

    def __enter__(self) -> LatencyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inside the proxy's thread -------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0, family=socket.AF_INET)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        assert self._server is not None and self._loop is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._loop.call_soon(self._loop.stop)

    async def _serve(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client_writer)
        self.stats.connections += 1
        writers = [client_writer]
        pumps: list[asyncio.Task[None]] = []
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            writers.append(upstream_writer)
            self._writers.add(upstream_writer)
            pumps = [
                asyncio.create_task(
                    self._pump(client_reader, upstream_writer, HttpRequestFramer())
                ),
                asyncio.create_task(self._pump(upstream_reader, client_writer, None)),
            ]
            # A failure in one direction ends the connection (closing both sides
            # ends the other pump); a clean EOF only half-closes it.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
            if any(p.done() and not p.cancelled() and p.exception() for p in pumps):
                for writer in writers:
                    writer.close()
            for result in await asyncio.gather(*pumps, return_exceptions=True):
                if isinstance(result, Exception):
                    self.stats.errors.append(repr(result))
        except OSError as exc:  # the upstream refused the connection
            self.stats.errors.append(repr(exc))
        except asyncio.CancelledError:
            # stop() cancelled us: end normally (asyncio < 3.12 logs a cancelled
            # client_connected_cb task as an error), closing up below.
            pass
        finally:
            for pump in pumps:
                pump.cancel()
            if pumps:
                await asyncio.gather(*pumps, return_exceptions=True)
            for writer in writers:
                self._writers.discard(writer)
                writer.close()
            self._tasks.discard(task)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        framer: HttpRequestFramer | None,
    ) -> None:
        try:
            while data := await reader.read(_READ_SIZE):
                if framer is not None:
                    starts = framer.feed(data)
                    if starts:
                        self.stats.requests += starts
                        self.stats.delayed_chunks += 1
                        await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        finally:
            # Half-close: the peer sees EOF, the other direction keeps going.
            if writer.can_write_eof() and not writer.is_closing():
                with contextlib.suppress(OSError):
                    writer.write_eof()
