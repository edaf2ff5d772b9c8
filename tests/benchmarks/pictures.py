"""How long the pictures take: `kedro metrics plot` of 10 metrics x 1,000 steps x 3 runs,
and `kedro viz run --include-hooks` until it serves a metrics preview.

    .venv/bin/python tests/benchmarks/pictures.py [--repeat 3]

Works in a temporary copy of the e2e project template on its default sqlite store.
Prints one line per measurement (wall-clock seconds, best and median of --repeat).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import copy_project, subprocess_env  # noqa: E402
from tests.e2e.test_e2e_viz import kedro_viz  # noqa: E402

METRICS, STEPS, RUNS = 10, 1_000, 3


def seed_runs(project: Path) -> None:
    """RUNS runs of the project's experiment, each with METRICS histories of STEPS points."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.create_experiment("e2e_project")
    for run in range(RUNS):
        run_id = client.create_run(experiment, run_name=f"run-{run}").info.run_id
        points = [
            Metric(f"bench.metric_{m}", (m + 1) / (step + 1) + run, 1_700_000_000_000 + step, step)
            for m in range(METRICS)
            for step in range(STEPS)
        ]
        for start in range(0, len(points), 1000):
            client.log_batch(run_id, metrics=points[start : start + 1000])
        client.set_terminated(run_id)
        time.sleep(0.01)  # distinct start times: latest~N is well defined


def time_plot(project: Path, repeat: int) -> list[float]:
    command = [
        sys.executable, "-m", "kedro", "metrics", "plot", "bench.*",
        "--run", "latest~2", "--run", "latest~1", "--run", "latest", "--output", "bench.png",
    ]  # fmt: skip
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        subprocess.run(command, cwd=project, env=subprocess_env(), check=True, capture_output=True)
        times.append(time.monotonic() - started)
    return times


def time_in_process(repeat: int, project: Path) -> tuple[list[float], list[float]]:
    """In this process (no Kedro start-up): get_metrics(history=True), then
    build_figure + write_png."""
    from kedro_metrics import get_metrics
    from kedro_metrics.reading.figures import build_figure
    from kedro_metrics.reading.render import write_png

    uri = f"sqlite:///{project / 'mlflow.db'}"
    reads, draws = [], []
    for _ in range(repeat):
        started = time.monotonic()
        found = get_metrics("bench.*", run=["latest~2", "latest~1", "latest"], tracking_uri=uri,
                            experiment="e2e_project", history=True)  # fmt: skip
        read = time.monotonic()
        write_png(build_figure(found, title="bench.*"), project / "in-process.png")
        reads.append(read - started)
        draws.append(time.monotonic() - read)
    return reads, draws


def time_viz(project: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        with kedro_viz(project, include_hooks=True) as viz:
            viz.node("model_metrics")
            times.append(time.monotonic() - started)
    return times


def report(label: str, times: list[float]) -> None:
    print(
        f"{label}: best {min(times):.2f} s, median {statistics.median(times):.2f} s (n={len(times)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kedro-metrics-pictures-bench-") as tmp:
        project = copy_project(Path(tmp))
        seed_runs(project)
        report(f"kedro metrics plot, {METRICS} metrics x {STEPS} steps x {RUNS} runs (subprocess)",
               time_plot(project, args.repeat))  # fmt: skip
        reads, draws = time_in_process(args.repeat, project)
        report("  in process: get_metrics(history=True) of the 30 histories", reads)
        report("  in process: build_figure + write_png (matplotlib, Agg)", draws)
        subprocess.run([sys.executable, "-m", "kedro", "run"], cwd=project, env=subprocess_env(),
                       check=True, capture_output=True)  # fmt: skip
        report("kedro viz run --include-hooks: start until the model_metrics preview is served",
               time_viz(project, args.repeat))  # fmt: skip


if __name__ == "__main__":
    main()
