"""Never lose a metric: the tracking server dies mid-pipeline (sync and async saves),
comes back on the same backend, and `kedro metrics sync` delivers every point exactly
once with the right run status; no secret reaches any output or spool file."""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.concurrently import side_by_side
from tests.e2e.background import BackgroundKedro
from tests.servers import (
    POSTGRES_MISSING,
    fresh_postgres_database,
    kill_mlflow_server,
    postgres_reachable,
    restart_mlflow_server,
    start_mlflow_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.server]

PASSWORD = "pw-S3CRET-in-uri"
ENV_PASSWORD = "pw-S3CRET-in-env"
ENV_TOKEN = "tok-S3CRET-in-env"
SECRETS = (PASSWORD, ENV_PASSWORD, ENV_TOKEN)

BEFORE = {"before_metrics.loss": [(step, float(step)) for step in range(100)]}
AFTER = {"after_metrics.curve": [(step, step / 4) for step in range(2500)]}


def pending_points(stdout: str) -> int:
    """N of the run's closing warning "N points of run ... are pending in the spool"."""
    found = re.search(
        r"([\d,]+) points of run \w+ are pending in the spool .*`kedro metrics sync`", stdout
    )
    assert found, stdout
    return int(found.group(1).replace(",", ""))


def with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{PASSWORD}@")


def server_env(url: str) -> dict[str, str]:
    return {
        "MLFLOW_TRACKING_URI": with_password(url),
        "MLFLOW_TRACKING_PASSWORD": ENV_PASSWORD,
        "MLFLOW_TRACKING_TOKEN": ENV_TOKEN,
    }


def read_run(url: str) -> tuple[str, dict[str, list[tuple[int, float]]], int]:
    """(status, {key: [(step, value)]}, number of runs) of the store's one run."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=url)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(ids, run_view_type=ViewType.ALL)
    run = runs[-1]
    metrics = {}
    for key in sorted(run.data.metrics):
        history = client.get_metric_history(run.info.run_id, key)
        metrics[key] = sorted((m.step, m.value) for m in history)
    return run.info.status, metrics, len(runs)


def outage(parent: Path, new_project, kedro, backend: str, *, async_logging: bool):
    """One `kedro run` whose server is killed (SIGKILL, whole process group) between
    two saves and restarted on the same backend and port after the run; then sync
    twice. Returns what the test checks."""
    server = start_mlflow_server(backend, parent / "server", warm=True)
    try:
        project = new_project(parent)
        (project / "conf" / "local" / "metrics.yml").write_text(
            f"retry_seconds: 3\nasync_logging: {str(async_logging).lower()}\n"
        )
        env = server_env(server.url)
        run = BackgroundKedro(project, "run", "--pipelines", "outage", env=env)
        run.wait_for_file("node_started")
        kill_mlflow_server(server)
        (project / "resume").write_text("go")
        result = run.finish()
        spooled = {p.name: p.read_text() for p in (project / ".kedro_metrics" / "spool").glob("*")}
        server = restart_mlflow_server(server, parent / "server")
        first = kedro(project, "metrics", "sync", env=env)
        second = kedro(project, "metrics", "sync", env=env)
        return {
            "mode": "async" if async_logging else "sync",
            "run": result,
            "spooled": spooled,
            "syncs": (first, second),
            "store": read_run(server.url),
            "left": sorted(p.name for p in (project / ".kedro_metrics" / "spool").glob("*.jsonl")),
        }
    finally:
        server.stop()


def sqlite_outage(parent: Path, new_project, kedro, template: Path, mode: str):
    """The outage on a sqlite-backed server, with sync or async saves."""
    backend = parent / "backend.db"
    shutil.copyfile(template, backend)
    return outage(parent, new_project, kedro, f"sqlite:///{backend}", async_logging=mode == "async")


def postgres_outage(parent: Path, new_project, kedro):
    """The outage on a PostgreSQL-backed server (sync saves)."""
    with fresh_postgres_database() as database:
        return outage(parent, new_project, kedro, database, async_logging=False)


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory, new_project, kedro, python, sqlite_template):
    """Every scenario of this module, side by side (each has its own project, server
    or dead port): the outages on sqlite (sync, async) and on PostgreSQL where it is
    reachable, and the two tokens given as a user name."""
    folders = {
        name: tmp_path_factory.mktemp(name)
        for name in ("outage-sync", "outage-async", "outage-pg", "token-as-user", "upper-case")
    }
    todo = {
        mode: functools.partial(
            sqlite_outage, folders[f"outage-{mode}"], new_project, kedro, sqlite_template, mode
        )
        for mode in ("sync", "async")
    }
    if postgres_reachable():
        todo["postgres"] = functools.partial(
            postgres_outage, folders["outage-pg"], new_project, kedro
        )
    todo["token_as_user"] = functools.partial(
        token_as_user, folders["token-as-user"], new_project, kedro
    )
    todo["upper_case_scheme"] = functools.partial(
        upper_case_scheme, folders["upper-case"], new_project, kedro, python
    )
    return side_by_side(todo)


@pytest.fixture(params=["sync", "async", "postgres"])
def scenario(request, scenarios):
    if request.param not in scenarios:
        if os.environ.get("CI"):
            pytest.fail(POSTGRES_MISSING, pytrace=False)
        pytest.skip(POSTGRES_MISSING)
    return scenarios[request.param]


class TestServerOutage:
    def test_kedro_run_goes_on_and_says_what_is_pending(self, scenario):
        """The run succeeds; the warning at the end names the pending points, the spool
        and the command, and sync delivers exactly that many."""
        result = scenario["run"]
        assert result.returncode == 0, result.output
        pending = pending_points(result.stdout)
        # Sync saves: the 2,500 points saved after the kill. Async saves: the 100 saved
        # just before it may not have left the queue either.
        assert pending in ((2500,) if scenario["mode"] != "async" else (2500, 2600)), result.output
        first, _ = scenario["syncs"]
        assert f"Delivered {pending:,} point(s) of " in first.stdout, first.output

    def test_the_spool_holds_the_points_until_sync(self, scenario):
        """Before sync, the spool has the 2,500 points of the failed save."""
        text = "".join(scenario["spooled"].values())
        assert text.count('"after_metrics.curve"') == 2500

    def test_sync_delivers_every_point_exactly_once(self, scenario):
        """After sync (twice), the run holds every point once and is FINISHED."""
        status, metrics, runs = scenario["store"]
        assert runs == 1
        assert metrics == {**AFTER, **BEFORE}
        assert status == "FINISHED"

    def test_sync_reports_and_cleans_up(self, scenario):
        """The first sync ends the run; the second has
        nothing to do; no spool file is left."""
        first, second = scenario["syncs"]
        first.check()
        second.check()
        assert "ended FINISHED" in first.stdout, first.output
        assert "Delivered 0 point(s) of 0 spooled run(s)" in second.stdout, second.output
        assert scenario["left"] == []

    def test_no_secret_anywhere(self, scenario):
        """Neither the URI's password nor MLflow's credential variables appear in any
        output or spool file."""
        texts = [scenario["run"].output, *scenario["spooled"].values()]
        texts += [sync.output for sync in scenario["syncs"]]
        for secret in SECRETS:
            assert not [t for t in texts if secret in t], secret


TOKEN = "tok-S3CRET-as-user"


def token_as_user(parent: Path, new_project, kedro):
    """A `kedro run` and a `kedro metrics sync` with a token given as the URI's user
    name (`http://TOKEN@host`), the server down: everything spooled, warned, failed."""
    from tests.servers import free_port

    project = new_project(parent)
    (project / "conf" / "local" / "metrics.yml").write_text("retry_seconds: 1\n")
    env = {"MLFLOW_TRACKING_URI": f"http://{TOKEN}@127.0.0.1:{free_port()}"}
    run = kedro(project, "run", "--pipelines", "small", env=env)
    sync = kedro(project, "metrics", "sync", env=env)
    spooled = [p.read_text() for p in (project / ".kedro_metrics" / "spool").glob("*.jsonl")]
    return run, sync, spooled


class TestTokenAsUserName:
    def test_the_token_is_in_no_output_and_no_spool_file(self, scenarios):
        """The run goes on (spooled), sync fails with one line; the token is nowhere,
        its place shown as ***."""
        run, sync, spooled = scenarios["token_as_user"]
        run.check()
        assert sync.returncode != 0
        assert len(spooled) == 1 and '"tracking_uri":"http://***@127.0.0.1:' in spooled[0]
        assert "http://***@127.0.0.1:" in run.stdout, run.output
        for text in (run.output, sync.output, *spooled):
            assert TOKEN not in text


UPPER_TOKEN = "SECRETTOKEN"
#: Everything at DEBUG, MLflow's own loggers and urllib3's included, to stderr.
DEBUG_LOGGING = """\
version: 1
disable_existing_loggers: false
handlers:
  console:
    class: logging.StreamHandler
    stream: ext://sys.stderr
    formatter: plain
