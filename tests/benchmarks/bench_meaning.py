"""Filtering and sorting by value: ``--where ... --sort ...`` against a hand-written search.

On a loopback ``mlflow server`` (sqlite backend) holding R runs (default 1,000) that
carry what the kedro-metrics hook records for the meaning (the ``kedro_metrics.meaning``
and ``kedro_metrics.summaries`` tags, a summary key ``model_metrics.loss.min``), it
times, alternating, with the requests of each call counted in the server's access log:

1. ours: ``get_metrics(where=["model_metrics.accuracy>0.9"], sort="model_metrics.loss.min")``
   (records), and ``find_runs`` with the same conditions (what ``kedro metrics runs
   --where ... --sort ...`` does);
2. hand-written: ``MlflowClient.get_experiment_by_name``, then ``search_runs`` with
   ``metrics.`model_metrics.accuracy` > 0.9`` and ``metrics.`model_metrics.loss.min` ASC``,
   1,000 per page until no page token.

Both must give the same run ids in the same order. Not collected by pytest
(tests/benchmarks is excluded). Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_meaning.py [--runs 1000] [--reps 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]  # the repository, for tests.servers

from tests.servers import QUIET_ENV, MlflowServer, running_mlflow_server  # noqa: E402

for _name, _value in QUIET_ENV.items():
    os.environ.setdefault(_name, _value)

EXPERIMENT = "bench-meaning"
T0 = 1_700_000_000_000
WHERE = ["model_metrics.accuracy>0.9"]
SORT = "model_metrics.loss.min"
HAND_FILTER = "metrics.`model_metrics.accuracy` > 0.9"
HAND_ORDER = ["metrics.`model_metrics.loss.min` ASC"]
MEANING_TAG = json.dumps(
    {
        "model_metrics.loss": {"direction": "min", "format": ".4f", "summary": ["min"]},
        "model_metrics.accuracy": {"direction": "max", "format": "percent", "summary": []},
    }
)
SUMMARIES_TAG = json.dumps(["model_metrics.loss.min"])
OTHER_METRICS = 8


def seed(uri: str, runs: int) -> None:
    """R runs, one log_batch each: accuracy uniform in [0.8, 1.0) (about half above
    0.9), distinct ``loss.min`` values in shuffled order, 8 other metrics, param ``lr``,
    the meaning tags; start times one second apart."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    rng = random.Random(20240901)
    losses = [0.05 + index / runs for index in range(runs)]
    rng.shuffle(losses)
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(EXPERIMENT)
    for index in range(runs):
        start = T0 + index * 1000
        run_id = client.create_run(experiment_id, start_time=start,
                                   run_name=f"run-{index}").info.run_id  # fmt: skip
        loss_min = losses[index]
        metrics = [
            Metric("model_metrics.accuracy", rng.uniform(0.8, 1.0), start + 1, 0),
            Metric("model_metrics.loss.min", loss_min, start + 1, 0),
            Metric("model_metrics.loss", loss_min + rng.random(), start + 1, 0),
            *(Metric(f"model_metrics.m{m}", rng.random(), start + 1, 0)
              for m in range(OTHER_METRICS - 1)),
        ]  # fmt: skip
        tags = [
            RunTag("kedro.pipeline", "__default__"),
            RunTag("kedro_metrics.meaning", MEANING_TAG),
            RunTag("kedro_metrics.summaries", SUMMARIES_TAG),
        ]
        params = [Param("lr", str(rng.choice([0.1, 0.01, 0.001])))]
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run_id, end_time=start + 500)


def measured(server: MlflowServer, call: Callable[[], object]) -> tuple[float, list, object]:
    """(seconds, the (method, path) of each request it made, its result)."""
    before = len(server.requests())
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    time.sleep(0.2)  # let uvicorn flush its access log (outside the timed region)
    made = [(method, path) for method, path, _ in server.requests()[before:]]
    return seconds, made, result


def run_ids(found: list) -> list[str]:
    """Run ids in order of first appearance (records repeat a run per metric)."""
    return list(dict.fromkeys(item["run_id"] if isinstance(item, dict) else item for item in found))


