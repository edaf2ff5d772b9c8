"""Reading back: what get_metrics, compare and load cost, in requests and time.

1. ``get_metrics`` (last values) over R runs x M metrics (default 200 x 50) on a
   loopback ``mlflow server``: requests counted in the server's access log; the
   promise is one run search per 1,000 runs, never one request per metric.
2. ``compare`` of two runs (``latest~1 latest``): requests and time.
3. ``load`` of K metrics (default 10 x 100 steps) across a 25 ms-per-request proxy:
   the histories in flight (what ``load`` does) against one after another (what it
   did before), side by side.

Not collected by pytest (tests/benchmarks is excluded). Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_read.py [--runs 200] [--metrics 50] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]  # the repository (tests.servers) and this folder

from latency_proxy import LatencyProxy  # noqa: E402

from tests.servers import QUIET_ENV, running_mlflow_server  # noqa: E402

for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)

EXPERIMENT = "bench-read"
T0 = 1_700_000_000_000


def seed(uri: str, runs: int, metrics: int) -> list[str]:
    """R runs with M metrics each (one point per metric), written straight to sqlite."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(EXPERIMENT)
    ids = []
    for index in range(runs):
        start = T0 + index * 1000
        run = client.create_run(experiment_id, start_time=start, run_name=f"run-{index}",
                                tags={"kedro.pipeline": "__default__"})  # fmt: skip
        batch = [Metric(f"model.m{m:02d}", index + m / 100, start + 1, 0) for m in range(metrics)]
        client.log_batch(run.info.run_id, metrics=batch)
        client.set_terminated(run.info.run_id, end_time=start + 500)
        ids.append(run.info.run_id)
    return ids


def timed(call: Callable[[], object], reps: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(reps):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def count_requests(server, call: Callable[[], object]) -> tuple[int, int, object]:
    """(all requests, run-search requests) the call made, and its result."""
    before_all, before_search = len(server.requests()), len(server.requests("/runs/search"))
    result = call()
    time.sleep(0.2)  # let uvicorn flush its access log
    return (
        len(server.requests()) - before_all,
        len(server.requests("/runs/search")) - before_search,
        result,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--load-metrics", type=int, default=10)
    parser.add_argument("--load-steps", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.025)
    cfg = parser.parse_args(argv)

    from kedro_metrics import MlflowMetricsDataSet, get_metrics, records, store
    from kedro_metrics.reading.query import find_runs, scope_for

    workdir = Path(tempfile.mkdtemp(prefix="bench-read-"))
    try:
        backend = workdir / "backend.db"
        started = time.perf_counter()
        ids = seed(f"sqlite:///{backend}", cfg.runs, cfg.metrics)
        print(
            f"seeded {cfg.runs} runs x {cfg.metrics} metrics in {time.perf_counter() - started:.1f} s"
        )
        with running_mlflow_server(f"sqlite:///{backend}", workdir / "server") as server:
            uri = server.url

            def last_values() -> list[dict]:
                return get_metrics(tracking_uri=uri, experiment=EXPERIMENT)

            last_values()  # warm the client and the server
            total, searches, found = count_requests(server, last_values)
            assert len(found) == cfg.runs * cfg.metrics, len(found)
            seconds, _ = timed(last_values, cfg.reps)
            print(f"get_metrics last values, {cfg.runs} runs x {cfg.metrics} metrics "
                  f"({len(found)} records): {seconds * 1000:.0f} ms; {total} requests, "
                  f"{searches} of them run searches")  # fmt: skip

            scope = scope_for(tracking_uri=uri, experiment=EXPERIMENT)

            def compare() -> list[dict]:
                return records.compare(find_runs(scope, run=["latest~1", "latest"]))

            total, searches, rows = count_requests(server, compare)
            assert len(rows) == cfg.metrics and rows[0]["change"] == 1.0, rows[:1]
            seconds, _ = timed(compare, cfg.reps)
            print(f"compare latest~1 latest ({len(rows)} metrics): {seconds * 1000:.0f} ms; "
                  f"{total} requests, {searches} of them run searches")  # fmt: skip

            # load of K metrics x S steps across the proxy: in flight vs one after another.
            from mlflow import MlflowClient
            from mlflow.entities import Metric

            run_id = (
                MlflowClient(uri)
                .create_run(MlflowClient(uri).get_experiment_by_name(EXPERIMENT).experiment_id)
                .info.run_id
            )
            points = [Metric(f"load.k{k}", float(s), T0 + s, s)
                      for k in range(cfg.load_metrics) for s in range(cfg.load_steps)]  # fmt: skip
            MlflowClient(uri).log_batch(run_id, metrics=points)
            port = int(uri.rsplit(":", 1)[1])
            with LatencyProxy("127.0.0.1", port, delay=cfg.delay) as proxy:
                dataset = MlflowMetricsDataSet(prefix="load", run_id=run_id, tracking_uri=proxy.url)

                def in_flight() -> dict:
                    return dataset.load()

                def one_after_another() -> list:
                    keys = [
                        k for k in store.metric_keys(proxy.url, run_id) if k.startswith("load.")
                    ]
                    return [store.read_history(proxy.url, run_id, key) for key in keys]

                in_flight()  # warm the connection pool
                total_if, _, loaded = count_requests(server, in_flight)
                total_seq, _, _ = count_requests(server, one_after_another)
                assert len(loaded) == cfg.load_metrics
                t_if, _ = timed(in_flight, cfg.reps)
                t_seq, _ = timed(one_after_another, cfg.reps)
            print(f"load of {cfg.load_metrics} metrics x {cfg.load_steps} steps across a "
                  f"{cfg.delay * 1000:.0f} ms proxy: in flight {t_if * 1000:.0f} ms "
                  f"({total_if} requests), one after another {t_seq * 1000:.0f} ms "
                  f"({total_seq} requests): {t_seq / t_if:.2f}x faster")  # fmt: skip
        del ids
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