formatters:
  plain:
    format: "%(levelname)s %(name)s: %(message)s"
root:
  level: DEBUG
  handlers: [console]
"""


def upper_case_scheme(parent: Path, new_project, kedro, python):
    """`HTTP://SECRETTOKEN@127.0.0.1:<dead port>` (MLflow reads the scheme as http), the
    DEBUG log of everything on: a `kedro run`, a failing sync, `kedro metrics runs`."""
    from tests.servers import free_port

    project = new_project(parent)
    (project / "conf" / "local" / "metrics.yml").write_text("retry_seconds: 1\n")
    (project / "conf" / "logging.yml").write_text(DEBUG_LOGGING)
    env = {
        "MLFLOW_TRACKING_URI": f"HTTP://{UPPER_TOKEN}@127.0.0.1:{free_port()}",
        "MLFLOW_LOGGING_LEVEL": "DEBUG",
        "KEDRO_LOGGING_CONFIG": str(project / "conf" / "logging.yml"),
    }
    run = kedro(project, "run", "--pipelines", "small", env=env)
    sync = kedro(project, "metrics", "sync", env=env)
    runs = python(["-m", "kedro", "metrics", "runs"], cwd=project, env=env, timeout=120)
    spooled = [p.read_text() for p in (project / ".kedro_metrics" / "spool").glob("*.jsonl")]
    return run, sync, runs, spooled


class TestTokenAsUserNameWithAnUpperCaseScheme:
    def test_the_token_is_in_no_output_no_log_and_no_spool_file(self, scenarios):
        """The run is spooled, sync and `runs` fail naming `HTTP://***@127.0.0.1:<port>`;
        the token is in none of their stdout and stderr (DEBUG logs included) nor in
        the spool file."""
        run, sync, runs, spooled = scenarios["upper_case_scheme"]
        run.check()
        assert "DEBUG" in run.stderr, run.output  # the DEBUG log was on
        assert len(spooled) == 1 and '"tracking_uri":"HTTP://***@127.0.0.1:' in spooled[0]
        assert sync.returncode != 0, sync.output
        assert runs.returncode != 0, runs.output
        assert "HTTP://***@127.0.0.1:" in runs.stderr, runs.output
        for text in (run.output, sync.output, runs.output, *spooled):
            assert UPPER_TOKEN not in text
