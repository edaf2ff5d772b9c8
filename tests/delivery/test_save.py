"""delivery: write-ahead to the spool, send, mark delivered; an unavailable store keeps
the points spooled and the pipeline going; a store that refuses fails the save, as
without a spool. Against a real `mlflow server` on loopback and a closed port."""

from __future__ import annotations

import logging
import uuid

import pytest

from kedro_metrics import delivery, spool, store
from kedro_metrics.delivery import DeliveryPolicy
from kedro_metrics.errors import TrackingError
from kedro_metrics.points import MetricPoint
from kedro_metrics.store import failures as store_failures
from tests.fault_proxy import FaultProxy
from tests.servers import free_port

pytestmark = pytest.mark.server

POINTS = [
    MetricPoint("m.loss", float(step) / 2, step, 1_700_000_000_000 + step) for step in range(5)
]


@pytest.fixture
def retry_budget(monkeypatch):
    """A 1 s retry budget for this test only (what the hook gives a `kedro run`).

    Each request may take 10 s: the faults answer at once, and a loaded machine's
    server can take more than 1 s to store a batch the proxy lets pass, which a 1 s
    request timeout would turn into a lost answer."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    store.configure_retries(1.0)
    yield
    store_failures.retry_budget().seconds = None


def spooled_policy(tmp_path, uri: str, run_id: str, *, raises: bool = False) -> DeliveryPolicy:
    """The policy of a run on a remote store, spooled under ``tmp_path``."""
    target = spool.SpoolTarget(
        str(tmp_path / "spool"), spool.new_spool_id(), run_id, store.redact(uri) or ""
    )
    return DeliveryPolicy(run_id=run_id, raises=raises, spool=target)


def pending_in_files(target: spool.SpoolTarget) -> list:
    return [spool.read(path).pending for path in spool.spool_files(target.directory)]


@pytest.fixture
def deleted_run(mlflow_server) -> str:
    """A run of the server MLflow refuses to log to (deleted: not active)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    run_id = client.create_run(
        client.create_experiment(f"refused-{uuid.uuid4().hex[:8]}")
    ).info.run_id
    client.delete_run(run_id)
    return run_id


