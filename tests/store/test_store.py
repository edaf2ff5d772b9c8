"""kedro_metrics.store: MLflow key rules, credential redaction, batching, and real
reads/writes/run lifecycle against a sqlite store (and the servers where noted)."""

from __future__ import annotations

import math

import pytest
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.protos.service_pb2 import LogBatch
from mlflow.utils.proto_json_utils import message_to_json
from mlflow.utils.validation import MAX_BATCH_LOG_REQUEST_SIZE, MAX_METRICS_PER_BATCH

from kedro_metrics import store
from kedro_metrics.errors import KedroMetricsError, NoRunError, TrackingError
from kedro_metrics.points import MetricPoint
from tests.servers import free_port

TS = 1_700_000_000_000
SQLITE_ONLY = pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)


def request_body_size(batch) -> int:
    """Bytes of the JSON body MLflow's REST store sends for this batch."""
    run_id = "f" * 32
    return len(message_to_json(LogBatch(run_id=run_id, metrics=[m.to_proto() for m in batch])))


def stored(uri: str, run_id: str, key: str) -> list[tuple[float, int, int]]:
    """(value, step, timestamp) of a metric as MLflow itself returns it, by step."""
    history = MlflowClient(tracking_uri=uri).get_metric_history(run_id, key)
    return sorted((m.value, m.step, m.timestamp) for m in history)


class TestKeyProblem:
    """store.key_problem applies MLflow's own rules for metric names."""

    @pytest.mark.parametrize(
        "key",
        ["accuracy", "model.accuracy", "val/loss", "a b:c-d_e.f", "x" * 250, "é"],
    )
    def test_accepts_keys_mlflow_accepts(self, key):
        """A key MLflow accepts has no problem."""
        assert store.key_problem(key) is None

    @pytest.mark.parametrize(
        ("key", "fragment"),
        [
            ("bad!", "may only contain alphanumerics"),
            ("a$b", "may only contain alphanumerics"),
            ("../x", "must not resolve to other names"),
            ("/x", "must not resolve to other names"),
            ("x/../y", "must not resolve to other names"),
            ("a//b", "must not resolve to other names"),
            ("x" * 251, "exceeds the maximum length of 250"),
        ],
    )
    def test_rejects_keys_mlflow_rejects(self, key, fragment):
        """A key MLflow refuses gets MLflow's reason."""
        problem = store.key_problem(key)
        assert problem is not None
        assert fragment in problem


class TestRedact:
    """store.redact hides the secret of a URI's user-info and nothing else (every
    scheme and user-info form: tests/store/test_redact.py)."""

    @pytest.mark.parametrize(
        ("uri", "expected"),
        [
            ("http://user:secret@127.0.0.1:5000", "http://user:***@127.0.0.1:5000"),
            (
                "https://user:secret@mlflow.example.com/path?x=1",
                "https://user:***@mlflow.example.com/path?x=1",
            ),
            (
                "postgresql+psycopg2://postgres:se%40cret@db:5432/mlflow",
                "postgresql+psycopg2://postgres:***@db:5432/mlflow",
            ),
            ("https://user:p@ss@host/x", "https://user:***@host/x"),
        ],
    )
    def test_replaces_the_password_and_keeps_the_user(self, uri, expected):
        """The password becomes *** and the user, host, path and query stay."""
        assert store.redact(uri) == expected

    def test_hides_a_token_given_as_a_servers_user_name(self):
        """A tracking server's user name without a password is a token: ***."""
        assert (
            store.redact("https://TOKEN123@mlflow.example.com/x")
            == "https://***@mlflow.example.com/x"
        )

    @pytest.mark.parametrize(
        "uri",
        [
            "http://127.0.0.1:5000",
            "databricks",
            "file:///tmp/mlruns",
            "sqlite:////tmp/some dir/mlflow.db",
            "sqlite:///relative/a:b@c.db",
            "",
            None,
        ],
    )
    def test_leaves_uris_without_a_password_unchanged(self, uri):
        """URIs without user-info (including sqlite paths with "@") come back unchanged."""
        assert store.redact(uri) == uri


