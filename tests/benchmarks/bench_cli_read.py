"""The reading commands against a hand-written MLflow script doing the same job.

The example project (docs/example) is copied to a temporary folder and run twice
(`kedro run`, learning rates 0.5 and 0.02), on its embedded sqlite store. Then, in
fresh processes, alternating, median of R runs each:

- ``kedro metrics runs --format json`` against a script that imports mlflow, finds
  the experiment and lists its runs (id, name, status, start) as JSON;
- ``kedro metrics compare --format json`` (latest~1 against latest) against a
  script that finds the two newest runs and prints each key's two values;
- ``kedro metrics export --format json`` (latest) against a script that prints the
  newest run's metrics.

Prints each median and the ratio ours / hand (issue 19's goal: at most 1.1). A
`kedro metrics` command also starts Kedro's CLI (its plugins' commands, the
project's bootstrap), which a bare script does not: ``kedro --help`` in the same
project is timed alongside, and ours minus hand minus that is what is left to us.
The same scripts are timed a third time as a hand-written project command
(``kedro hand-runs`` and so on, from a ``cli.py`` the copy of the project gets, the
way Kedro's docs add a command): ours / that is what the plugin costs next to any
other `kedro` command doing the same job.

Not collected by pytest (tests/benchmarks is excluded). Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_cli_read.py [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example"

_FIND = """
import json, sys
from mlflow import MlflowClient
client = MlflowClient("sqlite:///mlflow.db")
experiment = client.get_experiment_by_name("metrics_example")
runs = client.search_runs([experiment.experiment_id], order_by=["attribute.start_time DESC"],
                          max_results={count})
"""
HAND = {
    "runs": _FIND.format(count=100)
    + """
print(json.dumps([{"run_id": r.info.run_id, "name": r.info.run_name, "status": r.info.status,
                   "start_time": r.info.start_time} for r in runs]))
""",
    "compare": _FIND.format(count=2)
    + """
new, old = runs
print(json.dumps([{"name": k, "old": old.data.metrics.get(k), "new": v}
                  for k, v in sorted(new.data.metrics.items())]))
""",
    "export": _FIND.format(count=1)
    + """
print(json.dumps(runs[0].data.metrics))
""",
}
HAND_COMMANDS = """
import click


@click.group()
def cli():
    pass


def _command(name, script):
    @cli.command(name)
    def run():
        exec(script, {})


"""


def hand_commands_module() -> str:
    """The project ``cli.py`` that runs each hand script as `kedro hand-<command>`."""
    return HAND_COMMANDS + "".join(
        f"_command({'hand-' + name!r}, {script!r})\n" for name, script in HAND.items()
    )


OURS = {
    "runs": ["runs", "--format", "json"],
    "compare": ["compare", "latest~1", "latest", "--format", "json"],
    "export": ["export", "--format", "json"],
}


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KEDRO_"))}
    return {**clean, "KEDRO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1",
            "MLFLOW_DISABLE_TELEMETRY": "true"}  # fmt: skip


def timed(command: list[str], project: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=project, env=env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return elapsed


def measure(reps: int) -> tuple[dict[str, tuple[float, float, float]], float]:
    """Medians of ours, the hand script and the hand-written command, and of `kedro --help`."""
    with tempfile.TemporaryDirectory(prefix="kedro-metrics-cli-read-") as tmp:
        project = Path(tmp) / "example"
        shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("*.db", "mlruns"))
        (project / "src" / "metrics_example" / "cli.py").write_text(hand_commands_module())
        for rate in ("0.5", "0.02"):
            timed([sys.executable, "-m", "kedro", "run", "--params",
                   f"model.learning_rate={rate}"], project)  # fmt: skip
        kedro = [sys.executable, "-m", "kedro"]
        times: dict[str, tuple[list[float], list[float], list[float]]] = {
            c: ([], [], []) for c in OURS
        }
        kedro_cli: list[float] = []
        for _ in range(reps):
            kedro_cli.append(timed([*kedro, "--help"], project))
            for command, (ours, hand, hand_command) in times.items():
                ours.append(timed([*kedro, "metrics", *OURS[command]], project))
                hand.append(timed([sys.executable, "-c", HAND[command]], project))
                hand_command.append(timed([*kedro, f"hand-{command}"], project))
    median = statistics.median
    medians = {c: (median(o), median(h), median(k)) for c, (o, h, k) in times.items()}
    return medians, median(kedro_cli)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    results, kedro_cli = measure(args.reps)
    print(f"reading commands on the example's sqlite store, median of {args.reps}:")
    print(f"  kedro --help (Kedro's CLI start) {kedro_cli:.2f} s")
    for command, (ours, hand, hand_command) in results.items():
        print(f"  {command:<8} ours {ours:.2f} s, hand script {hand:.2f} s, "
              f"ours/hand={ours / hand:.2f} (goal: at most 1.1), "
              f"left to us {ours - hand - kedro_cli:+.2f} s; "
              f"hand-written kedro command {hand_command:.2f} s, "
              f"ours/command={ours / hand_command:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
