"""A project whose sqlite store is not a database (issue 19): `mlflow.db` a directory,
or a damaged file. `kedro metrics runs` and `kedro run` say which file and what is
wrong in one line, without MLflow's minute and a half of retries."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import metrics_in_process

pytestmark = pytest.mark.e2e

#: What MLflow logs before each pause of its retry loop when opening a store.
MLFLOW_RETRY_LOG = "SQLAlchemy engine could not be created"


def store_error(path, problem: str) -> str:
    return (
        f"Could not open the MLflow store at sqlite:///{path}: {path} {problem}. Move it "
        "away (MLflow creates a new database where there is none), or set metrics.yml "
        "`tracking_uri` / MLFLOW_TRACKING_URI to another store."
    )


@pytest.fixture
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A pause (a retry loop entered, MLflow's or ours) fails the command at once."""
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        raise AssertionError(f"a retry loop was entered (a pause of {seconds} s)")

    monkeypatch.setattr(time, "sleep", pause)
    return pauses


def test_runs_when_the_store_is_a_directory(project, no_pauses):
    (project / "mlflow.db").mkdir()
    result = metrics_in_process(project, "runs")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert (
        result.stderr
        == "Error: "
        + store_error(project / "mlflow.db", "is a directory, not an sqlite database")
        + "\n"
    )
    assert no_pauses == []


def test_runs_when_the_store_is_damaged(project, seed_store, no_pauses):
    path = seed_store(project / "mlflow.db")
    path.write_bytes(path.read_bytes()[:10_000])  # cut short
    result = metrics_in_process(project, "runs", "--format", "json")
    assert (result.returncode, result.stdout) == (1, "")
    assert (
        result.stderr
        == "Error: "
        + store_error(path, "is not an sqlite database (file is damaged or not sqlite)")
        + "\n"
    )
    assert no_pauses == []


#: How each kind of bad store is made, and what the error says of it.
BAD_STORES = {
    "directory": "is a directory, not an sqlite database",
    "damaged": "is not an sqlite database (file is damaged or not sqlite)",
}


@pytest.fixture(scope="module", params=list(BAD_STORES))
def run_on_a_bad_store(request, tmp_path_factory, new_project, kedro, seed_store):
    """`kedro run` where mlflow.db is a directory, or a migrated store cut short."""
    project = new_project(tmp_path_factory.mktemp(f"{request.param}-store"), store=False)
    path = project / "mlflow.db"
    if request.param == "directory":
        path.mkdir()
    else:
        seed_store(path).write_bytes(path.read_bytes()[:10_000])
    before = sorted(path.iterdir()) if path.is_dir() else path.read_bytes()
    result = kedro(project, "run", "--pipelines", "small")
    after = sorted(path.iterdir()) if path.is_dir() else path.read_bytes()
    return project, result, BAD_STORES[request.param], before == after


class TestKedroRunOnABadStore:
    def test_fails_naming_the_file(self, run_on_a_bad_store):
        project, result, problem, _ = run_on_a_bad_store
        assert result.returncode == 1, result.output
        assert store_error(project / "mlflow.db", problem) in result.stderr, result.output

    def test_in_one_line_without_a_traceback(self, run_on_a_bad_store):
        """The hook refuses the run before it exists: click's one `Error:` line."""
        _, result, _, _ = run_on_a_bad_store
        assert "Traceback" not in result.stdout + result.stderr, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, result.output
        assert errors == [result.stderr.strip().splitlines()[-1]], result.output

    def test_mlflow_never_retried(self, run_on_a_bad_store):
        _, result, _, _ = run_on_a_bad_store
        assert MLFLOW_RETRY_LOG not in result.stdout + result.stderr, result.output

    def test_the_store_is_left_as_it_was(self, run_on_a_bad_store):
        """Nothing is written into the directory, nor to the damaged file."""
        assert run_on_a_bad_store[3] is True
