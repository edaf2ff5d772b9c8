"""The spool's promise under real faults, every point counted in the server's own
database afterwards: `kill -9` in the middle of a 30,000-point save, then one plain
`kedro metrics sync`; a full disk (a 2 MB tmpfs) under the spool; a start-of-run sync
bounded batch by batch; damaged, foreign and odd files reported by the command."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from kedro_metrics import spool
from kedro_metrics.points import MetricPoint
from tests.benchmarks.latency_proxy import LatencyProxy
from tests.concurrently import result_fixture, side_by_side
from tests.e2e.background import BackgroundKedro
from tests.fault_proxy import FaultProxy

pytestmark = [pytest.mark.e2e, pytest.mark.server]

LARGE = 100_000  # the template's parameters.yml large_points
LARGE_KEY = "large_metrics.curve"
#: The save `kill -9` interrupts: 30 batches, killed once 12 are confirmed. Every
#: batch costs the server time the whole suite shares; 30 of them prove what 100 do
#: (delivery marked per batch, sync resuming after the last confirmed one).
KILLED_SAVE = 30_000
KILLED_AFTER = 12
#: The pending save of the bounded start, and the link's delay per request. The
#: start-of-run sync keeps store.IN_FLIGHT (4) batches in flight and starts none after
#: its 5 s: each of the 4 slots starts at most 5 requests of 1 s in that time, so at
#: most 20,000 of the 25,000 points are delivered and some are always left.
PENDING = 25_000
SLOW_LINK_S = 1.0


def project_with_experiment(parent: Path, new_project, **settings: str) -> tuple[Path, str]:
    project = new_project(parent)
    experiment = f"promise-{uuid.uuid4().hex[:8]}"
    lines = [f"experiment: {experiment}", *(f"{k}: {v}" for k, v in settings.items())]
    (project / "conf" / "local" / "metrics.yml").write_text("\n".join(lines) + "\n")
    return project, experiment


def the_run(url: str, experiment: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return run


def counted(server, run_id: str, key: str) -> tuple[int, int]:
    """(rows, distinct steps) of ``key`` in the server's backend database."""
    path = server.backend_uri.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT step) FROM metrics WHERE run_uuid = ? AND key = ?",
            (run_id, key),
        ).fetchone()


def batch_marks(spool_dir: Path) -> int:
    """Delivery marks in the spool (one per confirmed batch, the 1-point save's too)."""
    return sum(path.read_bytes().count(b'"kind":"delivered"') for path in spool_dir.glob("*.jsonl"))


def confirmed_and_pending(spool_dir: Path) -> tuple[int, int]:
    """(points of the large save marked delivered batch by batch, points pending)."""
    runs = [spool.read(path) for path in spool.spool_files(spool_dir)]
    confirmed = 0
    for run in runs:
        large = {seq for seq, points in run.saves.items() if points[0].key == LARGE_KEY}
        spooled = sum(len(run.saves[seq]) for seq in large)
        confirmed += spooled - sum(len(p.points) for p in run.pending if p.seq in large)
    return confirmed, sum(run.pending_points for run in runs)


def proxied(server, delay: float) -> LatencyProxy:
    host, port = server.url.removeprefix("http://").split(":")
    return LatencyProxy(host, int(port), delay=delay)