class TestSave:
    def test_delivered_points_leave_nothing_pending(self, tmp_path, mlflow_server):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_server.url)
        run_id = client.create_run(
            client.create_experiment(f"ok-{uuid.uuid4().hex[:8]}")
        ).info.run_id
        policy = spooled_policy(tmp_path, mlflow_server.url, run_id)
        target = policy.spool
        delivery.send_points(
            mlflow_server.url, POINTS, policy=policy, total=len(POINTS), asynchronous=False
        )
        history = client.get_metric_history(run_id, "m.loss")
        assert [(m.step, m.value, m.timestamp) for m in history] == [
            (p.step, p.value, p.timestamp) for p in POINTS
        ]
        assert pending_in_files(target) == [[]]
        spool.close_writer(target, remove=True)

    def test_a_one_request_save_of_a_kedro_run_pays_one_fsync(
        self, tmp_path, mlflow_server, monkeypatch
    ):
        """The hook opens the run's spool file when the run starts (delivery.open_spool);
        a save that fits one request then costs one fsync (its points record), and
        marking it delivered none."""
        import os

        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_server.url)
        run_id = client.create_run(
            client.create_experiment(f"fsync-{uuid.uuid4().hex[:8]}")
        ).info.run_id
        policy = spooled_policy(tmp_path, mlflow_server.url, run_id)
        delivery.open_spool(policy)
        fsyncs = []
        real_fsync = os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
        delivery.send_points(
            mlflow_server.url, POINTS, policy=policy, total=len(POINTS), asynchronous=False
        )
        monkeypatch.undo()
        assert len(fsyncs) == 1
        assert len(client.get_metric_history(run_id, "m.loss")) == len(POINTS)
        assert pending_in_files(policy.spool) == [[]]
        spool.close_writer(policy.spool, remove=True)

    def test_an_unavailable_store_keeps_the_points_and_warns_once(
        self, tmp_path, retry_budget, caplog
    ):
        """A closed port: both saves stay spooled, one warning names the count, the
        spool and the command; the second save only logs at DEBUG."""
        dead = f"http://127.0.0.1:{free_port()}"
        policy = spooled_policy(tmp_path, dead, "run-1")
        target = policy.spool
        with caplog.at_level(logging.DEBUG, logger="kedro_metrics"):
            delivery.send_points(dead, POINTS, policy=policy, total=len(POINTS), asynchronous=False)
            delivery.send_points(
                dead, POINTS[:2], policy=policy, total=len(POINTS[:2]), asynchronous=False
            )
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith(
            f"kedro-metrics: MLflow did not confirm the 5 point(s) of a save; they are in the spool "
            f"({target.directory}); `kedro metrics sync` delivers them. The pipeline goes on."
        )
        assert pending_in_files(target) == [[(1, 0, POINTS), (2, 0, POINTS[:2])]]
        spool.close_writer(target, remove=False)

    def test_an_unavailable_store_keeps_a_linked_saves_points_without_the_model(
        self, tmp_path, retry_budget, caplog
    ):
        """`model:` cannot be looked up in a store that does not answer: one warning,
        and the save's points are spooled as any save's, linked to their data."""
        from kedro_metrics.delivery.linking import LinkRequest
        from kedro_metrics.links import PointLink
        from kedro_metrics.points import validate

        dead = f"http://127.0.0.1:{free_port()}"
        policy = spooled_policy(tmp_path, dead, "run-1")
        validated = validate({"loss": 0.5}, prefix="m", key_problem=store.key_problem)
        linking = LinkRequest(("test_split", "0123456789abcdef"), "model")
        with caplog.at_level(logging.WARNING, logger="kedro_metrics"):
            delivery.save(validated, tracking_uri=dead, policy=policy, label="'m'", linking=linking)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings[0].startswith(
            "'m': the model 'model' could not be looked up, so its points go without that link: "
        )
        (path,) = spool.spool_files(policy.spool.directory)
        run = spool.read(path)
        assert [(p.key, p.value, p.step) for _, _, points in run.pending for p in points] == [
            ("m.loss", 0.5, 0)
        ]
        assert run.link_of(1) == PointLink("test_split", "0123456789abcdef")
        spool.close_writer(policy.spool, remove=False)

    def test_raise_mode_fails_the_save_and_says_how_much_was_written(self, tmp_path, retry_budget):
        dead = f"http://127.0.0.1:{free_port()}"
        policy = spooled_policy(tmp_path, dead, "run-1", raises=True)
        target = policy.spool
        with pytest.raises(TrackingError) as raised:
            delivery.send_points(dead, POINTS, policy=policy, total=len(POINTS), asynchronous=False)
        assert str(raised.value).startswith(
            f"0 of 5 points were confirmed before the failure; the other 5 are not confirmed "
            f"(they are kept in the spool ({target.directory}); `kedro metrics sync` delivers them)."
        )
        assert pending_in_files(target) == [[(1, 0, POINTS)]]
        spool.close_writer(target, remove=False)

    @pytest.mark.parametrize("mode", ["spool", "raise"])
    def test_a_save_that_fails_part_way_says_exactly_how_much_was_written(
        self, tmp_path, mlflow_server, retry_budget, caplog, mode
    ):
        """Two batches of 1,000: the first request passes, every later one gets a 503.
        The message counts what MLflow confirmed; the spool marks the confirmed batch
        (either one: both are in flight at once; a record each), so only the other
        is pending."""
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_server.url)
        run_id = client.create_run(
            client.create_experiment(f"part-{uuid.uuid4().hex[:8]}")
        ).info.run_id
        points = [MetricPoint("m.curve", step / 4, step, 1_700_000_000_000) for step in range(2000)]
        with FaultProxy(mlflow_server.url, ["pass"] + ["503"] * 1000) as proxy:
            policy = spooled_policy(tmp_path, proxy.url, run_id, raises=mode == "raise")
            target = policy.spool
            with caplog.at_level(logging.WARNING, logger="kedro_metrics"):
                if mode == "raise":
                    with pytest.raises(TrackingError) as raised:
                        delivery.send_points(
                            proxy.url, points, policy=policy, total=len(points), asynchronous=False
                        )
                    message = str(raised.value)
                else:
                    delivery.send_points(
                        proxy.url, points, policy=policy, total=len(points), asynchronous=False
                    )
                    (message,) = [
                        r.getMessage() for r in caplog.records if r.name.startswith("kedro_metrics")
                    ]
        where = f"the spool ({target.directory}); `kedro metrics sync` delivers them"
        expected = {
            "spool": f"kedro-metrics: 1,000 of 2,000 points were confirmed before the failure; the rest are in {where}. The pipeline goes on.",
            "raise": f"1,000 of 2,000 points were confirmed before the failure; the other 1,000 are not confirmed (they are kept in {where}).",
        }[mode]
        assert message.startswith(expected), message
        assert len(client.get_metric_history(run_id, "m.curve")) == 1000
        ((part,),) = pending_in_files(target)
        assert (part.seq, part.offset, part.points) in [
            (1, 0, points[:1000]),
            (2, 0, points[1000:]),
        ]
        spool.close_writer(target, remove=False)

    def test_a_refused_save_fails_and_is_not_resent(self, tmp_path, mlflow_server, deleted_run):
        """MLflow refuses points for a deleted run: the save raises (no spool
        failover), and the spool marks the save refused so sync never resends it."""
        policy = spooled_policy(tmp_path, mlflow_server.url, deleted_run)
        target = policy.spool
        with pytest.raises(TrackingError, match=f"Could not log metrics to run {deleted_run}"):
            delivery.send_points(
                mlflow_server.url, POINTS, policy=policy, total=len(POINTS), asynchronous=False
            )
        assert pending_in_files(target) == [[]]
        assert '"kind":"refused","seq":1' in spool.writer_for(target).path.read_text()
        spool.close_writer(target, remove=False)

    def test_a_refused_asynchronous_save_is_reported_by_flush(
        self, tmp_path, mlflow_server, deleted_run
    ):
        policy = spooled_policy(tmp_path, mlflow_server.url, deleted_run)
        target = policy.spool
        delivery.send_points(
            mlflow_server.url, POINTS, policy=policy, total=len(POINTS), asynchronous=True
        )
        with pytest.raises(TrackingError, match="1 asynchronous metric write"):
            store.flush()
        assert pending_in_files(target) == [[]]
        spool.close_writer(target, remove=False)


