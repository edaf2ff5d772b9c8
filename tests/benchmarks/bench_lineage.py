"""What lineage costs: the digest of a large local file for ``evaluated_on`` against
a hand-written sha256 of the same bytes, and the attribution tags of a 20-node
pipeline (no request for a run the hook starts: they go with its creation).

1. digest: ``hook.evaluation.describe`` of a versionless local file of N bytes
   (default 1 GiB, written once in a temporary folder) vs a loop reading 1 MiB
   chunks into ``hashlib.sha256``; alternating, median of R repetitions. The file
   is read through the page cache after the first pass, as a second `kedro run`
   would read it.
2. attribution: ``hook.attribution.attribution_tags`` for a pipeline of 20 nodes in
   two namespaces, each saving a metrics dataset; median time per call.

Not collected by pytest (tests/benchmarks is excluded). Run from the repository root:

    .venv/bin/python tests/benchmarks/bench_lineage.py [--bytes 1073741824] [--reps 3]
"""

from __future__ import annotations

import argparse
import hashlib
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
    from kedro_metrics.hook.evaluation import describe

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1 << 30)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    ours, hand = bench_digest(args.bytes, args.reps)
    print(f"digest of {args.bytes:,} bytes: ours {ours:.2f} s, hand sha256 {hand:.2f} s, "
          f"ours/hand={ours / hand:.2f}")  # fmt: skip
    seconds, count = bench_attribution(args.reps)
    print(f"attribution of a 20-node pipeline: {seconds * 1e6:.0f} us, {count} tags, "
          "0 requests (sent with the run's creation)")  # fmt: skip


if __name__ == "__main__":
    main()
