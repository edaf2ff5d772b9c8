"""``delivery.sync`` against a real `mlflow server`: damaged, foreign and odd spool
files are reported, kept and never stop the good ones; large saves resume after
the last confirmed batch; a deadline stops between batches. Every point counted
in the store afterwards."""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from kedro_metrics import delivery, spool, store
from kedro_metrics.points import MetricPoint
from kedro_metrics.spool.lines import encode
from tests.benchmarks.latency_proxy import LatencyProxy

pytestmark = pytest.mark.server

GOOD = [MetricPoint("m.loss", 0.2, 0, 1), MetricPoint("m.loss", 0.1, 1, 2)]
OTHER = [MetricPoint("m.acc", 0.9, 0, 3), MetricPoint("m.acc", 0.8, 1, 4)]


@pytest.fixture
def client(mlflow_server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server.url)


@pytest.fixture
def new_run(client):
    experiment = client.create_experiment(f"sync-{uuid.uuid4().hex[:8]}")
    return lambda: client.create_run(experiment).info.run_id


def spooled(directory: Path, uri: str, run_id: str, *saves: list[MetricPoint]) -> Path:
    """A spool file as a killed `kedro run` leaves it: header, saves, no end, unlocked."""
    target = spool.SpoolTarget(
        str(directory), spool.new_spool_id(), run_id, store.redact(uri) or "",
        owner_pid=os.getpid(),
    )  # fmt: skip
    writer = spool.writer_for(target)
    for points in saves:
        writer.add_points(points)
    spool.close_writer(target, remove=False)
    return writer.path


def stored(client, run_id: str) -> dict[str, list[tuple[int, float]]]:
    run = client.get_run(run_id)
    return {
        key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        for key in sorted(run.data.metrics)
    }


def history(points: list[MetricPoint]) -> list[tuple[int, float]]:
    return [(p.step, p.value) for p in points]


class TestDamagedRecords:
    """Only a torn last line may be skipped; any other damage is reported, and the
    file is kept aside."""

    @pytest.mark.parametrize(
        ("old", "new"),
        [(b'"m.loss",0.2', b'"m.loss",0.7'), (b'"m.loss"', b'"m.\xffoss"')],
        ids=["changed-digit", "non-utf8-key"],
    )
    def test_the_rest_is_delivered_the_damage_reported_and_the_file_kept(
        self, tmp_path, mlflow_server, client, new_run, old, new
    ):
        run_id = new_run()
        path = spooled(tmp_path, mlflow_server.url, run_id, GOOD, OTHER)
        path.write_bytes(path.read_bytes().replace(old, new, 1))
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        aside = f"{path.name}.damaged"
        assert report.damaged == {aside: 1}
        assert report.problems == [
            f"{aside}: 1 record(s) could not be read (damaged); the rest was delivered and "
            "the file is kept under this name"
        ]
        assert (report.points_delivered, report.runs_ended) == (2, {run_id: "KILLED"})
        assert stored(client, run_id) == {"m.acc": history(OTHER)}
        assert (tmp_path / aside).exists() and not path.exists()
        assert spool.spool_files(tmp_path) == []

    def test_a_torn_last_line_is_not_damage(self, tmp_path, mlflow_server, client, new_run):
        run_id = new_run()
        path = spooled(tmp_path, mlflow_server.url, run_id, GOOD)
        with path.open("ab") as handle:
            handle.write(encode({"kind": "points", "seq": 2, "points": [["m.x", 1.0, 0, 1]]})[:20])
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert (report.problems, report.runs_delivered) == ([], 1)
        assert stored(client, run_id) == {"m.loss": history(GOOD)}
        assert list(tmp_path.iterdir()) == [tmp_path / spool.SYNC_LOCK]

    @pytest.mark.parametrize(
        "line",
        [b"[1,2,3]", b"42", encode({"kind": "points", "points": [["m.x", 1.0, 0, 1]]})[:-1],
         encode({"kind": "points", "seq": 3, "points": [["m.x", 1.0, 0, 1, 7]]})[:-1]],
        ids=["list", "number", "points-without-seq", "row-with-extra-column"],
    )  # fmt: skip
    def test_an_odd_record_is_damage_and_other_files_still_go(
        self, tmp_path, mlflow_server, client, new_run, line
    ):
        bad_run, good_run = new_run(), new_run()
        bad = spooled(tmp_path, mlflow_server.url, bad_run, GOOD)
        with bad.open("ab") as handle:
            handle.write(line + b"\n")
        spooled(tmp_path, mlflow_server.url, good_run, OTHER)
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert report.damaged == {f"{bad.name}.damaged": 1}
        assert (report.points_delivered, report.runs_delivered) == (4, 1)
        assert stored(client, bad_run) == {"m.loss": history(GOOD)}
        assert stored(client, good_run) == {"m.acc": history(OTHER)}


