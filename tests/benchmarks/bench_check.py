"""What `kedro metrics check` costs over 1,000 runs, in requests and time, against a
hand-written MLflow script that makes the same decision.

R runs (default 1,000), every tenth on branch ``main`` and the rest on ``feature``,
each with an accuracy, an f1, a recall and a 20-point loss curve, on a loopback
``mlflow server``. The check holds the newest run to five gates (min, max_drop,
max_drop_pct, a noise rule over 5 runs and a gate on ``loss.min``, which no run
stores) against ``branch:main``. Requests are counted in the server's access log;
the promise: one run search for the run, one for the baseline, one history request
per run and key a rule needs and no run stores (here ``loss``, for the run and the
5 baseline runs), never one per run of the experiment.

The hand-written script: the same two searches with MlflowClient, the same six
histories, the same arithmetic. Time is a ratio of medians measured side by side.

Not collected by pytest (tests/benchmarks is excluded). Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_check.py [--runs 1000] [--reps 5]
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

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]  # the repository (tests.servers) and this folder

from bench_read import count_requests, timed  # noqa: E402

from tests.servers import QUIET_ENV, running_mlflow_server  # noqa: E402

for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)

EXPERIMENT = "bench-check"
T0 = 1_700_000_000_000
BRANCH_TAG = "mlflow.source.git.branch"
METRICS_YML = {
    "metrics": {"*accuracy": {"direction": "max"}, "*loss": {"direction": "min"},
                "*recall": {"direction": "max"}},
    "gates": {
        "model.accuracy": {"min": 0.5, "max_drop": 0.05},
        "model.loss.min": {"max_drop_pct": 50},
        "model.recall": {"noise": {"runs": 5, "sigmas": 3}},
        "model.f1": {"required": True},
    },
}  # fmt: skip


def seed(uri: str, runs: int) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(EXPERIMENT)
    for index in range(runs):
        start = T0 + index * 1000
        branch = "main" if index % 10 == 0 else "feature"
        run = client.create_run(experiment_id, start_time=start, tags={BRANCH_TAG: branch})
        quality = 0.8 + (index % 7) / 100
        batch = [Metric("model.accuracy", quality, start + 1, 0),
                 Metric("model.f1", quality - 0.1, start + 1, 0),
                 Metric("model.recall", quality, start + 1, 0)]  # fmt: skip
        batch += [Metric("model.loss", 1 / (step + 1) + 1 - quality, start + 2, step)
                  for step in range(20)]  # fmt: skip
        client.log_batch(run.info.run_id, metrics=batch)
        client.set_terminated(run.info.run_id, end_time=start + 500)


def by_hand(uri: str) -> bool:
    """The same verdict with MlflowClient alone (what a team writes without us)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id], max_results=1,
                                order_by=["attributes.start_time DESC"])  # fmt: skip
    baselines = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{BRANCH_TAG}` = 'main' AND attributes.status = 'FINISHED' "
        f"AND attributes.run_id != '{run.info.run_id}'",
        max_results=5, order_by=["attributes.start_time DESC"],
    )  # fmt: skip

    def loss_min(found) -> float:
        return min(m.value for m in client.get_metric_history(found.info.run_id, "model.loss"))

    value, base = run.data.metrics, baselines[0].data.metrics
    recalls = [b.data.metrics["model.recall"] for b in baselines]
    passed = [
        value["model.accuracy"] >= 0.5,
        value["model.accuracy"] >= base["model.accuracy"] - 0.05,
        loss_min(run) <= loss_min(baselines[0]) * 1.5,
        value["model.recall"] >= statistics.fmean(recalls) - 3 * statistics.stdev(recalls),
        "model.f1" in value,
    ]
    for other in baselines[1:]:
        loss_min(other)  # the noise sample's histories, as the check reads them
    return all(passed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    cfg = parser.parse_args(argv)

    from kedro_metrics.config import MetricsConfig
    from kedro_metrics.reading.check import run_check
    from kedro_metrics.reading.query import Scope

    workdir = Path(tempfile.mkdtemp(prefix="bench-check-"))
    try:
        backend = workdir / "backend.db"
        started = time.perf_counter()
        seed(f"sqlite:///{backend}", cfg.runs)
        print(f"seeded {cfg.runs} runs in {time.perf_counter() - started:.1f} s")
        config = MetricsConfig.parse(METRICS_YML, source="metrics.yml")
        with running_mlflow_server(f"sqlite:///{backend}", workdir / "server") as server:
            scope = Scope(server.url, EXPERIMENT, config.metrics)

            def ours() -> bool | None:
                return run_check(scope, config, "latest", "branch:main", record=False).passed

            assert ours() is True and by_hand(server.url) is True  # warm both, same verdict
            total, searches, _ = count_requests(server, ours)
            hand_total, hand_searches, _ = count_requests(server, lambda: by_hand(server.url))
            times = {"ours": [], "hand": []}
            for _ in range(cfg.reps):  # interleaved, so both see the same machine
                times["ours"].append(timed(ours, 1)[0])
                times["hand"].append(timed(lambda: by_hand(server.url), 1)[0])
        ours_s, hand_s = (statistics.median(times[k]) for k in ("ours", "hand"))
        print(f"check of the newest of {cfg.runs} runs against branch:main (5 gates, noise "
              f"over 5 runs, loss.min computed): {total} requests ({searches} run searches); "
              f"hand-written MlflowClient script: {hand_total} requests ({hand_searches} run "
              f"searches)")  # fmt: skip
        print(f"time: ours {ours_s * 1000:.0f} ms, by hand {hand_s * 1000:.0f} ms: "
              f"{ours_s / hand_s:.2f}x")  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