def report(
    cfg: argparse.Namespace,
    times: dict[str, list[float]],
    made: dict[str, list[tuple[str, str]]],
    results: dict[str, list[str]],
) -> None:
    """Check every case gave the hand-written search's run ids in its order, then print
    the table, ours' extra requests and the last line."""
    cases = list(times)
    expected = results["hand MlflowClient.search_runs"]
    failed = [name for name, ids in results.items() if ids != expected]
    for name in failed:
        ids = results[name]
        first = next((i for i, (a, b) in enumerate(zip(ids, expected)) if a != b), None)
        print(f"FAILED: {name} gave {len(ids)} runs, the hand-written search "
              f"{len(expected)}; first difference at position {first}")  # fmt: skip
    assert not failed, f"different run ids or order: {failed}"
    print(f"{len(expected)} of {cfg.runs} runs match, same ids in the same order")

    hand_median = statistics.median(times["hand MlflowClient.search_runs"])
    print()
    print(f"| case | requests | median ({cfg.reps} reps) | ours/hand |")
    print("|---|---|---|---|")
    for name in cases:
        median = statistics.median(times[name])
        print(f"| {name} | {len(made[name])} | {median * 1000:.0f} ms | "
              f"{median / hand_median:.2f} |")  # fmt: skip
    hand_made = Counter(made["hand MlflowClient.search_runs"])
    for name in cases[:2]:
        extra = Counter(made[name]) - hand_made
        if extra:
            print(f"\nrequests of {name} beyond the hand-written search's:")
            for (method, path), count in sorted(extra.items()):
                print(f"  {count} x {method} {path}")
    ours_median = statistics.median(times["ours get_metrics"])
    print()
    print(f"where_sort ours/hand={ours_median / hand_median:.2f} "
          f"requests ours={len(made['ours get_metrics'])} "
          f"hand={len(made['hand MlflowClient.search_runs'])}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    cfg = parser.parse_args(argv)

    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    import kedro_metrics
    from kedro_metrics.reading import query

    workdir = Path(tempfile.mkdtemp(prefix="bench-meaning-"))
    try:
        backend = f"sqlite:///{workdir / 'backend.db'}"
        started = time.perf_counter()
        seed(backend, cfg.runs)
        print(f"seeded {cfg.runs} runs in {time.perf_counter() - started:.1f} s")
        with running_mlflow_server(backend, workdir / "server") as server:
            url = server.url
            client = MlflowClient(tracking_uri=url)

            def ours_records() -> list[str]:
                found = kedro_metrics.get_metrics(
                    where=WHERE, sort=SORT, tracking_uri=url, experiment=EXPERIMENT
                )
                return run_ids(found)

            def ours_runs() -> list[str]:
                scope = query.scope_for(tracking_uri=url, experiment=EXPERIMENT)
                conditions, order = query.parse_filters(WHERE, SORT)
                runs = query.find_runs(scope, where=conditions, sort=order, limit=None)
                return [run.run_id for run in runs]

            def hand() -> list[str]:
                experiment = client.get_experiment_by_name(EXPERIMENT)
                found, token = [], None
                while True:
                    page = client.search_runs(
                        [experiment.experiment_id], filter_string=HAND_FILTER,
                        run_view_type=ViewType.ACTIVE_ONLY, max_results=1000,
                        order_by=HAND_ORDER, page_token=token,
                    )  # fmt: skip
                    found.extend(run.info.run_id for run in page)
                    token = page.token
                    if not token:
                        return found

            cases = {
                "ours get_metrics": ours_records,
                "ours find_runs (runs command)": ours_runs,
                "hand MlflowClient.search_runs": hand,
            }
            for call in cases.values():
                call()  # warm the clients and the server
            times: dict[str, list[float]] = {name: [] for name in cases}
            made: dict[str, list[tuple[str, str]]] = {}
            results: dict[str, list[str]] = {}
            for _ in range(cfg.reps):
                for name, call in cases.items():  # alternating: ours, ours, hand, ours, ...
                    seconds, requests, result = measured(server, call)
                    times[name].append(seconds)
                    if name in made and len(made[name]) != len(requests):
                        print(f"note: {name} made {len(requests)} requests, "
                              f"earlier {len(made[name])}")  # fmt: skip
                    made[name], results[name] = requests, result

        report(cfg, times, made, results)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