class TestForeignFiles:
    """A file of another format, or with a record kind this version does not know,
    is refused whole and kept exactly as it is."""

    @pytest.mark.parametrize(
        ("header", "extra", "why"),
        [
            ({"format": 3}, None, "it is in spool format 3"),
            ({}, {"kind": "checkpoint", "seq": 9}, "it holds a record of kind 'checkpoint'"),
        ],
        ids=["format-3", "unknown-kind"],
    )
    def test_refused_and_kept(self, tmp_path, mlflow_server, client, new_run, header, extra, why):
        run_id = new_run()
        target = spool.SpoolTarget(str(tmp_path), "f1", run_id, mlflow_server.url, owner_pid=1)
        records = [{**target.header(), **header}, {"kind": "points", "seq": 1, "points": [
            ["m.loss", 0.5, 0, 1]]}, *([extra] if extra else [])]  # fmt: skip
        path = tmp_path / "f1.1.jsonl"
        path.write_bytes(b"".join(encode(record) for record in records))
        before = path.read_bytes()
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert report.problems == [
            f"{path.name}: not delivered, {why}, which this version of kedro-metrics cannot "
            "read; it is kept as it is"
        ]
        assert (report.points_delivered, report.runs_ended) == (0, {})
        assert path.read_bytes() == before
        assert stored(client, run_id) == {}
        assert client.get_run(run_id).info.status == "RUNNING"


class TestOddEntries:
    """Only regular files are opened: a FIFO, a directory or a link named like a
    spool file is reported and skipped, and never hangs sync."""

    def test_skipped_reported_and_the_good_file_delivered(
        self, tmp_path, mlflow_server, client, new_run
    ):
        run_id = new_run()
        spooled(tmp_path, mlflow_server.url, run_id, GOOD)
        os.mkfifo(tmp_path / "fifo.jsonl")
        (tmp_path / "folder.jsonl").mkdir()
        (tmp_path / "link.jsonl").symlink_to(tmp_path / "nowhere")
        done: list[delivery.SyncReport] = []
        worker = threading.Thread(
            target=lambda: done.append(delivery.sync(str(tmp_path), mlflow_server.url)),
            daemon=True,
        )
        worker.start()
        worker.join(120)
        assert done, "sync hung on a spool entry that is not a regular file"
        (report,) = done
        assert report.skipped == {
            "fifo.jsonl": "a FIFO, not a spool file",
            "folder.jsonl": "a directory, not a spool file",
            "link.jsonl": "a link, not a spool file",
        }
        assert (report.runs_delivered, report.points_delivered) == (1, 2)
        assert stored(client, run_id) == {"m.loss": history(GOOD)}

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
    def test_an_unreadable_file_is_skipped(self, tmp_path, mlflow_server, new_run):
        path = spooled(tmp_path, mlflow_server.url, new_run(), GOOD)
        path.chmod(0)
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert report.skipped == {path.name: "it cannot be read (Permission denied)"}


def large_save(count: int) -> list[MetricPoint]:
    return [MetricPoint("m.curve", step / 2, step, 1_700_000_000_000) for step in range(count)]


