"""What lineage costs: the digest of a large local file for ``evaluated_on`` against
a hand-written sha256 of the same bytes, and the attribution tags of a 20-node
pipeline (no request for a run the hook starts: they go with its creation).

1. digest: ``io.data_digest.describe`` of a versionless local file of N bytes
   (default 1 GiB, written once in a temporary folder) vs a loop reading 1 MiB
   chunks into ``hashlib.sha256``; alternating, median of R repetitions. The file
   is read through the page cache after the first pass, as a second `kedro run`
   would read it.
2. attribution: ``hook.attribution.attribution_tags`` for a pipeline of 20 nodes in
   two namespaces, each saving a metrics dataset; median time per call.
3. model links: saves of 100 points to a run of a real `mlflow server` (through a
   loopback proxy that counts the requests), with no model in play, with an
   active model (``mlflow.set_active_model``), and after the saving thread logged
   a model to the run (its outputs are read once), against the same points sent
   by ``mlflow.log_metrics(..., model_id=...)`` (which reads the run each call) and
   by a hand-written ``MlflowClient.log_batch`` of linked metrics; requests per
   save and median time per save, alternating, S saves each.

Not collected by pytest (tests/benchmarks is excluded). Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_lineage.py [--bytes 1073741824] [--reps 3]
        [--saves 30]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]


class _File:
    """The smallest Kedro-like dataset over a local file (what evaluation reads)."""

    def __init__(self, path: Path):
        self._path = path

    def _describe(self) -> dict:
        return {"filepath": str(self._path), "load_args": {}}


def hand_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def bench_digest(size: int, reps: int) -> tuple[float, float]:
    from kedro_metrics.io.data_digest import describe

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.bin"
        block = bytes(range(256)) * 4096  # 1 MiB
        with open(path, "wb") as handle:
            for _ in range(size // len(block)):
                handle.write(block)
        hand_sha256(path)  # into the page cache, for both
        ours, hand = [], []
        for _ in range(reps):
            start = time.perf_counter()
            describe("data", _File(path))
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            hand_sha256(path)
            hand.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(hand)


def bench_attribution(reps: int) -> tuple[float, int]:
    from kedro.pipeline import node, pipeline

    from kedro_metrics.hook.attribution import attribution_tags
    from kedro_metrics.io.datasets import MlflowMetricsDataSet

    def step(x):
        return {"v": 1.0}

    nodes = [node(step, "features", f"scores_{i}", name=f"score_{i}") for i in range(10)]
    whole = pipeline(nodes, namespace="a", inputs={"features"}) + pipeline(
        nodes, namespace="b", inputs={"features"}
    )
    datasets = {out: MlflowMetricsDataSet() for n in whole.nodes for out in n.outputs}
    times = []
    for _ in range(reps * 100):
        start = time.perf_counter()
        tags = attribution_tags(whole, datasets)
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(tags)


def bench_links(saves: int) -> dict[str, tuple[float, float]]:
    """Median seconds and requests per save, by way of saving (see the module)."""
    import threading

    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelOutput, Metric

    from kedro_metrics import MlflowMetricsDataSet
    from tests.fault_proxy import FaultProxy
    from tests.servers import running_mlflow_server

    values = {f"m{i}": float(i) for i in range(100)}
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_mlflow_server(
            f"sqlite:///{Path(tmp) / 'backend.db'}", Path(tmp) / "server"
        ) as server,
        FaultProxy(server.url, [], path_part="/api/") as proxy,
    ):
        mlflow.set_tracking_uri(proxy.url)
        client = MlflowClient(proxy.url)
        with mlflow.start_run() as run:
            run_id = run.info.run_id
            made: list = []  # a model made in another thread: this one logged none
            maker = threading.Thread(target=lambda: made.append(mlflow.create_external_model()))
            maker.start()
            maker.join()
            model_id = made[0].model_id

            def hand() -> None:
                now = int(time.time() * 1000)
                client.log_batch(run_id, metrics=[
                    Metric(k, v, now, 0, model_id=model_id) for k, v in values.items()
                ])  # fmt: skip

            # name -> (set-up, save, tear-down); only the save is timed and counted
            ways = {
                "no model": (None, lambda: MlflowMetricsDataSet(prefix="plain").save(values), None),
                "active model": (
                    lambda: mlflow.set_active_model(model_id=model_id),
                    lambda: MlflowMetricsDataSet(prefix="active").save(values),
                    mlflow.clear_active_model,
                ),
                "mlflow.log_metrics(model_id=)": (
                    None, lambda: mlflow.log_metrics(values, model_id=model_id), None
                ),
                "hand log_batch": (None, hand, None),
            }  # fmt: skip
            times: dict[str, list[float]] = {name: [] for name in ways}
            requests: dict[str, int] = dict.fromkeys(ways, 0)
            for _ in range(saves):
                for name, (set_up, save, tear_down) in ways.items():
                    if set_up is not None:
                        set_up()
                    before = len(proxy.requests)
                    started = time.perf_counter()
                    save()
                    times[name].append(time.perf_counter() - started)
                    requests[name] += len(proxy.requests) - before
                    if tear_down is not None:
                        tear_down()
            logged = mlflow.create_external_model(name="logged here")  # as log_model does:
            client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, 0)])  # an output
            before = len(proxy.requests)
            for index in range(saves):
                MlflowMetricsDataSet(prefix=f"after{index}").save(values)
            after_model = len(proxy.requests) - before
            linked = len(client.get_logged_model(logged.model_id).metrics)
        mlflow.set_tracking_uri(None)
    if linked != saves * len(values):
        raise SystemExit(f"{linked} points linked to the model, not {saves * len(values)}")
    result = {name: (statistics.median(times[name]), requests[name] / saves) for name in ways}
    result["after the thread logged a model"] = (float("nan"), after_model / saves)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--saves", type=int, default=30)
    args = parser.parse_args()
    ours, hand = bench_digest(args.bytes, args.reps)
    print(f"digest of {args.bytes:,} bytes: ours {ours:.2f} s, hand sha256 {hand:.2f} s, "
          f"ours/hand={ours / hand:.2f}")  # fmt: skip
    seconds, count = bench_attribution(args.reps)
    print(f"attribution of a 20-node pipeline: {seconds * 1e6:.0f} us, {count} tags, "
          "0 requests (sent with the run's creation)")  # fmt: skip
    links = bench_links(args.saves)
    hand = links["hand log_batch"][0]
    for name, (median, requests) in links.items():
        timing = (
            f"{median * 1e3:.1f} ms, ours/hand={median / hand:.2f}"
            if not math.isnan(median)
            else ""
        )
        print(f"save of 100 points, {name}: {requests:.2f} requests per save {timing}")


if __name__ == "__main__":
    main()