def killed_mid_large_save(parent: Path, new_project, kedro, mlflow_server):
    """`kill -9` of `kedro run` once 12 of the 30 batches of its one large save are
    confirmed (a slow link: 0.05 s per request); then one plain `kedro metrics sync`
    (over a healed link: what it proves does not depend on the delay)."""
    project, experiment = project_with_experiment(parent, new_project)
    spool_dir = project / ".kedro_metrics" / "spool"
    with proxied(mlflow_server, 0.05) as proxy:
        env = {"MLFLOW_TRACKING_URI": proxy.url}
        run = BackgroundKedro(
            project,
            "run",
            "--pipelines",
            "large",
            "--params",
            f"large_points={KILLED_SAVE}",
            env=env,
        )
        deadline = time.monotonic() + 300
        # one mark more than the large save's: the 1-point save's
        while batch_marks(spool_dir) < KILLED_AFTER + 1 and time.monotonic() < deadline:
            assert run.process.poll() is None, run.finish().output
            time.sleep(0.05)
        run.signal(signal.SIGKILL, group=True)
        killed = run.finish()
        confirmed, pending = confirmed_and_pending(spool_dir)
        run_id = the_run(mlflow_server.url, experiment).info.run_id
        before_sync = counted(mlflow_server, run_id, LARGE_KEY)
        proxy.delay = 0
        synced = kedro(project, "metrics", "sync", env=env)
    return {
        "killed": killed, "confirmed": confirmed, "pending": pending,
        "before_sync": before_sync, "sync": synced,
        "after_sync": counted(mlflow_server, run_id, LARGE_KEY),
        "run": the_run(mlflow_server.url, experiment), "left": sorted(spool_dir.iterdir()),
    }  # fmt: skip


#: Mounting the full disk's tmpfs needs root; elsewhere its tests are skipped.
CAN_MOUNT = os.geteuid() == 0


@pytest.fixture(scope="module")
def promises(tmp_path_factory, new_project, kedro, mlflow_server):
    """The module's four scenarios side by side on the session's server, each in its
    own project and experiment, over its own proxy."""
    scenarios = [killed_mid_large_save, bounded_start, bad_files]
    if CAN_MOUNT:
        scenarios.append(full_disk)
    return side_by_side({
        scenario.__name__: functools.partial(
            scenario, tmp_path_factory.mktemp(scenario.__name__), new_project, kedro,
            mlflow_server,
        )
        for scenario in scenarios
    })  # fmt: skip


killed_mid_large_save_result = result_fixture("killed_mid_large_save", of="promises")
full_disk_result = result_fixture(
    "full_disk", of="promises",
    skip_reason="mounting a 2 MB tmpfs needs root (the CI machines run tests as root)",
)  # fmt: skip
bounded_start_result = result_fixture("bounded_start", of="promises")
bad_files_result = result_fixture("bad_files", of="promises")


class TestKillNineMidLargeSave:
    def test_the_run_was_killed_in_the_middle_of_the_save(self, killed_mid_large_save):
        result = killed_mid_large_save
        assert result["killed"].returncode == -signal.SIGKILL, result["killed"].output
        assert KILLED_AFTER * 1000 <= result["confirmed"] < KILLED_SAVE
        # MLflow holds what was confirmed, and at most the batches then in flight
        assert result["confirmed"] <= result["before_sync"][0] < KILLED_SAVE

    def test_one_plain_sync_delivers_exactly_every_point(self, killed_mid_large_save):
        """30,000 rows, 30,000 distinct steps: nothing lost, no step twice."""
        result = killed_mid_large_save
        result["sync"].check()
        assert result["after_sync"] == (KILLED_SAVE, KILLED_SAVE)
        delivered = int(
            re.search(r"Delivered ([\d,]+) point", result["sync"].stdout)[1].replace(",", "")
        )
        # exactly what the spool had not confirmed: nothing resent from batch 1
        assert delivered == result["pending"]
        # the large save's unconfirmed part, and the 1-point save if it was unconfirmed too
        assert result["pending"] - (KILLED_SAVE - result["confirmed"]) in (0, 1)

    def test_the_run_ends_killed_and_the_spool_is_empty(self, killed_mid_large_save):
        result = killed_mid_large_save
        assert result["run"].info.status == "KILLED"
        assert result["run"].data.metrics["small_metrics.answer"] == 42
        assert [p.name for p in result["left"]] == [spool.SYNC_LOCK]