class TestCutAnswers:
    """A log_batch whose answer breaks off after its headers (IncompleteRead): MLflow
    stored the batch; it is sent again, and no message calls it unwritten."""

    def new_run(self, client):
        experiment = client.create_experiment(f"cut-{uuid.uuid4().hex[:8]}")
        return client.create_run(experiment).info.run_id

    def test_outside_kedro_run_a_cut_answer_is_retried(self, mlflow_server):
        """No retry budget configured (a script): MLflow does not retry a broken
        response, we do; every point lands exactly once."""
        from mlflow import MlflowClient

        assert store_failures.retry_budget().seconds is None
        client = MlflowClient(tracking_uri=mlflow_server.url)
        run_id = self.new_run(client)
        points = [
            MetricPoint("m.cut", float(step), step, 1_700_000_000_000) for step in range(5000)
        ]
        with FaultProxy(mlflow_server.url, ["pass", "cut_body"]) as proxy:
            assert store.log_points(proxy.url, run_id, points, total=5000) == 5000
            assert proxy.injected == ["pass", "cut_body"]
        history = client.get_metric_history(run_id, "m.cut")
        assert sorted(m.step for m in history) == list(range(5000))

    def test_a_cut_answer_that_keeps_failing_is_said_to_be_maybe_stored(
        self, tmp_path, mlflow_server, retry_budget, caplog
    ):
        """Within a 1 s budget every resend is cut too: the one warning counts the
        confirmed batch, says the cut one may be in MLflow, and says it once."""
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_server.url)
        run_id = self.new_run(client)
        points = [MetricPoint("m.cut", step / 4, step, 1_700_000_000_000) for step in range(2000)]
        with FaultProxy(mlflow_server.url, ["pass"] + ["cut_body"] * 1000) as proxy:
            policy = spooled_policy(tmp_path, proxy.url, run_id)
            with caplog.at_level(logging.WARNING, logger="kedro_metrics"):
                delivery.send_points(
                    proxy.url, points, policy=policy, total=len(points), asynchronous=False
                )
        (message,) = [r.getMessage() for r in caplog.records if r.name.startswith("kedro_metrics")]
        assert message.startswith(
            "kedro-metrics: 1,000 of 2,000 points were confirmed before the failure; the rest "
            "(1,000 of them were sent and their answer lost: MLflow may hold them, and "
            "delivering them again stores nothing twice) are in the spool"
        ), message
        assert message.count("confirmed before the failure") == 1, message
        assert len(client.get_metric_history(run_id, "m.cut")) == 2000  # the cut batch is stored
        # MLflow holds it, but no answer said so: it stays pending, for sync to send again
        ((part,),) = pending_in_files(policy.spool)
        assert (part.seq, part.offset, part.points) in [
            (1, 0, points[:1000]),
            (2, 0, points[1000:]),
        ]
        spool.close_writer(policy.spool, remove=False)


SCRIPT = """
import mlflow
from kedro_metrics import MlflowMetricsDataSet
run_id = {run_id!r}
MlflowMetricsDataSet(prefix="m", run_id=run_id).save({{"a": 1.0, "b": [1.0, 2.0]}})
MlflowMetricsDataSet(prefix="n", run_id=run_id, async_logging=True).save({{"c": 3.0}})
"""


class TestScriptSpools:
    """A script saving to a server with a run id of its own leaves no spool file once
    MLflow confirmed everything; what it could not deliver stays for sync."""

    def run_script(self, tmp_path, uri, run_id, **env):
        import subprocess
        import sys

        from tests.e2e.conftest import subprocess_env

        done = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(run_id=run_id)], cwd=tmp_path,
            env=subprocess_env({"MLFLOW_TRACKING_URI": uri, **env}), capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        return done, sorted(p.name for p in (tmp_path / ".kedro_metrics" / "spool").glob("*"))

    def test_delivered_saves_leave_nothing(self, tmp_path, mlflow_server):
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=mlflow_server.url)
        run_id = client.create_run("0").info.run_id
        done, left = self.run_script(tmp_path, mlflow_server.url, run_id)
        assert done.returncode == 0, done.stderr
        assert left == []
        assert sorted(client.get_run(run_id).data.metrics) == ["m.a", "m.b", "n.c"]

    def test_undelivered_saves_stay_spooled(self, tmp_path):
        dead = f"http://127.0.0.1:{free_port()}"
        run_id = "0123456789abcdef0123456789abcdef"
        done, left = self.run_script(tmp_path, dead, run_id, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
        assert done.returncode != 0  # the first save raises outside `kedro run`
        assert [name.split(".")[0] for name in left] == [f"run-{run_id}"], left
        (path,) = (tmp_path / ".kedro_metrics" / "spool").glob("*.jsonl")
        assert spool.read(path).pending_points == 3  # the first save, whole
