"""``python -m kedro ...`` and ``python -c ...`` in a new process that starts with
the libraries imported.

Most of a ``kedro`` subprocess's seconds go to importing MLflow, SQLAlchemy, pandas
and Kedro's dependencies, the same in every test. Here each command runs in its own
process forked from a multiprocessing fork server that has imported them once
(``PRELOADED``): its own pid, process group, working directory, environment and
output files, signals and exit status as a ``kedro`` process has them, the same
``kedro.framework.cli.main`` (``WarmKedro``, ``run``), or a script run as
``python -c`` runs it, in a new ``__main__`` module (``run_code``: the docs'
examples; ``run_python``: a script, or ``-c`` with arguments), or ``mlflow server``
(``WarmMlflow``: the tests' tracking servers, the uvicorn process it would start run
in that same process). What the process does after start-up is what ``kedro``,
``python`` or ``mlflow`` does; only the import of these libraries was paid once per
test worker. Kedro itself, the project and kedro-metrics are imported in the new
process.

Exit as the interpreter exits: non-daemon threads are joined, ``atexit`` functions
run, output is flushed; an uncaught KeyboardInterrupt ends the process by SIGINT,
as Python does. Tests that prove something about a real interpreter's start (the
README's command, entry points) exec one instead (``run_kedro(..., exec_=True)``).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path

#: Third-party libraries every `kedro run` and `kedro metrics` command imports; none
#: reads the environment or the working directory at import time. Kedro's framework
#: (which sets up logging from the environment when imported) and kedro-metrics are
#: not among them.
PRELOADED = (
    "numpy",
    "pandas",
    "sqlalchemy",
    "alembic",
    "mlflow",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.tracking.rest_store",
    "click",
    "omegaconf",
    "dynaconf",
    "rich.console",
)

_context = multiprocessing.get_context("forkserver")


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


_starting = threading.Lock()
_started = threading.Event()


def start_server(env: dict[str, str]) -> None:
    """Start this process's fork server with ``env`` (a clean test environment), its
    libraries imported. Later calls do nothing. The first call sets ``os.environ`` to
    ``env`` while the server starts: make it before starting threads that read the
    environment (the e2e tests make it when their session starts)."""
    from multiprocessing import forkserver

    with _starting:
        if _started.is_set():
            return
        _context.set_forkserver_preload(list(PRELOADED))
        with _environment(env):
            forkserver.ensure_running()
        _started.set()


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _become_a_new_process(cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """Its own session, directory, environment and output files; no multiprocessing
    parent, as ``kedro`` has none (kedro-metrics tells ParallelRunner's workers by
    ``multiprocessing.parent_process()``); and multiprocessing's start method unset,
    as in a new interpreter (the fork server's child inherits "forkserver": its
    ParallelRunner workers would then be forked from the fork server, without this
    process's environment and active run)."""
    from multiprocessing import process

    os.setsid()
    process._parent_process = None
    multiprocessing.set_start_method(None, force=True)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    _mlflow_loggers_as_imported()
    files = {
        path: os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for path in {out, err}
    }
    os.dup2(files[out], 1)
    os.dup2(files[err], 2)  # `err` may be `out`: one file, as `2>&1` makes it
    for file in files.values():
        os.close(file)


def _mlflow_loggers_as_imported() -> None:
    """MLflow sets its loggers' level from MLFLOW_LOGGING_LEVEL when it is imported,
    and the fork server imported it with the tests' environment: set them again from
    this process's, as its import would (``mlflow/__init__.py``)."""
    from mlflow.environment_variables import MLFLOW_CONFIGURE_LOGGING
    from mlflow.utils.logging_utils import _configure_mlflow_loggers

    if MLFLOW_CONFIGURE_LOGGING.get() is True:
        _configure_mlflow_loggers(root_module_name="mlflow")


def _exit_as_python_does(main: Callable[[], object]) -> None:
    """Run ``main``, then end the process as the interpreter ends it."""
    interrupted, code = False, 0
    try:
        main()
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        interrupted = True
    except BaseException:  # noqa: BLE001 - as the interpreter does: a traceback, exit 1
        traceback.print_exc()
        code = 1
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def _kedro_main(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """The new process: what ``python -m kedro *args`` does in ``cwd``."""
    _become_a_new_process(cwd, env, out, err)
    sys.argv = ["python -m kedro", *args]
    sys.path.insert(0, cwd)  # `python -m` puts the working directory first

    def main() -> None:
        from kedro.framework.cli import main

        main()

    _exit_as_python_does(main)


def _python_main(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """The new process: what ``python -c CODE ARG...`` or ``python SCRIPT ARG...`` does
    in ``cwd``: ``sys.argv`` and ``sys.path[0]`` as Python sets them, the code run in a
    new ``__main__`` module (with ``__file__`` for a script)."""
    _become_a_new_process(cwd, env, out, err)
    main_module = types.ModuleType("__main__")
    if args[0] == "-c":
        code, filename = args[1], "<string>"
        sys.argv = ["-c", *args[2:]]
        sys.path.insert(0, "")  # `python -c` puts the working directory first
    else:
        filename = args[0]
        code = Path(filename).read_text()
        sys.argv = list(args)
        sys.path.insert(0, os.path.dirname(os.path.realpath(filename)))  # the script's folder
        main_module.__file__ = filename
    sys.modules["__main__"] = main_module
    compiled = compile(code, filename, "exec")
    _exit_as_python_does(lambda: exec(compiled, vars(main_module)))  # noqa: S102


def _exec_uvicorn_here(command: list[str], *, extra_env: dict[str, str] | None = None, **_) -> None:
    """What MLflow's ``_exec_cmd`` would start as ``python -m uvicorn ...`` for
    ``mlflow server``, run in this process instead: its environment added, uvicorn's
    own command line parsed by uvicorn. It returns when uvicorn exits."""
    if command[1:3] != ["-m", "uvicorn"]:
        raise RuntimeError(f"not a uvicorn command: {command}")
    os.environ.update(extra_env or {})
    from uvicorn.main import main

    main.main(command[3:], prog_name="uvicorn")


def _mlflow_main(args: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """The new process: what ``mlflow *args`` does in ``cwd``; the uvicorn process
    ``mlflow server`` starts is this same process (``_exec_uvicorn_here``), so a
    server is one process, in its own process group as before."""
    _become_a_new_process(cwd, env, out, err)
    sys.argv = ["mlflow", *args]

    def main() -> None:
        import mlflow.server
        from mlflow.cli import cli

        mlflow.server._exec_cmd = _exec_uvicorn_here
        cli.main(args, prog_name="mlflow")

    _exit_as_python_does(main)


class WarmKedro:
    """A started ``kedro`` process: ``pid`` (also its process group), ``poll()``,
    ``wait(timeout)`` and ``returncode`` as a ``subprocess.Popen`` has them; its
    output goes to the files ``stdout`` and ``stderr``."""

    _target: Callable[..., None] = staticmethod(_kedro_main)

    def __init__(
        self, args: list[str] | str, *, cwd: Path, env: dict[str, str], stdout: Path,
        stderr: Path,
    ):  # fmt: skip
        self.args = args
        self._process = _context.Process(
            target=self._target, args=(args, str(cwd), dict(env), str(stdout), str(stderr))
        )
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self._process.exitcode


class WarmPython(WarmKedro):
    """A started ``python *args`` process (``-c CODE ...`` or ``SCRIPT ...``), as
    ``WarmKedro``."""

    _target = staticmethod(_python_main)


class WarmMlflow(WarmKedro):
    """A started ``mlflow *args`` process (``mlflow server``: see ``_mlflow_main``)."""

    _target = staticmethod(_mlflow_main)


def _to_its_end(
    kind: type[WarmKedro], args: list[str] | str, *, cwd: Path, env: dict[str, str],
    timeout: float,
) -> tuple[int, str, str]:  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="warm-process-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = kind(args, cwd=cwd, env=env, stdout=out, stderr=err)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        return code, out.read_text(), err.read_text()


def run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """``python -m kedro *args`` to its end: (exit status, stdout, stderr). Past
    ``timeout`` seconds its process group is killed and ``TimeoutExpired`` raised."""
    return _to_its_end(WarmKedro, list(args), cwd=cwd, env=env, timeout=timeout)


def run_code(code: str, *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """``python -c code`` to its end, as ``run``."""
    return run_python(["-c", code], cwd=cwd, env=env, timeout=timeout)


def can_run(args: list[str]) -> bool:
    """Is ``python *args`` a form ``run_python`` runs: ``-c CODE ...`` or ``SCRIPT ...``?"""
    return (args[0] == "-c" and len(args) > 1) or not args[0].startswith("-")


def run_python(
    args: list[str], *, cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int, str, str]:
    """``python *args`` (``can_run``) to its end, as ``run``."""
    if not can_run(args):
        raise ValueError(f"not a form a warm process runs: python {' '.join(args)}")
    return _to_its_end(WarmPython, list(args), cwd=cwd, env=env, timeout=timeout)
