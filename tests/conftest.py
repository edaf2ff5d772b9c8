"""Shared fixtures: real MLflow stores (sqlite file, `mlflow server` on sqlite, and
`mlflow server` on PostgreSQL), fresh runs, and a clean MLflow state per test.

Nothing here mocks MLflow: every store is the real thing. Servers are started once
per session (tests/servers.py does the starting, stopping and log reading).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import (
    POSTGRES_MISSING,
    QUIET_ENV,
    MlflowServer,
    fresh_postgres_database,
    postgres_reachable,
    running_mlflow_server,
)

# The machines have no internet: telemetry would only add time-outs.
for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)
# Saves to a server outside `kedro run` spool in the working directory by default:
# keep the tests' spool out of the repository, in a folder of the session's own,
# removed when the session ends (pytest_unconfigure). xdist's workers inherit the
# variable: only the process that made the folder removes it.
_OWN_SPOOL_DIR: str | None = None
if "KEDRO_METRICS_SPOOL_DIR" not in os.environ:
    _OWN_SPOOL_DIR = tempfile.mkdtemp(prefix="kedro-metrics-spool-")
    os.environ["KEDRO_METRICS_SPOOL_DIR"] = _OWN_SPOOL_DIR

#: Experiment every fixture run is created in: MLflow's "Default", present in every
#: fresh store (file, sqlite-backed server and PostgreSQL-backed server alike).
DEFAULT_EXPERIMENT_ID = "0"

STORE_KINDS = ("sqlite", "server", "postgres")

_TIMINGS = pytest.StashKey[dict[str, float]]()


# Stores ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow sqlite database with MLflow's tables already created.

    Creating the tables (migrations) costs seconds; copying the file costs
    milliseconds, so each test gets a copy of this one.
    """
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("sqlite-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri).search_experiments()  # creates the schema
    _dispose_sqlalchemy_engine(uri)
    return path


@pytest.fixture
def sqlite_uri(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, empty sqlite MLflow store in this test's temporary directory."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def mlflow_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    """A real `mlflow server` on 127.0.0.1 backed by sqlite, for the whole session."""
    workdir = tmp_path_factory.mktemp("mlflow-server")
    backend = workdir / "backend.db"
    shutil.copyfile(sqlite_template, backend)
    with running_mlflow_server(f"sqlite:///{backend}", workdir, warm=True) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real `mlflow server` backed by a fresh PostgreSQL database, for the session.

    Skipped where PostgreSQL is unreachable, except on CI (env CI set), where a
    missing PostgreSQL fails the tests instead of silently skipping them.
    """
    if not postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(POSTGRES_MISSING, pytrace=False)
        pytest.skip(POSTGRES_MISSING)
    workdir = tmp_path_factory.mktemp("mlflow-postgres-server")
    with (
        fresh_postgres_database() as database,
        running_mlflow_server(database, workdir, warm=True) as server,
    ):
        yield server


_SERVER_FIXTURES = {"server": "mlflow_server", "postgres": "postgres_server"}


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("server", id="server", marks=pytest.mark.server),
        pytest.param("postgres", id="postgres", marks=[pytest.mark.server, pytest.mark.postgres]),
    ]
)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Which real store a test runs against: "sqlite", "server" or "postgres".

    Tests that only need some of them narrow the list with
    ``@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)``.
    """
    if request.param not in STORE_KINDS:
        raise ValueError(f"unknown store kind {request.param!r}; expected one of {STORE_KINDS}")
    return request.param


@pytest.fixture
def store_server(request: pytest.FixtureRequest, store_kind: str) -> MlflowServer | None:
    """The `mlflow server` behind the store, or None for the sqlite file store."""
    fixture = _SERVER_FIXTURES.get(store_kind)
    return request.getfixturevalue(fixture) if fixture else None


@pytest.fixture
def store_uri(
    request: pytest.FixtureRequest, store_kind: str, store_server: MlflowServer | None
) -> str:
    """The tracking URI of the store: a fresh sqlite file, or a session server's URL."""
    return store_server.url if store_server else request.getfixturevalue("sqlite_uri")


# Runs -----------------------------------------------------------------------------


@pytest.fixture
def new_run(store_uri: str) -> Callable[[], str]:
    """Create another fresh RUNNING run in the ``store_uri`` store; returns its id."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store_uri)

    def create() -> str:
        return client.create_run(DEFAULT_EXPERIMENT_ID).info.run_id

    return create


@pytest.fixture
def run_id(new_run: Callable[[], str]) -> str:
    """A fresh, empty run in the ``store_uri`` store."""
    return new_run()


@pytest.fixture(autouse=True)
def _restore_mlflow_globals() -> Iterator[None]:
    """Leave MLflow's process-wide state as it was: no active run left open, the
    tracking URI (and the MLFLOW_TRACKING_URI variable MLflow sets with it) restored."""
    env_before = os.environ.get("MLFLOW_TRACKING_URI")
    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    uri_before = getattr(utils, "_tracking_uri", None)
    yield
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(uri_before)
    if env_before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = env_before


def _dispose_sqlalchemy_engine(uri: str) -> None:
    """Close MLflow's pooled connections to ``uri`` (before its file is copied)."""
    module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    engines = getattr(getattr(module, "SqlAlchemyStore", None), "_engine_map", {})
    engine = engines.pop(uri, None)
    if engine is not None:
        engine.dispose()


# Timings (printed at the end of the session, never asserted) ------------------------


@pytest.fixture
def record_timing(request: pytest.FixtureRequest) -> Callable[[str, float], None]:
    """Record a duration in seconds under a label for the end-of-session summary."""
    timings = request.config.stash.setdefault(_TIMINGS, {})

    def record(label: str, seconds: float) -> None:
        timings[label] = seconds
        print(f"\n[timing] {label}: {seconds:.3f} s")

    return record


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's spool folder (tests/test_session_cleanup.py checks it goes)."""
    if _OWN_SPOOL_DIR is not None:
        shutil.rmtree(_OWN_SPOOL_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    timings = config.stash.get(_TIMINGS, {})
    if not timings:
        return
    terminalreporter.section("kedro-metrics timings (informational, not asserted)")
    width = max(map(len, timings))
    for label, seconds in timings.items():
        terminalreporter.write_line(f"{label:<{width}}  {seconds:8.3f} s")
