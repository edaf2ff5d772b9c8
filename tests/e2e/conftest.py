"""Fixtures of the end-to-end tests: real Kedro projects, real `kedro run`, real MLflow.

Each test copies ``project_template/`` (a minimal Kedro project, never installed:
``kedro run`` puts its ``src/`` on ``sys.path``) into a temporary directory, runs
``python -m kedro ...`` there in a process of its own with a clean environment
(one that starts with MLflow and the other libraries imported: ``warm_process``), and reads
the MLflow store back with ``MlflowClient``. The kedro-metrics hook is active only
because the package is installed (its ``kedro.hooks`` entry point): the template's
settings.py registers nothing.

A ``kedro run`` subprocess costs a few seconds, so the helpers are session-scoped
callables that modules use in module-scoped fixtures to share one run between
tests that assert different things about it, and most tests start from a copy of
an already migrated sqlite store (``seed_store``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import warm_process
from tests.concurrently import side_by_side

TEMPLATE = Path(__file__).parent / "project_template"

#: The template is a project to copy, not test code (e.g. under --doctest-modules).
collect_ignore = ["project_template"]

#: Never phone home: the machines have no internet, telemetry would only time out.
#: MLflow 3's own telemetry ignores DO_NOT_TRACK, hence its own variable.
TELEMETRY_OFF = {
    "KEDRO_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
# The tests read the stores with MLflow in this process too.
for _name, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)


#: Every metric the template's lineage pipeline logs: candidate keeps 2 of 4 features
#: (threshold 0.8), champion 3 (threshold 0.6).
LINEAGE_SCORES = {
    "candidate.scores.accuracy": 0.5,
    "candidate.scores.rows.all": 4.0,
    "candidate.scores.rows.test": 2.0,
    "champion.scores.accuracy": 2 / 3,
    "champion.scores.rows.all": 4.0,
    "champion.scores.rows.test": 3.0,
}


def subprocess_env(overrides: dict[str, str | None] | None = None) -> dict[str, str]:
    """The caller's environment without any MLFLOW_* or KEDRO_* variable, telemetry
    off, plus ``overrides`` (a value of None removes the variable).

    COLUMNS is wide so that rich (Kedro's log handler) does not wrap file paths in
    the messages the tests look for.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MLFLOW_", "KEDRO_")) and name != "PYTHONSTARTUP"
    }
    env.update(TELEMETRY_OFF)
    env["COLUMNS"] = "400"
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@dataclass(frozen=True)
class Completed:
    """What a subprocess did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"$ {' '.join(self.args)}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"

    def check(self) -> Completed:
        """Fail the test with the whole output when the command failed."""
        assert self.returncode == 0, self.output
        return self


def run_python(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str | None] | None = None,
    timeout: float = 600,
    exec_: bool = False,
) -> Completed:
    """``sys.executable *args`` in ``cwd`` with a clean environment: in a warm process
    (``warm_process.run_python``: a script or ``-c``; ``-m kedro`` goes to ``run_kedro``)
    unless ``exec_`` or ``needs_new_interpreter``."""
    cmd = [sys.executable, *args]
    if not (exec_ or needs_new_interpreter(env)):
        if args[:2] == ["-m", "kedro"]:
            return run_kedro(cwd, *args[2:], env=env, timeout=timeout)
        if warm_process.can_run(args):
            warm_process.start_server(subprocess_env())
            code, stdout, stderr = warm_process.run_python(
                list(args), cwd=cwd, env=subprocess_env(env), timeout=timeout
            )
            return Completed(tuple(cmd), code, stdout, stderr)
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Completed(tuple(cmd), proc.returncode, proc.stdout, proc.stderr)


#: Variables that MLflow or Python read when they are imported or start: a command
#: given one of them runs in a new interpreter, not a warm one (tests/warm_process.py).
#: MLFLOW_LOGGING_LEVEL is not one: a warm process sets MLflow's loggers from it again.
READ_AT_START = ("MLFLOW_CONFIGURE_LOGGING", "PYTHON")


def needs_new_interpreter(env: dict[str, str | None] | None) -> bool:
    """A command a warm process cannot stand in for: one given a variable of
    ``READ_AT_START``."""
    return any(name.startswith(READ_AT_START) for name in env or {})


def run_kedro(
    project: Path,
    *args: str,
    env: dict[str, str | None] | None = None,
    cwd: Path | None = None,
    timeout: float = 600,
    exec_: bool = False,
) -> Completed:
    """``python -m kedro *args`` in the project (or in ``cwd`` inside it), in a process
    of its own that starts with the libraries imported (``warm_process``); ``exec_``, or
    ``needs_new_interpreter``, makes it a new interpreter."""
    if exec_ or needs_new_interpreter(env):
        return run_python(
            ["-m", "kedro", *args], cwd=cwd or project, env=env, timeout=timeout, exec_=True
        )
    warm_process.start_server(subprocess_env())
    code, stdout, stderr = warm_process.run(
        list(args), cwd=cwd or project, env=subprocess_env(env), timeout=timeout
    )
    return Completed((sys.executable, "-m", "kedro", *args), code, stdout, stderr)


def metrics_in_process(
    project: Path, *args: str, env: dict[str, str | None] | None = None
) -> Completed:
    """``kedro metrics *args`` run in this process with click's ``CliRunner`` (what
    ``kedro`` would do, without the seconds of a new interpreter): the same command
    objects, the project bootstrapped as Kedro's CLI does it, the environment of
    ``subprocess_env``. What the command changes in the process (MLflow's request
    variables, the retry budget, the bootstrapped project) is put back afterwards."""
    import kedro.framework.project as kedro_project
    from click.testing import CliRunner
    from kedro.framework.startup import bootstrap_project

    from kedro_metrics.cli import commands
    from kedro_metrics.process import state

    wanted = subprocess_env(env)
    changes: dict[str, str | None] = {name: None for name in os.environ if name not in wanted}
    changes.update({k: v for k, v in wanted.items() if os.environ.get(k) != v})
    changes.update({name: None for name in _SET_BY_COMMANDS if name not in wanted})
    budget, context = state.retry_budget, state.last_context
    package, path = kedro_project.PACKAGE_NAME, list(sys.path)
    cwd = Path.cwd()

    def invoke() -> Any:
        metadata = bootstrap_project(project)
        return CliRunner().invoke(commands, ["metrics", *args], obj=metadata, env=changes)

    try:
        os.chdir(project)
        # In a thread of its own, whose stack is as shallow as `kedro`'s: Kedro's
        # settings loader (dynaconf) calls inspect.stack(), whose cost grows with the
        # depth of pytest's. `ui` installs signal handlers: only the main thread may.
        result = invoke() if args[:1] == ("ui",) else side_by_side({"command": invoke})["command"]
    finally:
        os.chdir(cwd)
        state.retry_budget, state.last_context = budget, context
        # the process is in no project afterwards, as before (readers look for one)
        kedro_project.PACKAGE_NAME, sys.path[:] = package, path
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Completed(("kedro", "metrics", *args), result.exit_code, result.stdout, result.stderr)


def json_of(result: Completed) -> Any:
    """The JSON document a command printed on stdout; it must have exited 0."""
    assert result.returncode == 0, result.output
    return json.loads(result.stdout)


#: Variables a command sets in its own process (store.configure_retries).
_SET_BY_COMMANDS = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")


def copy_project(parent: Path, source: Path = TEMPLATE) -> Path:
    """A fresh copy of a Kedro project tree in ``parent/project``."""
    target = parent / "project"
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc", "*.db", "mlruns", "mlartifacts", ".pytest_cache"
        ),
    )
    (target / "conf" / "local").mkdir(parents=True, exist_ok=True)
    return target


def sqlite_uri(path: Path) -> str:
    return f"sqlite:///{path}"


class Store:
    """The read side of an MLflow sqlite store, for assertions.

    Creating an ``MlflowClient`` on a missing sqlite file would create it, so the
    file must exist: tests that expect "no store" check the path themselves.
    """

    def __init__(self, path: Path):
        assert path.is_file(), f"expected an MLflow sqlite store at {path}"
        from mlflow import MlflowClient

        self.path = path
        self.uri = sqlite_uri(path)
        self.client = MlflowClient(tracking_uri=self.uri)

    def experiments(self) -> dict[str, str]:
        """Experiment name -> id, deleted ones included."""
        from mlflow.entities import ViewType

        return {
            e.name: e.experiment_id for e in self.client.search_experiments(view_type=ViewType.ALL)
        }

    def runs(self) -> list[Any]:
        """Every run in every experiment of the store, deleted ones included."""
        from mlflow.entities import ViewType

        ids = list(self.experiments().values())
        return self.client.search_runs(ids, run_view_type=ViewType.ALL, max_results=1000)

    def only_run(self) -> Any:
        """The store's single run (fails when there are none or several)."""
        runs = self.runs()
        assert len(runs) == 1, [
            (r.info.run_name, r.info.status, r.info.experiment_id) for r in runs
        ]
        return runs[0]

    def run(self, run_id: str) -> Any:
        return self.client.get_run(run_id)

    def history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """``[(step, value), ...]`` of one metric, in step then timestamp order."""
        points = self.client.get_metric_history(run_id, key)
        points = sorted(points, key=lambda m: (m.step, m.timestamp))
        return [(m.step, m.value) for m in points]

    def metrics(self, run_id: str) -> dict[str, list[tuple[int, float]]]:
        """Every metric of the run as ``{key: [(step, value), ...]}``."""
        keys = self.run(run_id).data.metrics
        return {key: self.history(run_id, key) for key in sorted(keys)}

    @staticmethod
    def user_tags(run: Any) -> dict[str, str]:
        """The run's tags without MLflow's own ``mlflow.*`` ones."""
        return {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}


