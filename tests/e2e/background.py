"""`kedro run` in the background, for tests that signal or kill it mid-pipeline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests import warm_process
from tests.e2e.conftest import Completed, needs_new_interpreter, subprocess_env


class BackgroundKedro:
    """``python -m kedro *args`` in its own process group, output to files: a warm
    process (``warm_process``) unless ``needs_new_interpreter``."""

    def __init__(
        self,
        project: Path,
        *args: str,
        env: dict[str, str | None] | None = None,
        name: str = "",
    ):
        """Output goes to ``<name>stdout.txt`` and ``<name>stderr.txt`` in the project
        (a ``name`` for each of several commands at once)."""
        self.project = project
        self.args = (sys.executable, "-m", "kedro", *args)
        self.out, self.err = project / f"{name}stdout.txt", project / f"{name}stderr.txt"
        if needs_new_interpreter(env):
            with self.out.open("w") as stdout, self.err.open("w") as stderr:
                self.process = subprocess.Popen(
                    self.args, cwd=project, env=subprocess_env(env), stdout=stdout,
                    stderr=stderr, start_new_session=True, text=True,
                )  # fmt: skip
            return
        warm_process.start_server(subprocess_env())
        self.process = warm_process.WarmKedro(
            list(args), cwd=project, env=subprocess_env(env), stdout=self.out, stderr=self.err
        )

    def wait_for_file(self, name: str, timeout: float = 120.0) -> None:
        """Wait until the pipeline wrote ``name`` in the project (a node started)."""
        deadline = time.monotonic() + timeout
        while not (self.project / name).exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} never appeared:\n{self.finish().output}")
            time.sleep(0.05)

    def signal(self, signum: int, *, group: bool = False) -> None:
        """Send ``signum`` to kedro (``group``: to its whole process group, as Ctrl-C does)."""
        if group:
            os.killpg(self.process.pid, signum)
        else:
            os.kill(self.process.pid, signum)

    def finish(self, timeout: float = 120.0) -> Completed:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return Completed(
            self.args,
            self.process.returncode,
            self.out.read_text(),
            self.err.read_text(),
        )
