"""Peak memory of one large save, ours against the hand-written ceiling, side by side.

Each measurement is a fresh process that builds the same metrics dict (1 metric x
``--points`` steps, a list of floats), resets its peak RSS (``/proc/self/clear_refs``)
and saves it once: **ours** with ``MlflowMetricsDataSet.save`` (to a server the save
is spooled first, as in a script with its own run id), the **ceiling** with the
sequential ``log_batch`` loop a careful user writes (1,000 ``Metric`` objects at a
time). Its peak RSS growth (VmHWM after the save minus VmRSS before it) is the
figure; every stored row is counted afterwards. Stores: a sqlite file and a loopback
``mlflow server``; ours and the ceiling alternate, ``--reps`` times each.

Goal: ours at most 1.0x the ceiling's peak growth on every store.

    python tests/benchmarks/bench_memory.py [--points 1000000] [--reps 2] [--stores sqlite server]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.servers import QUIET_ENV, running_mlflow_server  # noqa: E402

SAVE_SCRIPT = r"""
import gc, json, logging, re, sys, time
logging.disable(logging.WARNING)
who, uri, run_id, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from mlflow import MlflowClient
from mlflow.entities import Metric
from kedro_metrics import MlflowMetricsDataSet

client = MlflowClient(uri)
data = {"loss": [1.0 / (i + 1) for i in range(n)]}


def ours():
    MlflowMetricsDataSet(prefix="", run_id=run_id, tracking_uri=uri).save(data)


def ceiling():
    now, batch = int(time.time() * 1000), []
    for step, value in enumerate(data["loss"]):
        batch.append(Metric("loss", value, now, step))
        if len(batch) == 1000:
            client.log_batch(run_id, metrics=batch)
            batch = []
    if batch:
        client.log_batch(run_id, metrics=batch)


def status(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\s+(\d+)", f.read()).group(1))


# warm both paths (imports, the store's first connection) on a run of their own
warm = client.create_run(client.get_run(run_id).info.experiment_id).info.run_id
MlflowMetricsDataSet(prefix="", run_id=warm, tracking_uri=uri).save({"warm": [0.0, 1.0]})
client.log_batch(warm, metrics=[Metric("warm2", 0.0, 0, 0)])
gc.collect()
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from the current RSS
start = time.perf_counter()
{"ours": ours, "ceiling": ceiling}[who]()
seconds = time.perf_counter() - start
print(json.dumps({"growth_mb": (status("VmHWM") - before) / 1024, "seconds": seconds}))
"""


def measure(who: str, uri: str, points: int, workdir: Path) -> dict[str, float]:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    name = f"memory-{who}"
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    run_id = client.create_run(experiment_id).info.run_id
    done = subprocess.run(
        [sys.executable, "-c", SAVE_SCRIPT, who, uri, run_id, str(points)],
        cwd=workdir, env={**os.environ, **QUIET_ENV}, capture_output=True, text=True,
        timeout=3600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{who} on {uri} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stored = len(client.get_metric_history(run_id, "loss"))
    if stored != points:
        raise RuntimeError(f"{who} on {uri} stored {stored:,} of {points:,} points")
    client.set_terminated(run_id)
    return result


def side_by_side(store: str, points: int, reps: int, workdir: Path) -> dict[str, dict[str, float]]:
    """Ours and the ceiling on ``store`` (``sqlite``: a file; ``server``: a loopback
    ``mlflow server --workers 2`` on a sqlite file), alternating ``reps`` times each:
    per side the medians of ``growth_mb`` and ``seconds``."""
    where = workdir / store
    where.mkdir()
    backend = f"sqlite:///{where / 'mlflow.db'}"
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "ceiling": []}

    def alternate(uri: str) -> None:
        for _ in range(reps):
            for who, done in runs.items():
                done.append(measure(who, uri, points, where))

    if store == "server":
        with running_mlflow_server(backend, where, workers=2) as server:
            alternate(server.url)
    else:
        alternate(backend)
    return {
        who: {
            field: statistics.median(r[field] for r in done) for field in ("growth_mb", "seconds")
        }
        for who, done in runs.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--stores", nargs="+", default=["sqlite", "server"])
    cfg = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kedro-metrics-memory-"))
    try:
        for store in cfg.stores:
            found = side_by_side(store, cfg.points, cfg.reps, workdir)
            ours, ceiling = found["ours"], found["ceiling"]
            print(
                f"{store}: {cfg.points:,} points, peak RSS growth ours {ours['growth_mb']:.0f} MB "
                f"({ours['seconds']:.1f} s), ceiling {ceiling['growth_mb']:.0f} MB "
                f"({ceiling['seconds']:.1f} s): ours/ceiling "
                f"{ours['growth_mb'] / ceiling['growth_mb']:.2f} (medians of {cfg.reps}; every "
                "point stored)",
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
