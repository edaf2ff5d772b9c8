"""What `kedro metrics sync` takes to deliver a spool file over a network, side by side.

One loopback `mlflow server` (sqlite backend, ``--workers 2``) behind
``latency_proxy.py`` (``--delay`` per request: a tracking server across a network). Each
repetition spools the same points (``--points``, in saves of ``--save`` points, so a
file of several saves and records) for a fresh run, then delivers them three ways,
alternating:

- **sync**: ``delivery.sync`` of the file (its saves as one stream, ``IN_FLIGHT``
  batches at once);
- **one at a time**: the same sync with ``store.write.IN_FLIGHT`` set to 1, one request
  after another, as sync sent a file before it streamed it;
- **ceiling**: a hand-written sequential ``MlflowClient.log_batch`` loop of the same
  points from memory, 1,000 per call (no file read, no marks).

Prints the medians and the ratios (higher is better: ceiling time / sync time). Every
repetition checks that the run holds every point.

    python tests/benchmarks/bench_sync.py [--points 20000] [--save 2500] [--reps 5] [--delay 0.025]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.benchmarks.latency_proxy import LatencyProxy  # noqa: E402
from tests.servers import QUIET_ENV, running_mlflow_server  # noqa: E402

for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)

BATCH = 1000


def measure(points: int, save: int, reps: int, delay: float, workdir: Path) -> dict[str, list]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from kedro_metrics import delivery, spool, store
    from kedro_metrics.points import MetricPoint
    from kedro_metrics.store import write

    timings: dict[str, list[float]] = {"sync": [], "one at a time": [], "ceiling": []}
    with running_mlflow_server(
        f"sqlite:///{workdir}/backend.db", workdir / "server", workers=2
    ) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with LatencyProxy(host, int(port), delay=delay) as proxy:
            client = MlflowClient(proxy.url)
            store.configure_retries(15)
            for rep in range(reps + 1):  # the first round warms up
                for how, seconds in timings.items():
                    run_id = client.create_run("0").info.run_id
                    data = [
                        MetricPoint(f"m{i % 4}", float(i), i // 4, 1_700_000_000_000 + rep)
                        for i in range(points)
                    ]
                    directory = workdir / f"spool-{rep}-{how.replace(' ', '-')}"
                    if how == "ceiling":
                        started = time.perf_counter()
                        for first in range(0, points, BATCH):
                            batch = [
                                Metric(p.key, p.value, p.timestamp, p.step)
                                for p in data[first : first + BATCH]
                            ]
                            client.log_batch(run_id, metrics=batch)
                    else:
                        target = spool.SpoolTarget(
                            str(directory), spool.new_spool_id(), run_id, proxy.url,
                            owner_pid=os.getpid(),
                        )  # fmt: skip
                        writer = spool.writer_for(target)
                        for first in range(0, points, save):
                            writer.add_points(data[first : first + save])
                        spool.close_writer(target, remove=False)
                        write.IN_FLIGHT = 4 if how == "sync" else 1
                        started = time.perf_counter()
                        report = delivery.sync(str(directory), proxy.url)
                        assert report.points_delivered == points, report
                    elapsed = time.perf_counter() - started
                    stored = sum(len(client.get_metric_history(run_id, f"m{k}")) for k in range(4))
                    assert stored == points, (how, stored)
                    if rep:
                        seconds.append(elapsed)
            write.IN_FLIGHT = 4
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--save", type=int, default=2_500)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.025)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        timings = measure(args.points, args.save, args.reps, args.delay, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    medians = {how: statistics.median(seconds) for how, seconds in timings.items()}
    print(
        f"sync of {args.points:,} spooled points (saves of {args.save:,}) through a "
        f"{args.delay * 1000:g} ms/request proxy, median of {args.reps}:"
    )
    for how, seconds in medians.items():
        print(f"  {how:14} {seconds:7.2f} s   " + " ".join(f"{t:.2f}" for t in timings[how]))
    print(
        f"  ceiling / sync = {medians['ceiling'] / medians['sync']:.2f}, "
        f"one at a time / sync = {medians['one at a time'] / medians['sync']:.2f}"
    )


if __name__ == "__main__":
    main()