class TestBatches:
    """store.batches respects MLflow's per-request limits: 1,000 metrics and 1 MB."""

    def test_splits_by_the_count_limit(self):
        """2,500 points go out as 1,000 + 1,000 + 500, in input order."""
        points = [MetricPoint(f"m{i % 7}", float(i), i, 1) for i in range(2500)]
        chunks = list(store.batches(points))
        assert [len(c) for c in chunks] == [1000, 1000, 500]
        assert MAX_METRICS_PER_BATCH == 1000
        flat = [m for chunk in chunks for m in chunk]
        assert [(m.key, m.value, m.step, m.timestamp) for m in flat] == [
            (p.key, p.value, p.step, p.timestamp) for p in points
        ]

    def test_no_points_no_batches(self):
        """Nothing to log means no request at all."""
        assert list(store.batches([])) == []

    def test_longest_keys_stay_within_the_request_size_limit(self):
        """250-character keys with widest values, steps and timestamps fit in 1 MB per request."""
        points = [
            MetricPoint(f"{i:04d}" + "k" * 246, -1.2345678901234567e-300, -(2**63), 2**63 - 1)
            for i in range(2500)
        ]
        chunks = list(store.batches(points))
        assert sum(map(len, chunks)) == 2500
        assert all(len(c) <= MAX_METRICS_PER_BATCH for c in chunks)
        assert all(request_body_size(c) <= MAX_BATCH_LOG_REQUEST_SIZE for c in chunks)

    def test_size_budget_splits_before_the_count_limit(self):
        """When keys are long enough that 1,000 would exceed 1 MB, batches get smaller."""
        points = [MetricPoint("k" * 4000, 1.5, i, 1) for i in range(1000)]
        chunks = list(store.batches(points))
        assert len(chunks) > 1
        assert sum(map(len, chunks)) == 1000
        assert all(request_body_size(c) <= MAX_BATCH_LOG_REQUEST_SIZE for c in chunks)


