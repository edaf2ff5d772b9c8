"""``mlflow ui`` as a child process group: started on a store, stopped with every
worker it spawned (Ctrl-C, SIGTERM). Standard library only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

#: How long the UI's processes get to exit after SIGTERM before they are killed.
UI_STOP_SECONDS = 10.0


def serve_mlflow_ui(uri: str, *, host: str, port: int, cwd: Path) -> int:
    """Run ``mlflow ui`` on ``uri`` until it exits or this process gets SIGINT/SIGTERM.

    mlflow ui starts uvicorn workers (and, unless disabled, job consumers) that
    outlive a signal to their parent: it runs in its own process group, and a
    Ctrl-C or SIGTERM here stops the whole group. The URI goes through the
    environment, not the command line, so no credential shows in a process list.
    Returns mlflow's exit code, 0 when stopped by a signal.
    """
    executable = Path(sys.executable).with_name("mlflow")
    program = str(executable) if executable.exists() else "mlflow"
    command = [program, "ui", "--host", host, "--port", str(port)]
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": uri}
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    process = subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True)  # noqa: S603
    stopped: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        # Only signal here: the main thread is inside process.wait().
        stopped.append(signum)
        signal_group(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        stop_process_group(process, UI_STOP_SECONDS)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopped else code


def stop_process_group(process: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM ``process``'s whole group, wait until every member has exited, and
    SIGKILL what is left after ``timeout``."""
    import time

    signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_alive(process.pid) and time.monotonic() < deadline:
        try:
            process.wait(0.1)  # reaps the leader, which would otherwise linger as a zombie
        except subprocess.TimeoutExpired:
            pass
        else:
            time.sleep(0.05)
    signal_group(process.pid, signal.SIGKILL)
    process.wait()


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def group_alive(pgid: int) -> bool:
    """True while some process of the group ``pgid`` exists."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
