"""What the spool costs, and what a dead tracking server costs a `kedro run`.

1. **Spool on/off, side by side, one process, one loopback `mlflow server`**: the same
   save (``--points`` points, 1,000 per request, several in flight) sent with
   ``store.log_points`` alone (spool off: what a local store or the plugin before
   the spool does) and with ``delivery.save`` (spool on: fsync'd append, send, mark
   delivered), alternating, ``--reps`` times each, each save to a fresh run. Prints
   the medians and the overhead (goal: at most 10 %).
2. **Dead server**: `kedro run` of the e2e project's 8-node pipeline (each node
   sleeps 0.1 s) with MLFLOW_TRACKING_URI pointing at a closed port and the default
   retry budget (15 s), against the same run on a sqlite store (the nodes' own time
   plus Kedro's). Goal: at most the budget more.

    python tests/benchmarks/bench_spool.py [--points 5000] [--reps 15] [--skip-dead]
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

from tests.e2e.conftest import copy_project, run_kedro  # noqa: E402
from tests.servers import QUIET_ENV, free_port, running_mlflow_server  # noqa: E402

for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)


def spool_overhead(points: int, reps: int, workdir: Path) -> tuple[float, float]:
    from mlflow import MlflowClient

    from kedro_metrics import delivery, spool, store
    from kedro_metrics.points import MetricPoint

    with running_mlflow_server(
        f"sqlite:///{workdir}/backend.db", workdir / "server", workers=2
    ) as server:
        client = MlflowClient(server.url)
        store.configure_retries(15)
        timings: dict[str, list[float]] = {"off": [], "on": []}
        for rep in range(reps * 2 + 2):  # two warm-up saves, then alternate
            mode = ("off", "on")[rep % 2]
            run_id = client.create_run("0").info.run_id
            data = [
                MetricPoint(f"m{i % 10}", float(i), i // 10, 1_700_000_000_000 + rep)
                for i in range(points)
            ]
            target = spool.SpoolTarget(
                str(workdir / "spool"), spool.new_spool_id(), run_id, server.url
            )
            started = time.perf_counter()
            if mode == "off":
                store.log_points(server.url, run_id, data, total=points)
            else:
                delivery.save(server.url, run_id, data, target=target, asynchronous=False)
            elapsed = time.perf_counter() - started
            spool.close_writer(target, remove=True)
            if rep >= 2:
                timings[mode].append(elapsed)
        return statistics.median(timings["off"]), statistics.median(timings["on"])


def dead_server_run(workdir: Path, seed_db: Path) -> tuple[float, float, str]:
    dead = copy_project(workdir / "dead")
    started = time.perf_counter()
    result = run_kedro(
        dead,
        "run",
        "--pipelines",
        "runners",
        env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"},
    )
    dead_seconds = time.perf_counter() - started
    assert result.returncode == 0, result.output
    alive = copy_project(workdir / "alive")
    shutil.copyfile(seed_db, alive / "mlflow.db")
    started = time.perf_counter()
    run_kedro(alive, "run", "--pipelines", "runners").check()
    alive_seconds = time.perf_counter() - started
    said = [
        " ".join(line.split()) for line in result.stdout.splitlines() if "kedro-metrics:" in line
    ]
    return dead_seconds, alive_seconds, "\n    ".join(said)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--skip-dead", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-spool-"))
    try:
        from mlflow import MlflowClient

        seed = workdir / "seed.db"
        MlflowClient(tracking_uri=f"sqlite:///{seed}").search_experiments()
        shutil.copyfile(seed, workdir / "backend.db")
        off, on = spool_overhead(args.points, args.reps, workdir)
        print(f"save of {args.points:,} points to a loopback server, median of {args.reps}:")
        print(f"  spool off {off * 1000:8.1f} ms")
        print(
            f"  spool on  {on * 1000:8.1f} ms   overhead {100 * (on - off) / off:+.1f} % (goal <= 10 %)"
        )
        if not args.skip_dead:
            dead, alive, warning = dead_server_run(workdir, seed)
            print("kedro run, 8 nodes x 0.1 s (runners pipeline), retry budget 15 s:")
            print(f"  sqlite store     {alive:6.1f} s")
            print(f"  dead server      {dead:6.1f} s   (+{dead - alive:.1f} s; goal <= +15 s)")
            print(f"  what it said:\n    {warning}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