class TestRoundTrip:
    """log_points / read_points / read_history / metric_keys against a real store."""

    @SQLITE_ONLY
    def test_log_then_read_back_exactly(self, store_uri, run_id):
        """What log_points writes, read_history/read_points/metric_keys return exactly."""
        points = [
            MetricPoint("model.acc", 0.5, 0, 1000),
            MetricPoint("model.acc", 0.75, 1, 2000),
            MetricPoint("model.loss", math.nan, 3, 3000),
            MetricPoint("model_2.acc", 9.0, 0, 4000),
            MetricPoint("other", -1.0, -5, 5000),
        ]
        assert store.log_points(store_uri, run_id, points) == 5

        assert store.metric_keys(store_uri, run_id) == [
            "model.acc",
            "model.loss",
            "model_2.acc",
            "other",
        ]
        assert sorted(store.read_history(store_uri, run_id, "model.acc"), key=_order) == [
            MetricPoint("model.acc", 0.5, 0, 1000),
            MetricPoint("model.acc", 0.75, 1, 2000),
        ]
        (loss,) = store.read_history(store_uri, run_id, "model.loss")
        assert (loss.key, loss.step, loss.timestamp) == ("model.loss", 3, 3000)
        assert math.isnan(loss.value)

        under_model = sorted(store.read_points(store_uri, run_id, "model"), key=_order)
        assert [(p.key, p.step) for p in under_model] == [
            ("model.acc", 0),
            ("model.acc", 1),
            ("model.loss", 3),
        ]
        everything = store.read_points(store_uri, run_id, "")
        assert len(everything) == 5
        assert {p.key for p in everything} == {"model.acc", "model.loss", "model_2.acc", "other"}

    @SQLITE_ONLY
    def test_reading_an_unknown_metric_gives_an_empty_history(self, store_uri, run_id):
        """A key the run does not hold has no points."""
        assert store.read_history(store_uri, run_id, "nope") == []
        assert store.metric_keys(store_uri, run_id) == []
        assert store.read_points(store_uri, run_id, "") == []

    def test_long_keys_in_many_batches_land_completely(self, store_uri, run_id):
        """2,500 points under 250-character keys are all stored, on every kind of store."""
        keys = [f"{i}" + "k" * 249 for i in range(5)]
        points = [MetricPoint(keys[i % 5], float(i), i // 5, TS) for i in range(2500)]
        assert store.log_points(store_uri, run_id, points) == 2500
        assert store.metric_keys(store_uri, run_id) == sorted(keys)
        for index, key in enumerate(keys):
            assert stored(store_uri, run_id, key) == [
                (float(step * 5 + index), step, TS) for step in range(500)
            ]

    @SQLITE_ONLY
    def test_logging_to_a_missing_run_is_a_tracking_error(self, store_uri):
        """Logging to a run that does not exist names the run and the store."""
        with pytest.raises(TrackingError) as caught:
            store.log_points(store_uri, "0" * 32, [MetricPoint("a", 1.0, 0, 1)])
        message = str(caught.value)
        assert "0" * 32 in message
        assert store_uri in message


def _order(point: MetricPoint) -> tuple[int, int]:
    return (point.step, point.timestamp)


@SQLITE_ONLY
class TestRunLifecycle:
    """Experiments and runs as the hook uses them."""

    def test_ensure_experiment_is_idempotent(self, store_uri):
        """The experiment is created once; asking again returns the same id."""
        first = store.ensure_experiment(store_uri, "my_project")
        second = store.ensure_experiment(store_uri, "my_project")
        assert first == second
        client = MlflowClient(tracking_uri=store_uri)
        names = [e.name for e in client.search_experiments()]
        assert names.count("my_project") == 1
        assert client.get_experiment(first).name == "my_project"

    def test_start_run_creates_a_running_run_with_name_and_tags(self, store_uri):
        """start_run returns a RUNNING run carrying the given name and tags."""
        experiment_id = store.ensure_experiment(store_uri, "lifecycle")
        run_id = store.start_run(store_uri, experiment_id, "__default__", {"kedro.env": "local"})
        run = MlflowClient(tracking_uri=store_uri).get_run(run_id)
        assert run.info.status == "RUNNING"
        assert run.info.experiment_id == experiment_id
        assert run.info.run_name == "__default__"
        assert run.data.tags["kedro.env"] == "local"
        assert run.data.metrics == {}

    def test_start_run_at_the_time_given(self, store_uri):
        """The hook names a run after its start time and gives the store that time."""
        experiment_id = store.ensure_experiment(store_uri, "lifecycle")
        run_id = store.start_run(store_uri, experiment_id, "run", {}, start_time=TS + 1234)
        assert MlflowClient(tracking_uri=store_uri).get_run(run_id).info.start_time == TS + 1234

    @pytest.mark.parametrize(("failed", "status"), [(False, "FINISHED"), (True, "FAILED")])
    def test_end_run_sets_the_status(self, store_uri, failed, status):
        """end_run marks the run FINISHED, or FAILED when asked, with an end time."""
        experiment_id = store.ensure_experiment(store_uri, "lifecycle")
        run_id = store.start_run(store_uri, experiment_id, "run", {})
        store.end_run(store_uri, run_id, failed=failed)
        info = MlflowClient(tracking_uri=store_uri).get_run(run_id).info
        assert (
            info.status
            == status
            == RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
        )
        assert info.end_time is not None

    def test_check_run_accepts_an_existing_run(self, store_uri, run_id):
        """check_run is silent for a run that exists."""
        assert store.check_run(store_uri, run_id) is None

    def test_check_run_on_a_missing_run_names_the_run(self, store_uri):
        """check_run raises NoRunError naming the run that is not there."""
        missing = "abcdef0123456789abcdef0123456789"
        with pytest.raises(NoRunError) as caught:
            store.check_run(store_uri, missing)
        assert missing in str(caught.value)


class TestServerDown:
    """A tracking server that does not answer gives a TrackingError naming it, without
    its credentials."""

    @pytest.fixture
    def dead_server_uri(self, monkeypatch):
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        return f"http://user:secret@127.0.0.1:{free_port()}"

    @pytest.mark.parametrize(
        "call",
        [
            pytest.param(
                lambda uri: store.log_points(uri, "r" * 32, [MetricPoint("a", 1.0, 0, 1)]),
                id="log_points",
            ),
            pytest.param(lambda uri: store.metric_keys(uri, "r" * 32), id="metric_keys"),
            pytest.param(lambda uri: store.read_history(uri, "r" * 32, "a"), id="read_history"),
            pytest.param(lambda uri: store.ensure_experiment(uri, "e"), id="ensure_experiment"),
            pytest.param(lambda uri: store.start_run(uri, "0", "run", {}), id="start_run"),
            pytest.param(lambda uri: store.end_run(uri, "r" * 32, failed=False), id="end_run"),
        ],
    )
    def test_error_names_the_server_without_credentials(self, dead_server_uri, call):
        """The TrackingError names the server (user kept, password hidden) and what to do."""
        with pytest.raises(TrackingError) as caught:
            call(dead_server_uri)
        message = str(caught.value)
        assert "secret" not in message
        assert "127.0.0.1" in message
        assert "user:***@127.0.0.1" in message

    def test_check_run_against_a_dead_server_is_a_tracking_error_without_credentials(
        self, dead_server_uri
    ):
        """check_run on a dead server: TrackingError (not "run not found"), password hidden."""
        with pytest.raises(KedroMetricsError) as caught:
            store.check_run(dead_server_uri, "r" * 32)
        message = str(caught.value)
        assert "secret" not in message
        assert "user:***@127.0.0.1" in message
        assert isinstance(caught.value, TrackingError), type(caught.value).__name__


def save_into_a_locked_file(uri: str) -> dict[str, object]:
    """Another writer holds the sqlite file past MLflow's 20 s busy timeout while
    ``store.log_points`` saves 1,500 points; what it returned, what MLflow logged in
    this thread, and what the store then holds."""
    import logging
    import sqlite3
    import threading

    path = uri.removeprefix("sqlite:///")
    run_id = MlflowClient(tracking_uri=uri).create_run("0").info.run_id
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(60)
        connection.execute("COMMIT")
        connection.close()

    logged: list[str] = []
    this_thread = threading.get_ident()

    class InThisThread(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == this_thread:
                logged.append(logging.Formatter().format(record))

    handler = InThisThread()
    loggers = [logging.getLogger(), logging.getLogger("mlflow")]  # MLflow's does not propagate
    for logger in loggers:
        logger.addHandler(handler)
    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        threading.Timer(22, release.set).start()  # past the 20 s busy timeout
        points = [MetricPoint("locked.loss", float(step), step, 1) for step in range(1500)]
        written = store.log_points(uri, run_id, points)
    finally:
        release.set()
        holder.join()
        for logger in loggers:
            logger.removeHandler(handler)
    return {
        "written": written,
        "logged": "\n".join(logged),
        "stored": stored(uri, run_id, "locked.loss"),
    }


@pytest.fixture(scope="module", autouse=True)
def locked_save(sqlite_template, tmp_path_factory):
    """The locked-file save waits 22 s and does little else: it starts with the module,
    in a thread, and waits while the module's other tests run (on other stores)."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path_factory.mktemp("locked") / "mlflow.db"
    shutil.copyfile(sqlite_template, path)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="locked-save") as pool:
        yield pool.submit(save_into_a_locked_file, f"sqlite:///{path}")


class TestDatabaseLocked:
    def test_save_waits_out_a_locked_sqlite_file_and_loses_nothing(self, locked_save):
        """Another writer holding the sqlite file past MLflow's 20 s busy timeout makes
        MLflow fail with "database is locked"; the batch is retried and every point lands."""
        result = locked_save.result(timeout=120)
        assert result["written"] == 1500
        assert "database is locked" in result["logged"]  # MLflow did fail once, and we retried
        assert result["stored"] == [(float(step), step, 1) for step in range(1500)]


class TestLogParams:
    """store.log_params: 100 params per request, conflicts on reused runs reported."""

    def test_fresh_run_gets_every_param(self, store_uri, run_id):
        """250 params land exactly, without reading the run first."""
        params = {f"p{i:03d}": str(i) for i in range(250)}
        assert store.log_params(store_uri, run_id, params, fresh=True) == {}
        assert MlflowClient(tracking_uri=store_uri).get_run(run_id).data.params == params

    def test_reused_run_keeps_its_values_and_reports_conflicts(self, store_uri, run_id):
        """Equal params are not sent again; a different value is kept and reported."""
        client = MlflowClient(tracking_uri=store_uri)
        client.log_param(run_id, "same", "1")
        client.log_param(run_id, "seed", "99")
        conflicts = store.log_params(store_uri, run_id, {"same": "1", "seed": "3", "new": "x"})
        assert conflicts == {"seed": "99"}
        assert client.get_run(run_id).data.params == {"same": "1", "seed": "99", "new": "x"}

    @pytest.mark.parametrize("store_kind", ["server"], indirect=True)
    def test_250_params_cost_3_requests(self, store_uri, store_server, run_id):
        """MLflow's 100-params-per-request limit: 250 params, 3 log-batch requests."""
        from tests.io.test_datasets import settled_requests

        before = len(settled_requests(store_server, "/runs/log-batch"))
        store.log_params(store_uri, run_id, {f"p{i}": "v" for i in range(250)}, fresh=True)
        assert len(settled_requests(store_server, "/runs/log-batch")) - before == 3


class TestNonMetricValues:
    """Tags and params of non_numeric, and the highest steps of steps=continue."""

    def test_log_and_read_values_under_a_prefix(self, store_uri, run_id):
        """read_values returns the tags (or params) under the prefix only."""
        store.log_values(store_uri, run_id, tags={"m.a": "x", "other.b": "y"}, params={"m.c": "z"})
        assert store.read_values(store_uri, run_id, "m", "tag") == {"m.a": "x"}
        assert store.read_values(store_uri, run_id, "m", "param") == {"m.c": "z"}

    def test_standard_tag_names_are_mlflows(self):
        """The tag names come from mlflow.utils.mlflow_tags."""
        from mlflow.utils import mlflow_tags

        names = store.STANDARD_TAG_NAMES
        assert (
            names.user,
            names.source_name,
            names.source_type,
            names.git_commit,
            names.git_branch,
        ) == (
            mlflow_tags.MLFLOW_USER,
            mlflow_tags.MLFLOW_SOURCE_NAME,
            mlflow_tags.MLFLOW_SOURCE_TYPE,
            mlflow_tags.MLFLOW_GIT_COMMIT,
            mlflow_tags.MLFLOW_GIT_BRANCH,
        )
