"""`kedro metrics ui` in a real project: a real `mlflow ui` on the project's store,
answering /health, stopped with all its processes by a Ctrl-C (SIGINT)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kedro_metrics.cli.mlflow_ui import group_alive
from tests.e2e.conftest import subprocess_env
from tests.servers import free_port

pytestmark = pytest.mark.e2e


#: Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ...
_PPID, _PGRP = 1, 2


def processes_with(field: int, value: int) -> list[int]:
    """Pids whose /proc stat ``field`` (``_PPID`` or ``_PGRP``) equals ``value``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[field]) == value:
                found.append(int(stat.parent.name))
    return found


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "kedro metrics ui exited before serving"
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise AssertionError(f"{url}/health did not answer in {timeout} s")


@pytest.fixture(scope="module")
def ui_session(tmp_path_factory, new_project):
    """Start `kedro metrics ui`, wait for /health, then Ctrl-C it; what happened."""
    project = new_project(tmp_path_factory.mktemp("ui"))
    port = free_port()
    log = project / "ui.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kedro", "metrics", "ui", "--port", str(port)],
            cwd=project,
            env=subprocess_env({"MLFLOW_WORKERS": "2"}),  # mlflow's own variable; default 4
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    mlflow_groups: list[int] = []
    try:
        wait_for_health(url, process)
        mlflow_groups = [os.getpgid(pid) for pid in processes_with(_PPID, process.pid)]
        members_before = [pid for pgid in mlflow_groups for pid in processes_with(_PGRP, pgid)]
        os.kill(process.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process
        returncode = process.wait(60)
        left = [pgid for pgid in mlflow_groups if group_alive(pgid)]
        yield {
            "returncode": returncode,
            "output": log.read_text(errors="replace"),
            "url": url,
            "mlflow_groups": mlflow_groups,
            "members_before": members_before,
            "groups_left": left,
        }
    finally:
        for pgid in [process.pid, *mlflow_groups]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        process.wait()


class TestMetricsUi:
    """`kedro metrics ui` serves the project's store and Ctrl-C stops every process."""

    def test_prints_the_address(self, ui_session):
        """The output names the address and the project's store."""
        output = ui_session["output"]
        assert f"at {ui_session['url']}" in output, output
        assert "mlflow.db" in output, output

    def test_mlflow_ran_in_its_own_group_with_workers(self, ui_session):
        """mlflow ui ran as a child in its own process group, with worker processes."""
        assert len(ui_session["mlflow_groups"]) == 1, ui_session
        assert len(ui_session["members_before"]) >= 2, ui_session

    def test_ctrl_c_exits_zero(self, ui_session):
        """SIGINT ends the command with exit code 0."""
        assert ui_session["returncode"] == 0, ui_session["output"]

    def test_no_process_is_left(self, ui_session):
        """After Ctrl-C the mlflow process group is gone: no worker outlives it."""
        assert ui_session["groups_left"] == []
        assert not [pid for pid in ui_session["members_before"] if Path(f"/proc/{pid}").exists()]


class TestMetricsUiOnAServer:
    """With a tracking server there is nothing to start: the command says where to look."""

    def test_names_the_server_without_credentials(self, project, kedro):
        """metrics.yml's server URI is printed with its password redacted; exit 0."""
        (project / "conf" / "base" / "metrics.yml").write_text(
            "tracking_uri: http://user:s3cr3t@127.0.0.1:9\n"
        )
        result = kedro(project, "metrics", "ui").check()
        assert "http://user:***@127.0.0.1:9" in result.stdout, result.output
        assert "s3cr3t" not in result.stdout + result.stderr