def full_disk(parent: Path, new_project, kedro, mlflow_server):
    """The spool on a 2 MB tmpfs, every log-batch answered 503: the 100,000-point
    save cannot be spooled (about 3.5 MB) nor sent; the 1-point save can be spooled."""
    mount = parent / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        project, experiment = project_with_experiment(
            parent / "full", new_project, retry_seconds="1", spool_dir=str(mount / "spool")
        )
        with FaultProxy(mlflow_server.url, ["503"] * 100_000, path_part="log-batch") as proxy:
            env = {"MLFLOW_TRACKING_URI": proxy.url}
            result = kedro(project, "run", "--pipelines", "large", env=env)
            files = {p.name: spool.read(p) for p in spool.spool_files(mount / "spool")}
            proxy.heal()
            synced = kedro(project, "metrics", "sync", env=env)
        run = the_run(mlflow_server.url, experiment)
        return {
            "run": result, "files": files, "sync": synced, "stored": run,
            "large": counted(mlflow_server, run.info.run_id, LARGE_KEY),
        }  # fmt: skip
    finally:
        subprocess.run(["umount", str(mount)], check=False)


class TestFullDisk:
    def test_the_run_goes_on_and_says_the_points_were_not_kept(self, full_disk):
        result = full_disk["run"]
        result.check()
        assert "Traceback" not in result.output
        said = " ".join(result.output.split())  # rich wraps long log lines
        assert said.count("were NOT kept") == 1, result.output
        assert f"{LARGE:,} point(s) of a save were NOT kept: 0 of {LARGE:,} were confirmed" in said
        assert "[Errno 28] No space left on device" in said
        # the 1-point save is spooled and said so; the large one is never claimed
        assert said.count("they are in the spool") == 1
        assert "MLflow did not confirm the 1 point(s) of a save; they are in the spool" in said

    def test_the_spool_holds_only_whole_records_and_no_claim(self, full_disk):
        (run,) = full_disk["files"].values()
        assert (run.damaged, run.foreign) == (0, None)
        assert [(part.seq, part.points) for part in run.pending] == [
            (part.seq, [MetricPoint("small_metrics.answer", 42.0, 0, part.points[0].timestamp)])
            for part in run.pending
        ]
        assert run.pending_points == 1

    def test_sync_delivers_what_was_kept_and_the_run_is_ended(self, full_disk):
        full_disk["sync"].check()
        assert "Delivered 1 point(s) of 1 spooled run(s)" in full_disk["sync"].stdout
        stored = full_disk["stored"]
        assert stored.data.metrics == {"small_metrics.answer": 42.0}
        assert stored.info.status == "FINISHED"
        assert full_disk["large"] == (0, 0)


def bounded_start(parent: Path, new_project, kedro, mlflow_server):
    """An earlier run's 25,000-point save is pending; `kedro run` starts over a slow
    link (1 s per request): the start-of-run sync stops between batches."""
    from mlflow import MlflowClient

    project, experiment = project_with_experiment(parent, new_project)
    client = MlflowClient(tracking_uri=mlflow_server.url)
    earlier = client.create_run(client.create_experiment(f"{experiment}-earlier")).info.run_id
    points = [MetricPoint("m.curve", step / 2, step, 1_700_000_000_000) for step in range(PENDING)]
    with proxied(mlflow_server, SLOW_LINK_S) as proxy:
        target = spool.SpoolTarget(
            str(project / ".kedro_metrics" / "spool"), spool.new_spool_id(), earlier, proxy.url,
            owner_pid=os.getpid(),
        )  # fmt: skip
        spool.writer_for(target).add_points(points)
        spool.close_writer(target, remove=False)
        fifo = project / ".kedro_metrics" / "spool" / "pipe.jsonl"
        os.mkfifo(fifo)  # never opened: it would hang the run
        env = {"MLFLOW_TRACKING_URI": proxy.url}
        started = kedro(project, "run", "--pipelines", "small", env=env)
        fifo.unlink()
        at_start = counted(mlflow_server, earlier, "m.curve")
        proxy.delay = 0  # the rest is delivered over a healed link
        synced = kedro(project, "metrics", "sync", env=env)
    return started, at_start, synced, counted(mlflow_server, earlier, "m.curve")


