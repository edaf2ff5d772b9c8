"""What tracking adds to a real `kedro run` of a 20-node pipeline on a warm sqlite store.

Four variants of one temporary project, run alternately (median of --reps runs):

- tracked:  20 nodes each return a small metrics dict into a MlflowMetricsDataSet
            (the plugin's hook on: run start, binding, 20 saves, run end);
- plain:    the same nodes, outputs left to MemoryDatasets, the plugin's hook off
            (``DISABLE_HOOKS_FOR_PLUGINS``): what the pipeline costs untracked;
- plain+mlflow: as plain, but settings.py imports mlflow and its SQL store (what
            any MLflow client of a sqlite store loads), to tell MLflow's import
            time apart from the plugin's own work;
- hand hook: as plain, with a minimal hand-written MLflow hook in settings.py doing
            the same job (start a run in the same sqlite store, one ``log_batch``
            of the same points at the pipeline's end, end the run): the floor an
            MLflow-based tracker can reach. The ratio tracked / hand hook is the
            goal (at most 1.1).

Prints the three medians and the differences; ``--json`` also writes them to a file
(bench.py folds them into docs/performance.md when given).

    python tests/benchmarks/run_overhead.py [--reps 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

NODES = 20

PYPROJECT = """\
[project]
name = "overhead"
version = "0.1"
requires-python = ">=3.10"

[tool.kedro]
package_name = "overhead"
project_name = "overhead"
kedro_init_version = "1.7.0"
source_dir = "src"
"""

SETTINGS = """\
import os

if os.environ.get("BENCH_DISABLE_PLUGIN"):
    DISABLE_HOOKS_FOR_PLUGINS = ("kedro-metrics",)
if os.environ.get("BENCH_IMPORT_MLFLOW"):
    import mlflow  # noqa: F401
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (what a sqlite store loads)
if os.environ.get("BENCH_HAND_HOOK"):
    from overhead.hand_hook import HandHook

    HOOKS = (HandHook(),)
"""

#: The minimal hand-written tracker: one run, the metrics outputs' points in one
#: log_batch at the end (flattened as the plugin does), the run ended.
HAND_HOOK = """\
import time
from pathlib import Path

from kedro.framework.hooks import hook_impl


class HandHook:
    @hook_impl
    def before_pipeline_run(self):
        from mlflow import MlflowClient

        self.client = MlflowClient(f"sqlite:///{Path.cwd() / 'mlflow.db'}")
        experiment = self.client.get_experiment_by_name("overhead")
        self.run_id = self.client.create_run(experiment.experiment_id).info.run_id
        self.points = []

    @hook_impl
    def after_node_run(self, outputs):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for name, metrics in outputs.items():
            for key, value in metrics.items():
                values = value if isinstance(value, list) else [value]
                self.points += [
                    Metric(f"{name}.{key}", float(v), now, step) for step, v in enumerate(values)
                ]

    @hook_impl
    def after_pipeline_run(self):
        self.client.log_batch(self.run_id, metrics=self.points)
        self.client.set_terminated(self.run_id)
"""

PIPELINE_REGISTRY = f"""\
from kedro.pipeline import Pipeline, node


def score(index):
    return {{"accuracy": 0.5 + index / 100, "loss": [1.0 / (step + 1) for step in range(10)]}}


def register_pipelines():
    nodes = [node(score, f"params:i{{i}}", f"m{{i}}_metrics", name=f"n{{i}}") for i in range({NODES})]
    return {{"__default__": Pipeline(nodes)}}
"""


def make_project(root: Path) -> Path:
    project = root / "overhead"
    package = project / "src" / "overhead"
    package.mkdir(parents=True)
    (project / "conf" / "base").mkdir(parents=True)
    (project / "conf" / "local").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SETTINGS)
    (package / "pipeline_registry.py").write_text(PIPELINE_REGISTRY)
    (package / "hand_hook.py").write_text(HAND_HOOK)
    params = "\n".join(f"i{i}: {i}" for i in range(NODES))
    (project / "conf" / "base" / "parameters.yml").write_text(params + "\n")
    return project


def set_catalog(project: Path, tracked: bool) -> None:
    catalog = project / "conf" / "base" / "catalog.yml"
    catalog.write_text(
        textwrap.dedent(
            """\
            "{name}_metrics":
              type: kedro_metrics.MlflowMetricsDataSet
            """
        )
        if tracked
        else "{}\n"
    )


def kedro_run(project: Path, extra_env: dict[str, str]) -> float:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "KEDRO_DISABLE_TELEMETRY": "1",
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        **extra_env,
    }
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"kedro run failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


VARIANTS = {
    "tracked": (True, {}),
    "plain": (False, {"BENCH_DISABLE_PLUGIN": "1"}),
    "plain+mlflow": (False, {"BENCH_DISABLE_PLUGIN": "1", "BENCH_IMPORT_MLFLOW": "1"}),
    "hand hook": (False, {"BENCH_DISABLE_PLUGIN": "1", "BENCH_HAND_HOOK": "1"}),
}


def measure(reps: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kedro-metrics-overhead-") as tmp:
        project = make_project(Path(tmp))
        set_catalog(project, tracked=True)
        kedro_run(project, {})  # warm-up: creates and migrates mlflow.db
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(reps):
            for name, (tracked, env) in VARIANTS.items():
                set_catalog(project, tracked)
                times[name].append(kedro_run(project, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    medians["tracking_total"] = medians["tracked"] - medians["plain"]
    medians["mlflow_import"] = medians["plain+mlflow"] - medians["plain"]
    medians["tracking_without_mlflow_import"] = medians["tracked"] - medians["plain+mlflow"]
    medians["tracked_over_hand_hook"] = medians["tracked"] / medians["hand hook"]
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = measure(args.reps)
    print(f"kedro run, {NODES} nodes, warm sqlite store, median of {args.reps}:")
    for name in VARIANTS:
        print(f"  {name:<14} {results[name]:7.2f} s")
    print(
        f"  tracking adds {results['tracking_total']:.2f} s in all, of which mlflow's import "
        f"{results['mlflow_import']:.2f} s (mlflow + its SQL store) and the plugin's work "
        f"{results['tracking_without_mlflow_import']:.2f} s (target < 0.5 s)"
    )
    print(f"  tracked / hand hook = {results['tracked_over_hand_hook']:.2f} (goal: at most 1.1)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
