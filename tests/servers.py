"""Real MLflow tracking servers and PostgreSQL databases for tests and benchmarks.

``mlflow server`` (3.x) starts uvicorn workers and, unless told otherwise, a job
runner whose consumer processes outlive a plain SIGTERM to the parent. So:
one worker, job execution off, its own process group, and ``os.killpg`` to stop it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests import warm_process
from tests.warm_process import WarmMlflow

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_MISSING = (
    "PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres, database test, "
    "trust auth): the PostgreSQL-backed mlflow server tests cannot run. Start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`."
)

#: Environment for anything that might phone home: the machines have no internet.
QUIET_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}

_REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MlflowServer:
    """A running ``mlflow server``; ``requests()`` reads its access log."""

    url: str
    backend_uri: str
    process: subprocess.Popen[bytes] | WarmMlflow
    log_path: Path
    warm: bool = False

    def requests(self, path_part: str = "") -> list[tuple[str, str, int]]:
        """(method, path, status) of every request served so far whose path contains
        ``path_part``, from uvicorn's access log."""
        text = self.log_path.read_text(errors="replace")
        return [
            (m["method"], m["path"], int(m["status"]))
            for m in _REQUEST_LINE.finditer(text)
            if path_part in m["path"]
        ]

    def stop(self, timeout: float = 10.0) -> None:
        stop_process_group(self.process, timeout)


def stop_process_group(
    process: subprocess.Popen[bytes] | WarmMlflow, timeout: float = 10.0
) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left after ``timeout``."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def start_mlflow_server(
    backend_uri: str,
    workdir: Path,
    *,
    workers: int = 1,
    timeout: float = 90.0,
    port: int | None = None,
    warm: bool = False,
) -> MlflowServer:
    """Start ``mlflow server`` on ``port`` (default: a free loopback port) and wait
    until /health answers. Restart a killed server on its backend and port (so that
    its URI stays the same) with ``restart_mlflow_server``.

    ``warm``: the same ``mlflow server`` command in a process that starts with MLflow
    imported (``tests.warm_process.WarmMlflow``): its uvicorn runs in that process, not
    in a second interpreter, which saves the two interpreters' imports (about 4 s a
    start). The tests use it; the benchmarks start a cold ``mlflow server``."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"mlflow-server-{port}.log"
    env = {**os.environ, **QUIET_ENV, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow_cli) if mlflow_cli.exists() else "mlflow",
        "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", str(workers),
        "--backend-store-uri", backend_uri,
        "--default-artifact-root", (workdir / "artifacts").as_uri(),
        "--uvicorn-opts", "--access-log",
    ]  # fmt: skip
    if warm:
        warm_process.start_server(env)
        process = WarmMlflow(command[1:], cwd=workdir, env=env, stdout=log_path, stderr=log_path)
    else:
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
    server = MlflowServer(f"http://127.0.0.1:{port}", backend_uri, process, log_path, warm)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{server.url}/health", timeout=2) as response:
                if response.status == 200:
                    return server
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(
        f"mlflow server did not answer in {timeout}s:\n{log_path.read_text()[-3000:]}"
    )


def restart_mlflow_server(server: MlflowServer, workdir: Path) -> MlflowServer:
    """A new ``mlflow server`` on the same backend and port as ``server`` (stopped)."""
    port = int(server.url.rsplit(":", 1)[1])
    return start_mlflow_server(server.backend_uri, workdir, port=port, warm=server.warm)


def kill_mlflow_server(server: MlflowServer) -> None:
    """SIGKILL the server's whole process group: an outage, not a shutdown."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()


@contextlib.contextmanager
def running_mlflow_server(
    backend_uri: str, workdir: Path, **kwargs: object
) -> Iterator[MlflowServer]:
    server = start_mlflow_server(backend_uri, workdir, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def postgres_reachable() -> bool:
    try:
        import psycopg2
    except ImportError:
        return False
    try:
        psycopg2.connect(POSTGRES_ADMIN_DSN, connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the local PostgreSQL; dropped afterwards. Yields its URI."""
    import psycopg2

    name = f"kedro_metrics_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(POSTGRES_ADMIN_DSN)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
