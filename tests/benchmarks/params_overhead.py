"""What logging the Kedro parameters costs a 20-node `kedro run`: requests and time.

The project of run_overhead.py (20 nodes, each saving a small metrics dict), with
its 20 parameters, or with 250 (20 + 230 nested under ``model_options``), run
alternately with metrics.yml ``log_params: true`` and ``false``:

- time: median wall time of ``kedro run`` on a warm sqlite store (--reps runs each);
- requests: the same runs against a loopback ``mlflow server`` (after a warm-up run
  that creates the experiment), every request counted in the server's access log;
- the step itself: ``store.log_params`` (what the hook calls) timed in-process on a
  fresh run, sqlite and server, median of --reps (flatten included).

    python tests/benchmarks/params_overhead.py [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE)]  # the repository (tests.servers) and this folder

from run_overhead import NODES, kedro_run, make_project, set_catalog  # noqa: E402

from tests.servers import running_mlflow_server  # noqa: E402

EXTRA_PARAMS = 230


def write_params(project: Path, extra: int) -> int:
    """parameters.yml with the nodes' 20 params plus ``extra`` nested ones; returns the count."""
    lines = [f"i{i}: {i}" for i in range(NODES)]
    if extra:
        lines.append("model_options:")
        lines += [f"  option_{i}: {{value: {i / 7}, name: opt{i}}}" for i in range(extra // 2)]
    (project / "conf" / "base" / "parameters.yml").write_text("\n".join(lines) + "\n")
    return NODES + (extra // 2) * 2


def write_metrics_yml(project: Path, *, log_params: bool, uri: str | None = None) -> None:
    text = f"log_params: {str(log_params).lower()}\n"
    if uri:
        text += f"tracking_uri: {uri}\n"
    (project / "conf" / "base" / "metrics.yml").write_text(text)


def times(project: Path, reps: int) -> dict[bool, float]:
    """Median kedro run time with log_params on and off, alternating."""
    runs: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(reps):
        for on in (True, False):
            write_metrics_yml(project, log_params=on)
            runs[on].append(kedro_run(project, {}))
    return {on: statistics.median(values) for on, values in runs.items()}


def requests(project: Path, server) -> dict[bool, Counter[str]]:
    """Requests of one kedro run against the server, by path, with log_params on and off."""
    counts: dict[bool, Counter[str]] = {}
    write_metrics_yml(project, log_params=False, uri=server.url)
    kedro_run(project, {})  # warm-up: the experiment exists from here on
    for on in (True, False):
        write_metrics_yml(project, log_params=on, uri=server.url)
        before = len(server.requests())
        kedro_run(project, {})
        import time

        time.sleep(0.3)  # let uvicorn flush its access log
        counts[on] = Counter(path.split("?")[0] for _, path, _ in server.requests()[before:])
    return counts


def step_time(uri: str, count: int, reps: int) -> float:
    """Median seconds of flattening and logging ``count`` params to a fresh run."""
    import time

    from mlflow import MlflowClient

    from kedro_metrics import run_context, store

    params = {f"i{i}": i for i in range(NODES)}
    params["model_options"] = {
        f"option_{i}": {"value": i / 7, "name": f"opt{i}"} for i in range((count - NODES) // 2)
    }
    client = MlflowClient(tracking_uri=uri)
    experiment = store.ensure_experiment(uri, "params-step")
    seconds = []
    for _ in range(reps):
        run_id = client.create_run(experiment).info.run_id
        start = time.perf_counter()
        flat = run_context.flatten_params(params, max_value_length=store.PARAM_VALUE_LIMIT)
        store.log_params(uri, run_id, flat.values, fresh=True)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kedro-metrics-params-") as tmp:
        project = make_project(Path(tmp))
        set_catalog(project, tracked=True)
        with running_mlflow_server(f"sqlite:///{tmp}/server.db", Path(tmp) / "server") as server:
            for extra in (0, EXTRA_PARAMS):
                count = write_params(project, extra)
                write_metrics_yml(project, log_params=True)
                kedro_run(project, {})  # warm-up: creates and migrates mlflow.db
                medians = times(project, args.reps)
                counts = requests(project, server)
                added = counts[True] - counts[False]
                print(f"kedro run, {NODES} nodes, {count} parameters:")
                print(
                    f"  sqlite, median of {args.reps}: log_params on {medians[True]:.2f} s, "
                    f"off {medians[False]:.2f} s, difference {medians[True] - medians[False]:+.3f} s"
                )
                print(
                    f"  server requests: on {sum(counts[True].values())}, off "
                    f"{sum(counts[False].values())}; added by log_params: {dict(added)}"
                )
                for label, uri in (("sqlite", f"sqlite:///{tmp}/step.db"), ("server", server.url)):
                    step = step_time(uri, count, args.reps)
                    print(
                        f"  the step alone ({label}, median of {args.reps}): {step * 1000:.1f} ms"
                    )


if __name__ == "__main__":
    main()
