"""The warm processes the e2e tests and docs examples run in end as a new
interpreter's would (tests/warm_process.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import warm_process


@pytest.fixture(scope="module")
def run_code(tmp_path_factory):
    warm_process.start_server(dict(os.environ))
    cwd = tmp_path_factory.mktemp("warm")

    def run(code: str) -> tuple[int, str, str]:
        return warm_process.run_code(code, cwd=cwd, env={"WARM": "yes"}, timeout=120)

    run.cwd = cwd
    return run


def test_the_exit_status_of_system_exit(run_code):
    assert run_code("raise SystemExit(3)") == (3, "", "")


def test_an_uncaught_exception_prints_its_traceback_and_exits_1(run_code):
    status, stdout, stderr = run_code("1/0")
    assert (status, stdout) == (1, "")
    assert stderr.rstrip().endswith("ZeroDivisionError: division by zero")


def test_threads_are_joined_and_atexit_functions_run(run_code):
    code = (
        "import atexit, threading, time\n"
        "atexit.register(print, 'atexit')\n"
        "threading.Thread(target=lambda: (time.sleep(0.2), print('thread'))).start()\n"
    )
    assert run_code(code) == (0, "thread\natexit\n", "")


def test_its_own_session_environment_directory_and_main_module(run_code):
    code = (
        "import multiprocessing, os, sys\n"
        "print(os.getsid(0) == os.getpid(), multiprocessing.parent_process(),"
        " multiprocessing.get_start_method(allow_none=True))\n"
        "print(dict(os.environ), os.getcwd(), __name__, sys.argv, sys.path[0] == '')\n"
    )
    assert run_code(code) == (
        0,
        f"True None None\n{{'WARM': 'yes'}} {run_code.cwd} __main__ ['-c'] True\n",
        "",
    )


def test_an_uncaught_keyboard_interrupt_ends_it_by_sigint(run_code):
    status, _, stderr = run_code("raise KeyboardInterrupt")
    assert status == -2  # multiprocessing's exit code of a process ended by SIGINT
    assert "KeyboardInterrupt" in stderr


def test_a_warm_mlflow_server_is_one_process_in_its_own_group(mlflow_server):
    """The session's server (``warm=True``): MLflow's ``mlflow server`` with its uvicorn
    in the same process, which leads its own process group, holds no child process,
    and logs every request it serves."""
    import urllib.request

    pid = mlflow_server.process.pid
    assert mlflow_server.warm
    assert os.getpgid(pid) == pid
    children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    assert children == []
    with urllib.request.urlopen(f"{mlflow_server.url}/health", timeout=10) as answer:
        assert answer.status == 200
    assert ("GET", "/health", 200) in mlflow_server.requests("/health")


def test_a_script_runs_as_python_runs_it(run_code):
    """``python SCRIPT ARG``: ``sys.argv`` as given, the script's folder first on
    ``sys.path``, ``__file__`` set, ``__name__`` "__main__"."""
    script = run_code.cwd / "sub" / "script.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        "import os, sys\n"
        "print(sys.argv, sys.path[0] == os.path.dirname(os.path.realpath(__file__)), __name__)\n"
    )
    status, stdout, stderr = warm_process.run_python(
        [str(script), "one"], cwd=run_code.cwd, env={"WARM": "yes"}, timeout=120
    )
    assert (status, stderr) == (0, "")
    assert stdout == f"{[str(script), 'one']} True __main__\n"


def test_code_with_arguments_gets_them_after_dash_c(run_code):
    status, stdout, _ = warm_process.run_python(
        ["-c", "import sys; print(sys.argv)", "a", "b"], cwd=run_code.cwd, env={}, timeout=120
    )
    assert (status, stdout) == (0, "['-c', 'a', 'b']\n")


def test_other_forms_are_refused():
    assert not warm_process.can_run(["-m", "kedro"])
    with pytest.raises(ValueError, match="not a form a warm process runs"):
        warm_process.run_python(["-m", "kedro"], cwd=Path("."), env={}, timeout=1)


@pytest.mark.parametrize(("level", "expected"), [("DEBUG", "10 False"), (None, "20 False")])
def test_mlflow_logs_at_the_level_its_variable_gives(run_code, level, expected):
    """MLflow's loggers as its import sets them from MLFLOW_LOGGING_LEVEL in this
    process's environment (INFO without it), not in the fork server's."""
    env = {"MLFLOW_LOGGING_LEVEL": level} if level else {}
    code = "import logging, mlflow; m = logging.getLogger('mlflow'); print(m.level, m.propagate)"
    assert warm_process.run_code(code, cwd=run_code.cwd, env=env, timeout=120) == (
        0, f"{expected}\n", ""
    )  # fmt: skip
