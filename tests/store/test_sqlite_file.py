"""A sqlite store whose file is not a database (issue 19): a directory, a file of
another kind, a database cut short. MLflow would retry opening it for about 100 s
and then print a traceback; the store says what is wrong with which file at once.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from kedro_metrics import store
from kedro_metrics.errors import StoreUnavailableError, TrackingError

DIRECTORY = "{path} is a directory, not an sqlite database"
DAMAGED = "{path} is not an sqlite database (file is damaged or not sqlite)"


def store_error(uri: str, problem: str) -> str:
    return (
        f"Could not open the MLflow store at {uri}: {problem}. Move it away (MLflow "
        "creates a new database where there is none), or set metrics.yml `tracking_uri` "
        "/ MLFLOW_TRACKING_URI to another store."
    )


@pytest.fixture
def no_retry_loop(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause a retry loop would take (MLflow's engine creation, ours): the
    first one raises, so a test that enters a retry loop fails at once."""
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        raise AssertionError(f"a retry loop was entered (a pause of {seconds} s)")

    monkeypatch.setattr(time, "sleep", pause)
    return pauses


def damaged_copies(template: Path, folder: Path) -> dict[str, Path]:
    """Files that are not usable sqlite databases, each named after what is wrong."""
    data = template.read_bytes()
    files = {
        "text": b"not a database\n" * 100,
        "header only": data[:16],
        "cut in its header": data[:60],
        "cut to half": data[: len(data) // 2],
        "cut off a page": data[:-100],
        "header zeroed": b"\x00" * 16 + data[16:],
    }
    paths = {}
    for name, content in files.items():
        path = folder / f"{name.replace(' ', '-')}.db"
        path.write_bytes(content)
        paths[name] = path
    return paths


class TestSqliteFileProblem:
    """store.sqlite_file_problem: pure, a few bytes read, no MLflow."""

    def test_directory(self, tmp_path):
        (tmp_path / "mlflow.db").mkdir()
        problem = store.sqlite_file_problem(f"sqlite:///{tmp_path}/mlflow.db")
        assert problem == DIRECTORY.format(path=tmp_path / "mlflow.db")

    def test_damaged_or_other_files(self, sqlite_template, tmp_path):
        found = {
            name: store.sqlite_file_problem(f"sqlite:///{path}")
            for name, path in damaged_copies(sqlite_template, tmp_path).items()
        }
        assert found == {
            name: DAMAGED.format(path=tmp_path / f"{name.replace(' ', '-')}.db") for name in found
        }

    def test_relative_path_is_read_from_the_working_directory(self, tmp_path, monkeypatch):
        (tmp_path / "mlflow.db").mkdir()
        monkeypatch.chdir(tmp_path)
        problem = store.sqlite_file_problem("sqlite:///mlflow.db")
        assert problem == DIRECTORY.format(path=tmp_path / "mlflow.db")

    def test_usable_files_and_other_stores_have_no_problem(self, sqlite_template, tmp_path):
        (tmp_path / "empty.db").touch()
        uris = [
            f"sqlite:///{sqlite_template}",  # a database
            f"sqlite:///{tmp_path}/empty.db",  # MLflow creates the database in it
            f"sqlite:///{tmp_path}/missing.db",  # and here
            f"sqlite:///{sqlite_template}?timeout=5",
            "sqlite://",
            "sqlite:///:memory:",
            "http://127.0.0.1:5000",
            str(tmp_path),  # a file store: a directory is what it is
        ]
        assert {uri: store.sqlite_file_problem(uri) for uri in uris} == dict.fromkeys(uris)

    def test_a_database_being_written_is_left_to_sqlite(self, sqlite_template, tmp_path):
        """A half-written file next to its journal is a transaction under way."""
        path = tmp_path / "mlflow.db"
        path.write_bytes(sqlite_template.read_bytes()[:4096])
        Path(f"{path}-journal").touch()
        assert store.sqlite_file_problem(f"sqlite:///{path}") is None


class TestStoreFailsFast:
    """The store's functions raise one TrackingError naming the file, without
    entering MLflow's retry loop (nor ours: it is not a passing failure)."""

    def test_directory(self, tmp_path, no_retry_loop):
        (tmp_path / "mlflow.db").mkdir()
        uri = f"sqlite:///{tmp_path}/mlflow.db"
        with pytest.raises(TrackingError) as raised:
            store.search_runs(uri, experiment_ids=["0"])
        assert str(raised.value) == store_error(uri, DIRECTORY.format(path=tmp_path / "mlflow.db"))
        assert not isinstance(raised.value, StoreUnavailableError)
        assert no_retry_loop == []

    def test_damaged_file(self, sqlite_template, tmp_path, no_retry_loop):
        path = tmp_path / "mlflow.db"
        path.write_bytes(sqlite_template.read_bytes()[:5000])
        uri = f"sqlite:///{path}"
        with pytest.raises(TrackingError) as raised:
            store.ensure_experiment(uri, "project")
        assert str(raised.value) == store_error(uri, DAMAGED.format(path=path))
        assert no_retry_loop == []

    def test_the_store_works_once_the_file_is_fixed(self, sqlite_template, tmp_path):
        """Nothing is cached from the failure."""
        path = tmp_path / "mlflow.db"
        path.mkdir()
        uri = f"sqlite:///{path}"
        with pytest.raises(TrackingError):
            store.client_for(uri)
        path.rmdir()
        shutil.copyfile(sqlite_template, path)
        assert store.ensure_experiment(uri, "Default") == "0"