class TestBatchByBatch:
    def test_sync_resumes_after_the_confirmed_batches(
        self, tmp_path, mlflow_server, client, new_run
    ):
        """Batches 1 and 3 of 5 were confirmed before the writer died: sync sends the
        other three only (three log-batch requests), and the history is whole."""
        run_id = new_run()
        points = large_save(5000)
        store.log_points(mlflow_server.url, run_id, points[:1000])
        store.log_points(mlflow_server.url, run_id, points[2000:3000])
        path = spooled(tmp_path, mlflow_server.url, run_id, points)
        with spool.appender(path) as add:
            add({"kind": "delivered", "seq": 1})
            add({"kind": "delivered", "seq": 3})
        requests_before = len(mlflow_server.requests("log-batch"))
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert (report.points_delivered, report.problems) == (3000, [])
        assert len(mlflow_server.requests("log-batch")) - requests_before == 3
        assert stored(client, run_id) == {"m.curve": history(points)}

    def test_a_whole_save_in_one_record_resumes_after_its_confirmed_spans(
        self, tmp_path, mlflow_server, client, new_run
    ):
        """A file spooled before saves were split into records (one 5,000-point
        record, spans 1 and 3 marked) syncs the same way: three requests."""
        run_id = new_run()
        points = large_save(5000)
        store.log_points(mlflow_server.url, run_id, points[:1000])
        store.log_points(mlflow_server.url, run_id, points[2000:3000])
        path = spooled(tmp_path, mlflow_server.url, run_id)
        rows = [[p.key, p.value, p.step, p.timestamp] for p in points]
        with spool.appender(path) as add:
            add({"kind": "points", "seq": 1, "points": rows})
            add({"kind": "delivered", "seq": 1, "span": [0, 1000]})
            add({"kind": "delivered", "seq": 1, "span": [2000, 3000]})
        requests_before = len(mlflow_server.requests("log-batch"))
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert (report.points_delivered, report.problems) == (3000, [])
        assert len(mlflow_server.requests("log-batch")) - requests_before == 3
        assert stored(client, run_id) == {"m.curve": history(points)}

    def test_a_deadline_stops_between_batches_and_the_next_sync_finishes(
        self, tmp_path, mlflow_server, client, new_run
    ):
        """A slow link (2 s per request) and a deadline 1 s away: sync stops after
        the batches already started, says what is left, and the marks let the next
        sync send only that."""
        run_id = new_run()
        points = large_save(8000)
        host, port = mlflow_server.url.removeprefix("http://").split(":")
        with LatencyProxy(host, int(port), delay=2.0) as proxy:
            spooled(tmp_path, proxy.url, run_id, points)
            first = delivery.sync(str(tmp_path), proxy.url, deadline=time.monotonic() + 1.0)
            assert 0 < first.points_delivered < 8000
            assert first.points_delivered % 1000 == 0
            assert (first.points_left, first.runs_left) == (8000 - first.points_delivered, 1)
            assert len(client.get_metric_history(run_id, "m.curve")) == first.points_delivered
            proxy.delay = 0  # the rest over a healed link: what it proves needs no delay
            second = delivery.sync(str(tmp_path), proxy.url)
        assert second.points_delivered == first.points_left
        assert stored(client, run_id) == {"m.curve": history(points)}
        assert spool.spool_files(tmp_path) == []


class TestInFlight:
    """A file's saves go as one stream: batches cross records, several in flight."""

    def test_two_saves_of_1500_points_are_three_batches(
        self, tmp_path, mlflow_server, client, new_run
    ):
        """Records of 1,000 + 500 points twice: three full batches, not four requests."""
        run_id = new_run()
        points = large_save(3000)
        spooled(tmp_path, mlflow_server.url, run_id, points[:1500], points[1500:])
        requests_before = len(mlflow_server.requests("log-batch"))
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert (report.points_delivered, report.problems) == (3000, [])
        assert len(mlflow_server.requests("log-batch")) - requests_before == 3
        assert stored(client, run_id) == {"m.curve": history(points)}
        assert spool.spool_files(tmp_path) == []

    def test_batches_are_in_flight_at_once_over_a_slow_link(
        self, tmp_path, mlflow_server, client, new_run
    ):
        """Two saves, six batches, through a link that holds each request 0.3 s: four
        requests at once (store.IN_FLIGHT connections), every point stored once. (A
        deadline across such a stream: TestBatchByBatch.)"""
        from kedro_metrics.store.write import IN_FLIGHT

        run_id = new_run()
        points = large_save(6000)
        host, port = mlflow_server.url.removeprefix("http://").split(":")
        with LatencyProxy(host, int(port), delay=0.3) as proxy:
            path = spooled(tmp_path, proxy.url, run_id, points[:4500], points[4500:])
            report = delivery.sync(str(tmp_path), proxy.url)
            connections = proxy.stats.connections
        assert (report.points_delivered, report.problems) == (6000, [])
        assert connections == IN_FLIGHT
        assert stored(client, run_id) == {"m.curve": history(points)}
        assert not path.exists()