@pytest.fixture(scope="session", autouse=True)
def _warm_process_server() -> None:
    """The fork server of warm processes, started before any test (and any thread a
    test starts: ``tests.concurrently``) runs a command."""
    warm_process.start_server(subprocess_env())


@pytest.fixture(scope="session")
def kedro() -> Callable[..., Completed]:
    """``kedro(project, "run", "--runner", "ThreadRunner", env={...})``."""
    return run_kedro


@pytest.fixture(scope="session")
def python() -> Callable[..., Completed]:
    """``python(["script.py", ...], cwd=..., env={...})``."""
    return run_python


@pytest.fixture(scope="session")
def new_project(seed_store: Callable[[Path], Path]) -> Callable[..., Path]:
    """``new_project(parent)`` copies the e2e project template under ``parent``, its
    default sqlite store seeded (``seed_store``: MLflow's schema migrated, which a
    new store spends a second or two on). ``new_project(parent, store=False)``: no
    store, for tests of how one is created, or that none is (the example project's
    tests: its README's `kedro run` creates it)."""

    def make(parent: Path, source: Path = TEMPLATE, *, store: bool = True) -> Path:
        project = copy_project(parent, source)
        if store:
            seed_store(project / "mlflow.db")
        return project

    return make


@pytest.fixture(scope="session")
def seeded_project(
    tmp_path_factory: pytest.TempPathFactory, seed_store: Callable[[Path], Path]
) -> Callable[[str], Path]:
    """``seeded_project(name)``: a fresh copy of the e2e project in a new temporary
    folder named after ``name``, its sqlite store seeded (empty, migrated)."""

    def make(name: str) -> Path:
        project = copy_project(tmp_path_factory.mktemp(name))
        seed_store(project / "mlflow.db")
        return project

    return make


@pytest.fixture(scope="session")
def store_at() -> Callable[[Path], Store]:
    """``store_at(path)`` reads the MLflow sqlite store at ``path``."""
    return Store


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """``seed_store(path)`` puts an empty MLflow sqlite store (schema migrated, only the
    "Default" experiment) at ``path`` and returns ``path``.

    MLflow spends seconds migrating a new sqlite file; copying a migrated one costs
    nothing. Tests whose subject is how the store gets created (the embedded default,
    the example project) do not seed.
    """
    from mlflow import MlflowClient

    template = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    uri = sqlite_uri(template)
    MlflowClient(tracking_uri=uri).search_experiments()
    # Close MLflow's pooled connections to the file before copying it.
    module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    engine = getattr(getattr(module, "SqlAlchemyStore", None), "_engine_map", {}).pop(uri, None)
    if engine is not None:
        engine.dispose()

    def seed(path: Path) -> Path:
        assert not path.exists(), f"{path} exists already"
        shutil.copyfile(template, path)
        return path

    return seed


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the e2e project, for a test of its own."""
    return copy_project(tmp_path)
