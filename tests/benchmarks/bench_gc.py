"""What pausing Python's cyclic garbage collector during a save gives: one large save
of ours with the pause (as shipped), the same save without it, and the hand-written
``log_batch`` loop (the ceiling), alternating in one process on one sqlite store.

The collector runs when allocations outnumber frees by a threshold: a save of N
points allocates several short-lived objects per point, none in a cycle, and each
full collection walks every object the process holds (MLflow's and Kedro's imports
included). ``process.collection_paused`` turns it off while a save validates and
sends its points. Workload: 1 metric x N steps (default 300,000) as a list of
``{"value", "step"}`` points; a fresh run per save; medians of R repetitions.

Not collected by pytest (tests/benchmarks is excluded). Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_gc.py [--points 300000] [--reps 3]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from tests.benchmarks.bench import save_ceiling, save_ours  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=300_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    from mlflow import MlflowClient

    from kedro_metrics.io import run_dataset

    data = {"loss": [{"value": 1.0 / (i + 1), "step": i} for i in range(args.points)]}
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/mlflow.db"
        client = MlflowClient(uri)
        experiment = client.create_experiment("bench-gc")

        def new_run() -> str:
            return client.create_run(experiment).info.run_id

        paused = run_dataset.collection_paused
        times: dict[str, list[float]] = {"paused": [], "collecting": [], "ceiling": []}
        collections: dict[str, list[int]] = {name: [] for name in times}
        save_ours(uri, new_run(), {"warm": 1.0})
        for _ in range(args.reps):
            for name, spent in times.items():
                before = gc.get_stats()[2]["collections"]
                if name == "ceiling":
                    spent.append(save_ceiling(client, new_run(), data))
                else:
                    run_dataset.collection_paused = (
                        paused if name == "paused" else contextlib.nullcontext
                    )
                    spent.append(save_ours(uri, new_run(), data))
                collections[name].append(gc.get_stats()[2]["collections"] - before)
        run_dataset.collection_paused = paused
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in median.items():
        print(
            f"{name:>10}: {seconds:.2f} s, full collections per save {statistics.median(collections[name]):.0f}"
        )
    print(
        f"{args.points:,} points on sqlite: ours/ceiling={median['ceiling'] / median['paused']:.2f} "
        f"with the pause, {median['ceiling'] / median['collecting']:.2f} without"
    )


if __name__ == "__main__":
    main()