class TestBoundedStartOfRunSync:
    def test_the_start_stops_between_batches_and_says_exactly_what_is_left(self, bounded_start):
        started, (stored, _), _, _ = bounded_start
        started.check()
        found = re.search(r"([\d,]+) spooled point\(s\) of 1 earlier run\(s\) are still pending",
                          started.output)  # fmt: skip
        assert found, started.output
        left = int(found[1].replace(",", ""))
        assert 0 < left < PENDING
        assert stored + left == PENDING

    def test_a_fifo_in_the_spool_is_skipped_and_said(self, bounded_start):
        started = bounded_start[0]
        assert "pipe.jsonl: skipped, a FIFO, not a spool file" in started.output

    def test_sync_delivers_the_rest_exactly(self, bounded_start):
        _, (stored, _), synced, final = bounded_start
        synced.check()
        assert f"Delivered {PENDING - stored:,} point(s)" in synced.stdout
        assert final == (PENDING, PENDING)


def bad_files(parent: Path, new_project, kedro, mlflow_server):
    """A damaged file, a file of format 3, a FIFO and a good file; one `kedro metrics
    sync`."""
    from mlflow import MlflowClient

    from kedro_metrics.spool.lines import encode

    project, experiment = project_with_experiment(parent, new_project)
    client = MlflowClient(tracking_uri=mlflow_server.url)
    experiment_id = client.create_experiment(experiment)
    directory = project / ".kedro_metrics" / "spool"
    runs = {}
    for name in ("damaged", "good"):
        runs[name] = client.create_run(experiment_id).info.run_id
        target = spool.SpoolTarget(
            str(directory), name, runs[name], mlflow_server.url, owner_pid=os.getpid()
        )
        writer = spool.writer_for(target)
        writer.add_points([MetricPoint("m.loss", 0.2, 0, 1)])
        writer.add_points([MetricPoint("m.acc", 0.9, 0, 1)])
        spool.close_writer(target, remove=False)
    damaged = next(directory.glob("damaged.*.jsonl"))
    damaged.write_bytes(damaged.read_bytes().replace(b"0.2", b"0.7", 1))
    foreign = spool.SpoolTarget(str(directory), "foreign", runs["good"], mlflow_server.url)
    (directory / "foreign.1.jsonl").write_bytes(encode({**foreign.header(), "format": 3}))
    os.mkfifo(directory / "pipe.jsonl")
    synced = kedro(project, "metrics", "sync", env={"MLFLOW_TRACKING_URI": mlflow_server.url})
    return synced, damaged.name, directory, runs


class TestSyncCommandReportsBadFiles:
    def test_exit_code_and_one_line_per_file(self, bad_files):
        synced, damaged, directory, _ = bad_files
        assert synced.returncode == 1, synced.output
        assert f"Error: 3 spool file(s) in {directory} were not delivered whole:" in synced.stderr
        problems = sorted(
            line.strip() for line in synced.stderr.splitlines() if line.strip().startswith("- ")
        )
        assert problems == sorted([
            f"- {damaged}.damaged: 1 record(s) could not be read (damaged); the rest was "
            "delivered and the file is kept under this name",
            "- foreign.1.jsonl: not delivered, it is in spool format 3, which this version of "
            "kedro-metrics cannot read; it is kept as it is",
            "- pipe.jsonl: skipped, a FIFO, not a spool file",
        ])  # fmt: skip

    def test_the_good_parts_are_delivered(self, bad_files, mlflow_server):
        from mlflow import MlflowClient

        synced, damaged, directory, runs = bad_files
        client = MlflowClient(tracking_uri=mlflow_server.url)
        assert client.get_run(runs["good"]).data.metrics == {"m.loss": 0.2, "m.acc": 0.9}
        assert client.get_run(runs["damaged"]).data.metrics == {"m.acc": 0.9}
        assert sorted(p.name for p in directory.iterdir()) == sorted(
            [f"{damaged}.damaged", "foreign.1.jsonl", "pipe.jsonl", spool.SYNC_LOCK]
        )