class TestSpooledParams:
    """A run spooled whole (offline, or its store down at its start) keeps its Kedro
    params and tags in the spool header; sync logs them with the run, once."""

    PARAMS = {"model.learning_rate": "0.5", "model.epochs": "3"}

    def offline_file(self, directory: Path, uri: str, experiment: str) -> spool.SpoolTarget:
        target = spool.SpoolTarget(
            str(directory), spool.new_spool_id(), None, store.redact(uri) or "",
            owner_pid=os.getpid(), experiment=experiment, run_name="offline run",
            tags={"kedro.pipeline": "__default__"}, start_time=1_700_000_000_000,
            params=self.PARAMS,
        )  # fmt: skip
        spool.writer_for(target).add_points(GOOD)
        spool.writer_for(target).end("FINISHED", 1_700_000_001_000)
        spool.close_writer(target, remove=False)
        return target

    def test_the_created_run_has_the_params_and_tags(self, tmp_path, mlflow_server, client):
        experiment = f"params-{uuid.uuid4().hex[:8]}"
        target = self.offline_file(tmp_path, mlflow_server.url, experiment)
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
        assert (report.runs_created, report.problems) == (1, [])
        assert (run.info.run_name, run.info.status) == ("offline run", "FINISHED")
        assert run.data.params == self.PARAMS
        assert {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")} == {
            "kedro.pipeline": "__default__", "kedro_metrics.spool_id": target.spool_id,
        }  # fmt: skip
        assert stored(client, run.info.run_id) == {"m.loss": history(GOOD)}

    def test_a_resumed_sync_sends_only_the_missing_and_keeps_a_conflict(
        self, tmp_path, mlflow_server, client, caplog
    ):
        """An earlier sync created the run and logged one param before it stopped; the
        run meanwhile holds another value for the other: sync logs nothing twice,
        keeps the run's value, says so, and still delivers the points."""
        experiment = f"params-{uuid.uuid4().hex[:8]}"
        target = self.offline_file(tmp_path, mlflow_server.url, experiment)
        experiment_id = client.create_experiment(experiment)
        run_id = client.create_run(
            experiment_id, tags={"kedro_metrics.spool_id": target.spool_id}
        ).info.run_id
        client.log_param(run_id, "model.learning_rate", "0.5")
        client.log_param(run_id, "model.epochs", "30")
        with spool.appender(Path(spool.spool_files(tmp_path)[0])) as add:
            add({"kind": "created", "run_id": run_id})
        before = len(mlflow_server.requests("log-batch"))
        report = delivery.sync(str(tmp_path), mlflow_server.url)
        assert (report.runs_created, report.points_delivered, report.problems) == (0, 2, [])
        assert client.get_run(run_id).data.params == {
            "model.learning_rate": "0.5", "model.epochs": "30",
        }  # fmt: skip
        assert len(mlflow_server.requests("log-batch")) - before == 1  # the points only
        warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert warned == [
            f"kedro-metrics: run {run_id} already has parameter 'model.epochs' = 30; the "
            "spooled value 3 is not logged (MLflow params cannot change)."
        ]
        assert stored(client, run_id) == {"m.loss": history(GOOD)}


class TestLinkedSaves:
    def test_sync_delivers_a_save_linked_as_it_was_saved(
        self, tmp_path, mlflow_server, client, new_run
    ):
        """A save linked to a LoggedModel and its data, spooled and not delivered,
        reaches the model's metrics through sync with both links."""
        from kedro_metrics.links import PointLink

        run_id = new_run()
        model = client.create_logged_model(
            client.get_run(run_id).info.experiment_id, source_run_id=run_id
        )
        link = PointLink("test_split", "0123456789abcdef", model.model_id)
        target = spool.SpoolTarget(
            str(tmp_path), spool.new_spool_id(), run_id, store.redact(mlflow_server.url) or "",
            owner_pid=os.getpid(),
        )  # fmt: skip
        writer = spool.writer_for(target)
        writer.add_points(GOOD, link)
        writer.add_points(OTHER)
        spool.close_writer(target, remove=False)
        delivery.sync(str(tmp_path), mlflow_server.url)
        assert stored(client, run_id) == {"m.acc": history(OTHER), "m.loss": history(GOOD)}
        assert sorted(
            (m.key, m.value, m.step, m.model_id, m.dataset_name, m.dataset_digest)
            for m in client.get_logged_model(model.model_id).metrics
        ) == [
            ("m.loss", 0.1, 1, model.model_id, "test_split", "0123456789abcdef"),
            ("m.loss", 0.2, 0, model.model_id, "test_split", "0123456789abcdef"),
        ]
