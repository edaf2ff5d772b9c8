#!/usr/bin/env python
"""kedro-metrics performance benchmark (see tests/benchmarks/README.md).

In one process and, per case, on the same store, it times

1. ours: ``MlflowMetricsDataSet(prefix="", run_id=..., tracking_uri=...).save(data)``;
2. per-point: one ``MlflowClient.log_metric`` call per point (what most plugins do);
   sampled where a full run would take minutes: the first N points are timed and
   the time is extrapolated to the whole workload, and the output says so;
3. the ceiling: a hand-written sequential ``MlflowClient.log_batch`` loop of
   ``mlflow.entities.Metric`` objects, 1,000 per call, the objects built inside the
   timed region (what a careful user writes by hand);

for the workloads (a) 10 metrics x 1,000 steps, (b) 1 metric x 50,000 steps,
(c) 1,000 scalar metrics at one step, on (i) a local sqlite file, (ii) a real
``mlflow server`` on 127.0.0.1 with a sqlite backend, (iii) the same server on
PostgreSQL and (iv) that PostgreSQL-backed server behind a loopback proxy adding
25 ms per request. Each repetition logs to a fresh run; implementations alternate
(ours, ceiling, per-point, ours, ...); the median of the repetitions is reported.

It also times ``load()`` (and counts its requests in the server's access log),
async saving, ``kedro --help`` with and without the plugin, and the peak memory
of saving 1,000,000 points. Full runs write docs/performance.md. The last line
printed is ``ours/ceiling=<min over cases> perpoint/ours=<min over cases>``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import gc
import io
import json
import logging
import os
import platform
import pstats
import random
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_OUTPUT = REPO / "docs" / "performance.md"
sys.path[:0] = [str(HERE.parent), str(HERE)]  # tests/ (servers.py) and this folder

import bench_memory  # noqa: E402
import servers  # noqa: E402  (tests/servers.py)
from latency_proxy import LatencyProxy  # noqa: E402

os.environ.update(servers.QUIET_ENV)  # before mlflow is imported
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_RUN_ID", None)

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402

import kedro_metrics  # noqa: E402
from kedro_metrics import MlflowMetricsDataSet, points, store  # noqa: E402

BATCH = 1000  # MLflow's per-request metric limit, used by the ceiling
PROXY_DELAY = 0.025
LOAD_K = 10  # metrics of workload (a) read back by load()
#: Cases whose first save takes less than this get SMALL_CASE_REPS_FACTOR x the
#: repetitions for ours and the ceiling (per-point keeps the configured number).
SMALL_CASE_SECONDS = 1.0
SMALL_CASE_REPS_FACTOR = 5

STORES = {
    "sqlite": "(i) sqlite file",
    "server": "(ii) mlflow server, sqlite",
    "postgres": "(iii) mlflow server, PostgreSQL",
    "proxy": "(iv) (iii) + 25 ms/request proxy",
}
WORKLOADS = {
    "a": "10 metrics x 1,000 steps",
    "b": "1 metric x 50,000 steps",
    "c": "1,000 scalars at one step",
}
EXTRAS = ("load", "async", "kedro-help", "memory", "run-overhead")


def make_workload(name: str) -> dict[str, Any]:
    if name == "a":
        return {
            f"metric_{k}": [{"value": k + i * 1e-3, "step": i} for i in range(1000)]
            for k in range(10)
        }
    if name == "b":
        return {"loss": [{"value": 1.0 / (i + 1), "step": i} for i in range(50_000)]}
    if name == "c":
        return {f"score_{k:04d}": k * 1e-3 for k in range(1000)}
    raise ValueError(f"unknown workload {name!r}")


def count_points(data: dict[str, Any]) -> int:
    return sum(len(v) if isinstance(v, list) else 1 for v in data.values())


def iter_points(data: dict[str, Any]) -> Iterator[tuple[str, float, int]]:
    for key, entry in data.items():
        if isinstance(entry, list):
            for point in entry:
                yield key, point["value"], point["step"]
        else:
            yield key, entry, 0


# --- the three implementations ----------------------------------------------------


def save_ours(uri: str, run_id: str, data: dict[str, Any], **kwargs: Any) -> float:
    start = time.perf_counter()
    MlflowMetricsDataSet(prefix="", run_id=run_id, tracking_uri=uri, **kwargs).save(data)
    return time.perf_counter() - start


def save_ceiling(client: MlflowClient, run_id: str, data: dict[str, Any]) -> float:
    """The hand-written sequential log_batch loop a careful user writes."""
    start = time.perf_counter()
    now = int(time.time() * 1000)
    batch: list[Metric] = []
    for key, entry in data.items():
        if isinstance(entry, list):
            for point in entry:
                batch.append(Metric(key, point["value"], now, point["step"]))
                if len(batch) == BATCH:
                    client.log_batch(run_id, metrics=batch)
                    batch = []
        else:
            batch.append(Metric(key, entry, now, 0))
            if len(batch) == BATCH:
                client.log_batch(run_id, metrics=batch)
                batch = []
    if batch:
        client.log_batch(run_id, metrics=batch)
    return time.perf_counter() - start


def save_per_point(
    client: MlflowClient, run_id: str, data: dict[str, Any], limit: int | None
) -> tuple[float, int]:
    """One log_metric per point, for the first ``limit`` points (all when None)."""
    start = time.perf_counter()
    now = int(time.time() * 1000)
    done = 0
    for key, value, step in iter_points(data):
        if done == limit:
            break
        client.log_metric(run_id, key, value, timestamp=now, step=step)
        done += 1
    return time.perf_counter() - start, done


# --- stores -----------------------------------------------------------------------


@dataclass
class Target:
    """One store the three implementations are timed against."""

    name: str
    uri: str
    server: servers.MlflowServer | None = None
    client: MlflowClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = MlflowClient(tracking_uri=self.uri)

    @property
    def label(self) -> str:
        return STORES[self.name]

    def new_experiment(self, what: str) -> str:
        return self.client.create_experiment(f"bench-{self.name}-{what}-{time.time_ns()}")

    def new_run(self, experiment_id: str, name: str) -> str:
        return self.client.create_run(experiment_id, run_name=name).info.run_id

    def server_requests(self) -> int:
        assert self.server is not None
        return len(self.server.requests("/mlflow/"))

    def settled_requests(self) -> int:
        """The access-log count once it stops growing (log lines may trail a response)."""
        count, stable_since = self.server_requests(), time.monotonic()
        while time.monotonic() - stable_since < 0.3:
            time.sleep(0.05)
            now = self.server_requests()
            if now != count:
                count, stable_since = now, time.monotonic()
        return count

    def warm_up(self) -> None:
        """Open connections and pools for all three implementations, untimed."""
        experiment = self.new_experiment("warm-up")
        run_id = self.new_run(experiment, "warm-up")
        save_ours(self.uri, run_id, {"warm.ours": [0.0, 1.0]})
        self.client.log_batch(run_id, metrics=[Metric("warm.ceiling", 0.0, 0, 0)])
        self.client.log_metric(run_id, "warm.per_point", 0.0, timestamp=0, step=0)


# --- results ----------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class CaseResult:
    store: str
    workload: str
    points: int
    ours: list[float] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)
    per_point: list[float] = field(default_factory=list)  # extrapolated when sampled
    per_point_sample: int | None = None  # points actually timed, when sampled

    @property
    def name(self) -> str:
        return f"{self.store}/{self.workload}"

    @property
    def ours_s(self) -> float:
        return median(self.ours)

    @property
    def ceiling_s(self) -> float:
        return median(self.ceiling)

    @property
    def per_point_s(self) -> float:
        return median(self.per_point)

    @property
    def ours_vs_ceiling(self) -> float:
        """Throughput ratio, higher is better: ceiling time / our time."""
        return self.ceiling_s / self.ours_s

    @property
    def per_point_vs_ours(self) -> float:
        return self.per_point_s / self.ours_s


@dataclass
class LoadResult:
    store: str
    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    round_trip_ok: bool = False
    #: The hand-written loop's times, alternating with ours.
    hand: list[float] = field(default_factory=list)
    hand_equal: bool = False

    @property
    def ours_vs_hand(self) -> float:
        """Hand-loop time / our time: higher is better."""
        return median(self.hand) / median(self.seconds)


@dataclass
class AsyncResult:
    store: str
    available: bool
    reason: str = ""
    sync: list[float] = field(default_factory=list)
    blocked: list[float] = field(default_factory=list)
    flushed: list[float] = field(default_factory=list)
    complete: bool = True


@dataclass
class HelpResult:
    with_plugin: list[float] = field(default_factory=list)
    without_plugin: list[float] = field(default_factory=list)
    with_cpu: list[float] = field(default_factory=list)  # user + system seconds
    without_cpu: list[float] = field(default_factory=list)
    mlflow_imported: bool | None = None
    plugin_load: list[float] = field(default_factory=list)  # its entry points' load()
    plugin_listed: bool = False
    error: str = ""

    @property
    def difference_ms(self) -> float:
        return (median(self.with_plugin) - median(self.without_plugin)) * 1000

    @property
    def paired_difference_ms(self) -> float:
        """Median of (with - without) over back-to-back pairs: less drift than medians."""
        pairs = [w - wo for w, wo in zip(self.with_plugin, self.without_plugin)]
        return median(pairs) * 1000

    @property
    def cpu_difference_ms(self) -> float:
        return (median(self.with_cpu) - median(self.without_cpu)) * 1000


@dataclass
class Results:
    config: argparse.Namespace
    cases: list[CaseResult] = field(default_factory=list)
    loads: list[LoadResult] = field(default_factory=list)
    asyncs: list[AsyncResult] = field(default_factory=list)
    kedro_help: HelpResult | None = None
    memory: dict[str, Any] | None = None
    run_overhead: dict[str, Any] | None = None
    skipped: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    load_at_start: float = field(default_factory=lambda: os.getloadavg()[0])


# --- cases ------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, flush=True)


def per_point_limit(target: Target, total: int, cfg: argparse.Namespace) -> int | None:
    """How many points the per-point implementation times (None: all of them)."""
    if target.name == "sqlite":
        return None if total <= cfg.per_point_full_limit else min(total, cfg.sample_sqlite)
    return min(total, cfg.sample_server)


def verify_saved(target: Target, run_id: str, data: dict[str, Any], who: str) -> None:
    """Every metric key and the longest history are all there (untimed)."""
    keys = set(target.client.get_run(run_id).data.metrics)
    if keys != set(data):
        raise AssertionError(f"{who} on {target.name}: {len(keys)} keys, expected {len(data)}")
    key = max(data, key=lambda k: len(data[k]) if isinstance(data[k], list) else 1)
    expected = len(data[key]) if isinstance(data[key], list) else 1
    got = len(target.client.get_metric_history(run_id, key))
    if got != expected:
        raise AssertionError(
            f"{who} on {target.name}: {got} points of {key!r}, expected {expected}"
        )


def run_case(target: Target, workload: str, cfg: argparse.Namespace) -> tuple[CaseResult, str]:
    data = make_workload(workload)
    total = count_points(data)
    result = CaseResult(target.name, workload, total)
    limit = per_point_limit(target, total, cfg)
    if limit is not None and limit < total:
        result.per_point_sample = limit
    experiment = target.new_experiment(workload)
    last_ours_run = ""
    reps = cfg.reps
    rep = 0
    order = random.Random(result.name)  # seeded per case: a run can be repeated
    while rep < reps:
        # Sub-second cases are noisy: give ours and the ceiling more repetitions
        # (still alternating); per-point keeps cfg.reps.
        # Who goes first is drawn for every repetition: a server answers every 4th
        # 1,000-metric log_batch slowly (0.3 s against 0.13 s, on sqlite and on
        # PostgreSQL alike), and any fixed order (ABBA's included) of period 2 or 4
        # hands all those slow answers to the same side.
        pair = ("ours", "ceiling") if order.random() < 0.5 else ("ceiling", "ours")
        impls = (*pair, "per-point") if rep < cfg.reps else pair
        for impl in impls:
            run_id = target.new_run(experiment, f"{impl}-{rep}")
            gc.collect()
            if impl == "ours":
                result.ours.append(save_ours(target.uri, run_id, data))
                last_ours_run = run_id
            elif impl == "ceiling":
                result.ceiling.append(save_ceiling(target.client, run_id, data))
            else:
                elapsed, done = save_per_point(target.client, run_id, data, limit)
                result.per_point.append(elapsed * total / done)
            if rep == 0 and impl != "per-point":
                verify_saved(target, run_id, data, impl)
        if rep == 0 and result.ours[0] < SMALL_CASE_SECONDS:
            reps = cfg.reps * SMALL_CASE_REPS_FACTOR
        if rep < cfg.reps:
            log(
                f"  {result.name} rep {rep + 1}/{reps}: ours {result.ours[-1]:.3f}s "
                f"ceiling {result.ceiling[-1]:.3f}s per-point {result.per_point[-1]:.2f}s"
                + (f" (first {limit} points, extrapolated)" if result.per_point_sample else "")
            )
        rep += 1
    if reps > cfg.reps:
        log(
            f"  {result.name} reps {cfg.reps + 1}-{reps} (ours and ceiling only): ours "
            + " ".join(f"{t:.3f}" for t in result.ours[cfg.reps :])
            + " ceiling "
            + " ".join(f"{t:.3f}" for t in result.ceiling[cfg.reps :])
        )
    return result, last_ours_run


def canonical(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, entry in data.items():
        if isinstance(entry, list):
            history = [{"value": p["value"], "step": p["step"]} for p in entry]
            out[key] = history[0] if len(history) == 1 else history
        else:
            out[key] = {"value": entry, "step": 0}
    return out


def load_by_hand(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The hand-written read a careful user writes: the run's keys, then each key's
    history, one request after another, in the dataset's load form."""
    keys = sorted(client.get_run(run_id).data.metrics)
    loaded: dict[str, Any] = {}
    for key in keys:
        history = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        loaded[key] = [{"value": m.value, "step": m.step} for m in history]
    return loaded


def run_load(
    target: Target, run_id: str, data: dict[str, Any], cfg: argparse.Namespace
) -> LoadResult:
    """``load()`` of the run, alternating with ``load_by_hand``, as many times as a
    sub-second case (``SMALL_CASE_REPS_FACTOR`` x ``cfg.reps``: one read is noisy);
    our requests counted in the server's access log."""
    result = LoadResult(target.name)
    dataset = MlflowMetricsDataSet(prefix="", run_id=run_id, tracking_uri=target.uri)
    expected = canonical(data)
    for _ in range(cfg.reps * SMALL_CASE_REPS_FACTOR):
        before = target.settled_requests() if target.server else 0
        gc.collect()
        start = time.perf_counter()
        loaded = dataset.load()
        result.seconds.append(time.perf_counter() - start)
        if target.server:
            result.requests.append(target.settled_requests() - before)
        result.round_trip_ok = loaded == expected
        gc.collect()
        start = time.perf_counter()
        by_hand = load_by_hand(target.client, run_id)
        result.hand.append(time.perf_counter() - start)
        result.hand_equal = by_hand == expected
    requests = f", requests {result.requests} (limit {LOAD_K + 1})" if result.requests else ""
    log(
        f"  load {target.name}: {median(result.seconds):.3f}s{requests}, "
        f"round trip {'ok' if result.round_trip_ok else 'MISMATCH'}; by hand "
        f"{median(result.hand):.3f}s ({'same' if result.hand_equal else 'DIFFERENT'}), "
        f"ours/hand {result.ours_vs_hand:.2f}"
    )
    return result


def async_api() -> tuple[Callable[[], Any] | None, str]:
    """``kedro_metrics.store.flush`` and the ``async_logging`` argument, if they exist."""
    import inspect

    parameters = inspect.signature(MlflowMetricsDataSet.__init__).parameters
    flush = getattr(store, "flush", None)
    missing = []
    if "async_logging" not in parameters:
        missing.append("MlflowMetricsDataSet(async_logging=...)")
    if not callable(flush):
        missing.append("kedro_metrics.store.flush()")
    if missing:
        return None, "not available: this kedro-metrics has no " + " and no ".join(missing)
    return flush, ""


def run_async(target: Target, cfg: argparse.Namespace) -> AsyncResult:
    flush, reason = async_api()
    if flush is None:
        log(f"  async {target.name}: {reason}")
        return AsyncResult(target.name, available=False, reason=reason)
    result = AsyncResult(target.name, available=True)
    data = make_workload("a")
    experiment = target.new_experiment("async")
    for rep in range(cfg.reps):
        run_id = target.new_run(experiment, f"sync-{rep}")
        gc.collect()
        result.sync.append(save_ours(target.uri, run_id, data, async_logging=False))
        run_id = target.new_run(experiment, f"async-{rep}")
        gc.collect()
        start = time.perf_counter()
        MlflowMetricsDataSet(
            prefix="", run_id=run_id, tracking_uri=target.uri, async_logging=True
        ).save(data)
        result.blocked.append(time.perf_counter() - start)
        flush()
        result.flushed.append(time.perf_counter() - start)
        try:
            verify_all(target, run_id, data)
        except AssertionError as exc:
            result.complete = False
            log(f"  async {target.name}: POINTS MISSING after flush: {exc}")
    log(
        f"  async {target.name}: save blocks {median(result.blocked):.3f}s, flush returns "
        f"after {median(result.flushed):.3f}s, sync save {median(result.sync):.3f}s"
    )
    return result


def verify_all(target: Target, run_id: str, data: dict[str, Any]) -> None:
    for key, entry in data.items():
        got = len(target.client.get_metric_history(run_id, key))
        if got != len(entry):
            raise AssertionError(f"{got} of {len(entry)} points of {key!r}")


def run_store(target: Target, cfg: argparse.Namespace, results: Results) -> None:
    log(f"\n== {target.label}: {target.uri}")
    target.warm_up()
    load_run = ""
    for workload in WORKLOADS:
        if case_selected(cfg, target.name, workload):
            case, last_ours_run = run_case(target, workload, cfg)
            results.cases.append(case)
            if workload == "a":
                load_run = last_ours_run
    if extra_selected(cfg, "load"):
        if not load_run:  # workload (a) was not run: save it once, untimed
            load_run = target.new_run(target.new_experiment("load"), "load")
            save_ours(target.uri, load_run, make_workload("a"))
        results.loads.append(run_load(target, load_run, make_workload("a"), cfg))
    if extra_selected(cfg, "async"):
        results.asyncs.append(run_async(target, cfg))


# --- kedro --help -----------------------------------------------------------------

#: Runs Kedro's CLI with the kedro-metrics entry points filtered out ("without") or
#: not ("with"). Both do the same filtering work, so the plugin is the only difference.
HELP_LAUNCHER = r"""
import atexit, importlib.metadata as md, sys, time
drop = sys.argv.pop(1) == "without"
def _ours(ep):
    dist = getattr(ep, "dist", None)
    name = (getattr(dist, "name", None) or "").lower().replace("_", "-")
    return name == "kedro-metrics" or ep.value.split(":")[0].split(".")[0] == "kedro_metrics"
_entry_points, _distributions = md.entry_points, md.distributions
def entry_points(**params):
    found = _entry_points(**params)
    # Python < 3.12 returns a dict of group -> entry points when given no selection.
    flat = [ep for group in found.values() for ep in group] if isinstance(found, dict) else found
    kept = md.EntryPoints(ep for ep in flat if not _ours(ep))
    return kept if drop else found
def distributions(**params):
    found = list(_distributions(**params))
    kept = [d for d in found if (d.metadata["Name"] or "").lower().replace("_", "-") != "kedro-metrics"]
    return iter(kept if drop else found)
md.entry_points, md.distributions = entry_points, distributions
_load, _spent = md.EntryPoint.load, [0.0]
def load(self):
    start = time.perf_counter()
    try:
        return _load(self)
    finally:
        if _ours(self):
            _spent[0] += time.perf_counter() - start
md.EntryPoint.load = load
atexit.register(lambda: sys.stderr.write(
    f"\nBENCH mlflow_imported={'mlflow' in sys.modules} plugin_load_s={_spent[0]:.6f}\n"))
from kedro.framework.cli import main
sys.argv = ["kedro", *sys.argv[1:]]
main()
"""


def run_kedro_help(cfg: argparse.Namespace, workdir: Path) -> HelpResult:
    result = HelpResult()
    kedro_cli = Path(sys.executable).with_name("kedro")
    env = {**os.environ, **servers.QUIET_ENV}
    made = subprocess.run(
        [str(kedro_cli), "new", "--name", "benchproj", "--tools", "none", "--example", "n",
         "--telemetry", "no"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    project = workdir / "benchproj"
    if made.returncode != 0 or not project.is_dir():
        result.error = f"`kedro new` failed: {made.stderr[-800:]}"
        log(f"  kedro --help: {result.error}")
        return result
    for run in range(-1, cfg.help_runs):  # run -1 warms the file cache, untimed
        for mode in ("with", "without") if run % 2 else ("without", "with"):
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", HELP_LAUNCHER, mode, "--help"],
                cwd=project, env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            elapsed = time.perf_counter() - start
            cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
                cpu_after.ru_stime - cpu_before.ru_stime
            )
            if done.returncode != 0:
                result.error = (
                    f"kedro --help ({mode}) exited {done.returncode}: {done.stderr[-800:]}"
                )
                log(f"  kedro --help: {result.error}")
                return result
            listed = "kedro-metrics" in done.stdout
            if mode == "with":
                result.plugin_listed = listed
                result.mlflow_imported = "mlflow_imported=True" in done.stderr
                loaded = re.search(r"plugin_load_s=([\d.]+)", done.stderr)
                if loaded and run >= 0:
                    result.plugin_load.append(float(loaded.group(1)))
            elif listed:
                result.error = "the 'without' launcher still lists kedro-metrics commands"
            if run >= 0:
                (result.with_plugin if mode == "with" else result.without_plugin).append(elapsed)
                (result.with_cpu if mode == "with" else result.without_cpu).append(cpu)
    log(
        f"  kedro --help: with plugin {median(result.with_plugin) * 1000:.0f} ms, without "
        f"{median(result.without_plugin) * 1000:.0f} ms, difference {result.difference_ms:.0f} ms "
        f"(paired {result.paired_difference_ms:.0f} ms, CPU time difference "
        f"{result.cpu_difference_ms:.0f} ms, loading the plugin's entry "
        f"points {median(result.plugin_load) * 1000:.1f} ms)"
        f" (plugin commands listed: {result.plugin_listed}, mlflow imported: {result.mlflow_imported})"
    )
    return result


# --- memory -----------------------------------------------------------------------


#: Stores of the memory comparison (bench_memory.side_by_side).
MEMORY_STORES = {"sqlite": "(i) sqlite file", "server": "(ii) mlflow server, sqlite"}


def run_memory(cfg: argparse.Namespace) -> dict[str, Any]:
    """Ours and the hand-written loop saving ``memory_points`` points, each in a fresh
    process, on a sqlite file and a loopback server (``bench_memory.side_by_side``):
    by store, the peak RSS growth and seconds of each side, or ``{"error": ...}``."""
    workdir = Path(tempfile.mkdtemp(prefix="kedro-metrics-memory-"))
    found: dict[str, Any] = {}
    try:
        for where in MEMORY_STORES:
            try:
                sides = bench_memory.side_by_side(where, cfg.memory_points, 1, workdir)
            except RuntimeError as exc:
                log(f"  memory {where}: {exc}")
                return {"error": str(exc)[-800:]}
            found[where] = sides
            ours, ceiling = sides["ours"], sides["ceiling"]
            log(
                f"  memory {where}: {cfg.memory_points:,} points, peak RSS growth ours "
                f"{ours['growth_mb']:.1f} MB ({ours['seconds']:.1f}s), the loop "
                f"{ceiling['growth_mb']:.1f} MB ({ceiling['seconds']:.1f}s), every point stored"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return found


# --- kedro run overhead (tests/benchmarks/run_overhead.py) --------------------------


def run_overhead(cfg: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run run_overhead.py (a 20-node ``kedro run``, tracked and not) and read its JSON."""
    if cfg.run_overhead_json:
        return {
            **json.loads(cfg.run_overhead_json.read_text()),
            "source": str(cfg.run_overhead_json),
        }
    out = workdir / "run_overhead.json"
    done = subprocess.run(
        [sys.executable, str(HERE / "run_overhead.py"), "--reps", str(cfg.overhead_reps),
         "--json", str(out)],
        env={**os.environ, **servers.QUIET_ENV}, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0 or not out.exists():
        log(f"  run overhead: run_overhead.py failed: {done.stderr[-1500:]}")
        return {"error": short(done.stderr[-400:] or f"exit code {done.returncode}", 300)}
    log("  " + "\n  ".join(done.stdout.strip().splitlines()))
    return {**json.loads(out.read_text()), "reps": cfg.overhead_reps}


# --- profile mode -----------------------------------------------------------------


def profile_case(target: Target, workload: str) -> None:
    """cProfile of one ours save, plus how much of it is client-side work."""
    data = make_workload(workload)
    experiment = target.new_experiment(f"profile-{workload}")
    save_ours(target.uri, target.new_run(experiment, "unprofiled"), data)
    start = time.perf_counter()
    validated = points.validate(data, prefix="", key_problem=store.key_problem)
    validate_s = time.perf_counter() - start
    sent = sum(len(b) for b in store.batches(validated.points()))
    client_s = time.perf_counter() - start
    profiler = cProfile.Profile()
    run_id = target.new_run(experiment, "profiled")
    profiler.enable()
    total = save_ours(target.uri, run_id, data)
    profiler.disable()
    log(
        f"\n== profile of ours on {target.name}/{workload}: {total:.3f}s under cProfile; "
        f"without I/O: validation {validate_s:.3f}s, validation + building {sent} Metric "
        f"objects in batches {client_s:.3f}s"
    )
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(25)
        log(text.getvalue())


# --- reporting --------------------------------------------------------------------


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 100 else f"{seconds:.1f}"


def table_rows(results: Results) -> list[list[str]]:
    rows = []
    for case in results.cases:
        per_point = fmt_s(case.per_point_s)
        if case.per_point_sample:
            per_point = f"~{per_point} (sampled {case.per_point_sample})"
        rows.append([
            f"{STORES[case.store]}, ({case.workload}) {WORKLOADS[case.workload]}",
            f"{case.points:,}",
            fmt_s(case.ours_s),
            fmt_s(case.ceiling_s),
            per_point,
            f"{case.ours_vs_ceiling:.2f}",
            f"{case.per_point_vs_ours:.1f}",
        ])  # fmt: skip
    return rows


HEADER = ["case", "points", "ours s", "ceiling s", "per-point s", "ours/ceiling", "per-point/ours"]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def short(text: str, limit: int = 100) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def yes_no(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def memory_targets(results: Results) -> list[list[str]]:
    """The memory rows of the targets table: the absolute bound, then ours against the
    hand-written loop on each store."""
    memory = results.memory
    if memory is None:
        return []
    points = f"{results.config.memory_points:,}"
    if "error" in memory:
        return [[f"peak RSS growth saving {points} points < 300 MB", "error", yes_no(None)]]
    largest = max(sides["ours"]["growth_mb"] for sides in memory.values())
    rows = [[f"peak RSS growth saving {points} points < 300 MB", f"max {largest:.1f} MB",
             yes_no(largest < 300)]]  # fmt: skip
    for where, sides in memory.items():
        ours, loop = sides["ours"]["growth_mb"], sides["ceiling"]["growth_mb"]
        rows.append([
            f"issue 19: peak RSS growth of that save at most the hand-written loop's "
            f"({MEMORY_STORES[where]})",
            f"ours {ours:.1f} MB, the loop {loop:.1f} MB ({ours / loop:.2f}x)",
            yes_no(ours <= loop),
        ])  # fmt: skip
    return rows


def targets(results: Results) -> list[list[str]]:
    rows = []
    cases = results.cases
    if cases:
        worst = min(cases, key=lambda c: c.ours_vs_ceiling)
        rows.append([
            "ours/ceiling >= 0.8 in every case",
            f"min {worst.ours_vs_ceiling:.2f} ({worst.name})",
            yes_no(worst.ours_vs_ceiling >= 0.8),
        ])  # fmt: skip
        below = [c for c in cases if c.ours_vs_ceiling < 0.95]
        rows.append([
            "issue 19: ours/ceiling >= 0.95 in every case",
            ", ".join(f"{c.name}: {c.ours_vs_ceiling:.2f}" for c in below) or "every case",
            yes_no(not below),
        ])  # fmt: skip
        for name, expected in (("sqlite", "~35-45 (expected)"), ("server", "~70 (expected)")):
            these = [c for c in cases if c.store == name]
            if these:
                values = ", ".join(f"{c.workload}: {c.per_point_vs_ours:.0f}" for c in these)
                rows.append(
                    [f"per-point/ours on {STORES[name]}: {expected}", values, "informational"]
                )
        proxied = [c for c in cases if c.store == "proxy"]
        if proxied:
            low = min(proxied, key=lambda c: c.per_point_vs_ours)
            rows.append([
                "per-point/ours >= 150 across the 25 ms proxy",
                f"min {low.per_point_vs_ours:.0f} ({low.name})",
                yes_no(low.per_point_vs_ours >= 150),
            ])  # fmt: skip
            rows.append([
                "stretch: ours/ceiling >= 1.5 across the 25 ms proxy",
                ", ".join(f"{c.workload}: {c.ours_vs_ceiling:.2f}" for c in proxied),
                yes_no(min(c.ours_vs_ceiling for c in proxied) >= 1.5),
            ])  # fmt: skip
    if results.loads:
        low = min(results.loads, key=lambda load: load.ours_vs_hand)
        rows.append([
            "issue 19: load at least 0.95x the hand-written read on every store",
            f"min {low.ours_vs_hand:.2f} ({STORES[low.store]})",
            yes_no(low.ours_vs_hand >= 0.95),
        ])  # fmt: skip
    for load in results.loads:
        if load.requests:
            rows.append([
                f"load of K={LOAD_K} metrics <= K+1 requests ({STORES[load.store]})",
                f"max {max(load.requests)} requests",
                yes_no(max(load.requests) <= LOAD_K + 1 and load.round_trip_ok),
            ])  # fmt: skip
    help_ = results.kedro_help
    if help_ is not None:
        ok = None if help_.error else help_.difference_ms < 50
        rows.append([
            "`kedro --help` in a project: plugin adds < 50 ms",
            short(help_.error) if help_.error
            else f"{help_.difference_ms:+.0f} ms wall (paired {help_.paired_difference_ms:+.0f} ms), "
            f"{help_.cpu_difference_ms:+.0f} ms CPU; the plugin's entry points load in "
            f"{median(help_.plugin_load) * 1000:.1f} ms",
            yes_no(ok),
        ])  # fmt: skip
    rows += memory_targets(results)
    overhead = results.run_overhead
    if overhead is not None:
        if "error" in overhead:
            rows.append(["`kedro run` of 20 nodes: tracking < 0.5 s (warm sqlite)", "error", "n/a"])
        else:
            rows.append([
                "`kedro run` of 20 nodes: tracking < 0.5 s (warm sqlite), in all",
                f"{overhead['tracking_total']:+.2f} s, of which importing mlflow "
                f"{overhead['mlflow_import']:+.2f} s",
                yes_no(overhead["tracking_total"] < 0.5),
            ])  # fmt: skip
            rows.append([
                "the same, the plugin's own work (without importing mlflow)",
                f"{overhead['tracking_without_mlflow_import']:+.2f} s",
                yes_no(overhead["tracking_without_mlflow_import"] < 0.5),
            ])  # fmt: skip
            if "tracked_over_hand_hook" in overhead:
                rows.append([
                    "the same: tracked / a minimal hand-written MLflow hook <= 1.1",
                    f"{overhead['tracked_over_hand_hook']:.2f}",
                    yes_no(overhead["tracked_over_hand_hook"] <= 1.1),
                ])  # fmt: skip
    for result in results.asyncs:
        if result.available:
            rows.append([
                f"async save: every point in the store after flush ({STORES[result.store]})",
                "all points found" if result.complete else "points missing",
                yes_no(result.complete),
            ])  # fmt: skip
    return rows


def summary_line(results: Results) -> str:
    if not results.cases:
        return "ours/ceiling=n/a perpoint/ours=n/a"
    ratio = min(c.ours_vs_ceiling for c in results.cases)
    per_point = min(c.per_point_vs_ours for c in results.cases)
    return f"ours/ceiling={ratio:.2f} perpoint/ours={per_point:.2f}"


def machine(load_at_start: float) -> list[tuple[str, str]]:
    def cpu_model() -> str:
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        return platform.processor() or "unknown"

    def mem_total() -> str:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
        return "unknown"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "unknown"

    import kedro

    postgres = "not reachable"
    with contextlib.suppress(Exception):
        import psycopg2

        with contextlib.closing(
            psycopg2.connect(servers.POSTGRES_ADMIN_DSN, connect_timeout=3)
        ) as c:
            with c.cursor() as cursor:
                cursor.execute("SHOW server_version")
                postgres = cursor.fetchone()[0]
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "kedro_metrics") else ""
    return [
        ("date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{cpu_model()}, nproc {os.cpu_count()}"),
        ("memory", mem_total()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("mlflow", mlflow.__version__),
        ("kedro", kedro.__version__),
        (
            "kedro-metrics",
            f"{kedro_metrics.__version__}, commit {git('rev-parse', '--short', 'HEAD')}{dirty}",
        ),
        ("PostgreSQL", postgres),
        (
            "load average (1 min), start / end of the run",
            f"{load_at_start:.2f} / {os.getloadavg()[0]:.2f} (other work on the machine adds noise)",
        ),
    ]


def render_markdown(results: Results, machine_info: list[tuple[str, str]], elapsed: float) -> str:
    cfg = results.config
    parts = [
        "# Performance",
        "",
        "<!-- Generated by tests/benchmarks/bench.py: edit the script, not this file. -->",
        "",
        "How fast `MlflowMetricsDataSet.save` writes metrics compared with what a user "
        "could write by hand, measured by the benchmark in `tests/benchmarks/` on the "
        "machine below. The goals are the ratios in the table below (ours/ceiling >= 0.8 in every case; per-point logging far behind).",
        "",
        "## Machine",
        "",
        *[f"- {name}: {value}" for name, value in machine_info],
        f"- benchmark: {cfg.reps} repetitions per case, `mlflow server --workers "
        f"{cfg.server_workers}`, full run took {elapsed / 60:.1f} min",
        "",
        "## How to run",
        "",
        'From the repository root, with the package installed (`pip install -e ".[test]"`) and, '
        "for the PostgreSQL cases, PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth, "
        "database test):",
        "",
        "```bash",
        "KEDRO_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1 MLFLOW_DISABLE_TELEMETRY=true \\",
        "    .venv/bin/python tests/benchmarks/bench.py            # full run (~25 min), rewrites this page",
        ".venv/bin/python tests/benchmarks/bench.py --quick        # smoke run, a few minutes, prints only",
        ".venv/bin/python tests/benchmarks/bench.py --cases proxy/b load   # a subset",
        ".venv/bin/python tests/benchmarks/bench.py --profile sqlite/b     # cProfile of one save",
        ".venv/bin/python tests/benchmarks/run_overhead.py --reps 5        # only the kedro run overhead",
        "```",
        "",
        "See `tests/benchmarks/README.md` for every option.",
        "",
        "## What is compared",
        "",
        '- **ours**: `MlflowMetricsDataSet(prefix="", run_id=..., tracking_uri=...).save(data)`, '
        "validation included.",
        "- **ceiling**: a hand-written sequential loop of `MlflowClient.log_batch` calls, 1,000 "
        "`mlflow.entities.Metric` objects per call, the objects built inside the timed region.",
        "- **per-point**: one `MlflowClient.log_metric` call per point, what most plugins do. "
        + (
            f"Sampled where a full run would take minutes: on the server stores the first "
            f"{cfg.sample_server} points are timed; on the sqlite file, workloads of more than "
            f"{cfg.per_point_full_limit:,} points time their first {cfg.sample_sqlite:,}; the time "
            "is extrapolated linearly to the whole workload (marked `~ ... (sampled N)`)."
        ),
        "",
        "Workloads: (a) 10 metrics x 1,000 steps and (b) 1 metric x 50,000 steps, given as "
        'lists of `{"value", "step"}` points; (c) 1,000 scalar metrics at one step. Stores: '
        "(i) a local sqlite file; (ii) `mlflow server` on 127.0.0.1 with a sqlite backend; "
        "(iii) the same on PostgreSQL; (iv) the PostgreSQL-backed server reached through "
        "`tests/benchmarks/latency_proxy.py`, which delays each request by 25 ms (a tracking "
        "server across a network). Every repetition logs to a fresh run of the same store; the "
        "implementations alternate, who of ours and the ceiling goes first drawn at random "
        "for every repetition (seeded by the case's name), then per-point, and the table shows "
        f"medians. Cases whose first save takes under {SMALL_CASE_SECONDS:.0f} s get "
        f"{SMALL_CASE_REPS_FACTOR}x the repetitions for ours and the ceiling (still "
        "alternating), as a single request is noisy. ours/ceiling is the throughput ratio (ceiling time / our time, higher is "
        "better; above 1 means faster than the hand-written loop); per-point/ours is "
        "per-point time / our time.",
        "",
        "## Results",
        "",
        md_table(HEADER, table_rows(results)),
        "",
    ]
    if results.skipped:
        parts += ["Skipped: " + "; ".join(results.skipped), ""]
    if results.loads:
        rows = [
            [
                STORES[load.store],
                f"{median(load.seconds):.3f}",
                f"{median(load.hand):.3f}",
                f"{load.ours_vs_hand:.2f}",
                str(max(load.requests)) if load.requests else "n/a (no server)",
                "yes" if load.round_trip_ok and load.hand_equal else "NO",
            ]
            for load in results.loads
        ]
        parts += [
            f"### load() of K={LOAD_K} metrics x 1,000 steps (workload (a))",
            "",
            "Against a hand-written read (the run's keys, then `get_metric_history` for each, "
            "one after another, in the same form), alternating, "
            f"{results.config.reps * SMALL_CASE_REPS_FACTOR} times each, medians; ours/hand is the hand "
            "loop's time over ours (higher is better). Requests counted in the tracking "
            f"server's access log (limit: K+1 = {LOAD_K + 1}).",
            "",
            md_table(
                ["store", "load s", "by hand s", "ours/hand", "requests", "both equal the saved"],
                rows,
            ),
            "",
        ]
    if results.asyncs:
        parts += ["### Async saving, workload (a)", ""]
        available = [a for a in results.asyncs if a.available]
        if available:
            rows = [
                [
                    STORES[a.store],
                    f"{median(a.sync):.3f}",
                    f"{median(a.blocked):.3f}",
                    f"{median(a.flushed):.3f}",
                    "yes" if a.complete else "NO",
                ]
                for a in available
            ]
            parts += [
                "`save()` of `MlflowMetricsDataSet(..., async_logging=True)`: how long it blocks "
                "the node, and when `kedro_metrics.store.flush()` returns (counted from the start "
                "of save), against a synchronous save.",
                "",
                md_table(
                    [
                        "store",
                        "sync save s",
                        "async save blocks s",
                        "flush returns after s",
                        "all points stored",
                    ],
                    rows,
                ),  # fmt: skip
                "",
            ]
        for a in results.asyncs:
            if not a.available:
                parts += [f"- {STORES[a.store]}: {a.reason}", ""]
                break
    help_ = results.kedro_help
    if help_ is not None:
        parts += ["### `kedro --help` in a project", ""]
        if help_.error:
            parts += [f"Not measured: {help_.error}", ""]
        else:
            parts += [
                f"A project made by `kedro new --tools none --example n`; {len(help_.with_plugin)} "
                'runs each, alternating, medians. "Without" runs the same launcher with the '
                "kedro-metrics entry points filtered out of `importlib.metadata`, so the plugin is "
                "the only difference.",
                "",
                md_table(
                    ["", "wall ms", "CPU ms (user + system)"],
                    [
                        [
                            "with the plugin",
                            f"{median(help_.with_plugin) * 1000:.0f}",
                            f"{median(help_.with_cpu) * 1000:.0f}",
                        ],
                        [
                            "without the plugin",
                            f"{median(help_.without_plugin) * 1000:.0f}",
                            f"{median(help_.without_cpu) * 1000:.0f}",
                        ],
                        [
                            "difference of the medians",
                            f"{help_.difference_ms:+.0f}",
                            f"{help_.cpu_difference_ms:+.0f}",
                        ],
                        [
                            "median of the paired differences",
                            f"{help_.paired_difference_ms:+.0f}",
                            "",
                        ],
                    ],
                ),  # fmt: skip
                "",
                "On a 2-core machine shared with other work a single `kedro --help` varies by "
                "+-200 ms, so the wall-clock difference of medians carries that noise; the "
                'paired differences (each "with" run against the "without" run next to it) '
                "do not. The launcher also times what the plugin itself costs: loading its "
                "entry points (importing `kedro_metrics` and `kedro_metrics.cli`) took "
                f"**{median(help_.plugin_load) * 1000:.1f} ms** (median). With the plugin its "
                f"commands are listed: {'yes' if help_.plugin_listed else 'NO'}; mlflow imported: "
                f"{'YES' if help_.mlflow_imported else 'no'}.",
                "",
                "`kedro --help` needs only the group's name and one-line help: "
                "`kedro_metrics.cli` defines the two click groups and nothing else, and a "
                "subcommand's module (`basics`, `check`, `export`, with what they import: "
                "configuration, records, tables) is imported when that subcommand is looked up. "
                "`kedro_metrics.__version__` is read from the distribution's metadata on first "
                "use, not at import. `tests/test_architecture.py` checks that loading the CLI "
                "entry point imports `kedro_metrics` and `kedro_metrics.cli` only.",
                "",
            ]
    memory = results.memory
    if memory is not None:
        parts += ["### Memory", ""]
        if "error" in memory:
            parts += [f"Not measured: the subprocess failed: `{memory['error'][-300:]}`", ""]
        else:
            parts += [
                f"One save of 1 metric x {results.config.memory_points:,} steps (a list of floats), "
                "ours and the hand-written `log_batch` loop (1,000 `Metric` objects a call), each "
                "in a fresh process that built the input before its peak was reset; peak RSS "
                "growth is VmHWM after the save minus VmRSS before it (the peak reset through "
                "/proc/self/clear_refs); every point was counted in the store afterwards "
                "(`tests/benchmarks/bench_memory.py`). To the server ours is spooled first, in "
                "records of 1,000 points.",
                "",
                "| store | ours MB | the loop MB | ours/loop | ours s | the loop s |",
                "|---|---|---|---|---|---|",
            ]
            for where, sides in memory.items():
                ours, loop = sides["ours"], sides["ceiling"]
                parts.append(
                    f"| {MEMORY_STORES[where]} | {ours['growth_mb']:.1f} | {loop['growth_mb']:.1f} "
                    f"| {ours['growth_mb'] / loop['growth_mb']:.2f} | {ours['seconds']:.1f} "
                    f"| {loop['seconds']:.1f} |"
                )
            parts.append("")
    overhead = results.run_overhead
    if overhead is not None:
        parts += ["### What tracking adds to `kedro run`", ""]
        if "error" in overhead:
            parts += [
                f"Not measured: `tests/benchmarks/run_overhead.py` failed: `{overhead['error']}`",
                "",
            ]
        else:
            source = (
                f"results read from `{overhead['source']}`"
                if "source" in overhead
                else f"median of {overhead.get('reps', '?')} runs each, alternating"
            )
            parts += [
                "`tests/benchmarks/run_overhead.py`: a 20-node pipeline on a warm sqlite store, "
                f"run with `kedro run` in a subprocess ({source}): tracked (each node saves a "
                "small metrics dict to a MlflowMetricsDataSet), plain (MemoryDatasets, the "
                "plugin's hook off), plain that imports mlflow and its SQL store, to tell "
                "MLflow's import time from the plugin's own work, and plain with a minimal "
                "hand-written MLflow hook doing the same job (a run, one `log_batch` of the "
                "same points, the run ended).",
                "",
                md_table(
                    ["variant", "s"],
                    [
                        ["tracked", f"{overhead['tracked']:.2f}"],
                        ["plain", f"{overhead['plain']:.2f}"],
                        ["plain + mlflow import", f"{overhead['plain+mlflow']:.2f}"],
                        *(
                            [["plain + a hand-written MLflow hook", f"{overhead['hand hook']:.2f}"]]
                            if "hand hook" in overhead
                            else []
                        ),
                        ["tracking adds in all", f"{overhead['tracking_total']:+.2f}"],
                        ["of which mlflow's import", f"{overhead['mlflow_import']:+.2f}"],
                        [
                            "of which the plugin's work",
                            f"{overhead['tracking_without_mlflow_import']:+.2f}",
                        ],
                        *(
                            [
                                [
                                    "tracked / hand-written hook",
                                    f"{overhead['tracked_over_hand_hook']:.2f}",
                                ]
                            ]
                            if "tracked_over_hand_hook" in overhead
                            else []
                        ),
                    ],
                ),  # fmt: skip
                "",
            ]
    parts += [
        "## Targets",
        "",
        md_table(["target", "measured", ""], targets(results)),
        "",
        "## Notes",
        "",
        "- The machine has 2 cores: the client, the server's workers and the database share "
        "them, so server-side numbers vary by +-20% between runs; compare ratios of the same run.",
        "- `mlflow server --workers N` with N > 1 serves its connections without TCP_NODELAY "
        "(uvicorn's multi-process mode binds a socket with protocol 0, and asyncio sets "
        "TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP): on a kept-alive "
        "connection each response then waits ~40 ms for Nagle's algorithm and the client's "
        "delayed ACK. Measured here: a `/health` round trip takes ~45 ms with `--workers 2` "
        "and ~2 ms with `--workers 1`. This stall, not the database, dominates per-point "
        "logging on the server stores (one stall per point, ~54 ms per point in all), which is "
        "why per-point/ours there is far above the ~70x expected of a loopback server; it adds ~40 ms to every "
        "`log_batch` request too, which batches in flight overlap. `--server-workers 1` "
        "measures without it (but then batches cannot be served in parallel).",
        "- Per-point extrapolation assumes a constant cost per point, which holds for "
        "`log_metric` (one request or one transaction per point).",
        "- Saves and loads run with Python's cyclic garbage collector paused "
        "(`process.collection_paused`; a load since it is compared with a hand-written read, "
        "which it matched only then, on the sqlite file: 0.88 without the pause): "
        "a large save allocates several short-lived objects per point, none in a cycle, and each "
        "full collection walks every object the process holds. `tests/benchmarks/bench_gc.py` "
        "measures it apart (300,000 points to a sqlite file, one run, medians of 3): ours 27.73 s "
        "with the pause (0 full collections; one young collection a batch), 37.38 s without it "
        "(42), the ceiling 36.75 s (40): ours/ceiling 1.33 with the pause, 0.98 without.",
        "- Case (c) is a single `log_batch` request: its time is mostly the server's answer. "
        "A server answers every 4th 1,000-metric `log_batch` slowly (0.3 s against 0.13 s, "
        "with a sqlite and a PostgreSQL backend alike, the hand-written loop's requests as "
        "much as ours: 16 in a row on each), so who of ours and the ceiling goes first is drawn "
        "for every repetition. The ABBA order the runs before used has period 4 too and gave "
        "every slow answer to ours (postgres/c 0.74 and proxy/c 0.66 in the last such run). "
        "What ours adds there is measured without I/O by `--profile STORE/c`: validating the "
        "1,000 keys and building their batch, about 5 ms, and on a server the spool's one "
        "record and its fsyncs, under 1 ms. On a server that is now made up by the request "
        "body (the memory note below): the hand-written loop's `log_batch` spends about 11 ms "
        "of CPU on its 1,000 metrics, ours about 1 ms.",
        "- Memory (the table above): while a save pauses automatic collection (the note on "
        "the pause above) it collects the youngest generation once between batches "
        "(`process.collect_young`). "
        "Each `log_batch` to a SQL store leaves SQLAlchemy's session and unit of work in "
        "reference cycles, about 3 KB a batch; before, they stayed until the save ended "
        "(1,000,000 points to a sqlite file: ours +6 MB, the loop +3 MB; now both +2 MB). To "
        "a server a batch goes out as the JSON of MLflow's REST `runs/log-batch` request, "
        "written once from its points (`store/rest_batch.py`; the request itself is MLflow's "
        "`http_request`, its answer checked by MLflow's `verify_rest_response`). MLflow's "
        "client copies each `Metric`, turns it into protobuf, the message into JSON, that "
        "into a dict and the dict into JSON again: about 11 ms of CPU per 1,000 metrics "
        "against 1 ms, and 1.7 MB held while the request is out against the ~90 KB of its "
        "bytes (tracemalloc; `tests/store/test_rest_batch.py` holds it under a tenth). With "
        "MLflow's client the 4 batches in flight held about 1.5 MB each: 200,000 points to "
        "one loopback server took +9.4 MB with 4 in flight, +3.3 MB with 1, the loop +2.0 MB. "
        "Now 4 in flight take +1.6 MB against the loop's +1.85 MB.",
        "- The reading commands against a hand-written MLflow script doing the same job "
        "(`tests/benchmarks/bench_cli_read.py`, the example project after two runs, fresh "
        "processes, medians of 5): `runs` 3.23 s against 2.50 s (1.29), `compare` 3.21 s "
        "against 2.48 s (1.29), `export` 3.07 s against 2.51 s (1.22). Kedro's own CLI "
        "start (`kedro --help` in the project: 0.64 s) is the gap; what is left to the "
        "plugin is -0.07 to +0.09 s, with the same requests as the script and the project "
        "bootstrapped once (a command reads the settings of the project Kedro's CLI "
        "bootstrapped for it; before, it bootstrapped it a second time, ~0.1 s). The same "
        "scripts as a hand-written project command (`kedro hand-runs` and so on, from a "
        "`cli.py` in the project, the way Kedro adds a command) take 3.07 s, 3.07 s and "
        "3.14 s: ours / that is 1.05, 1.05 and 0.98. The 1.1 goal against the bare script "
        "is not met: any `kedro <plugin> <command>` pays Kedro's CLI start (importing "
        "`kedro.framework.cli` and its dynaconf, omegaconf and rich, the project's "
        "bootstrap, its plugins' entry points), which a bare script does not; the import "
        "of mlflow and the creation of its SQL store, which both pay, are most of the "
        "rest.",
        "",
        "Last line of the run:",
        "",
        "```",
        summary_line(results),
        "```",
        "",
    ]
    return "\n".join(parts)


# --- main -------------------------------------------------------------------------


def case_tokens(cfg: argparse.Namespace) -> list[str]:
    return [token for token in cfg.cases if token not in EXTRAS]


def case_selected(cfg: argparse.Namespace, store_name: str, workload: str) -> bool:
    if not cfg.cases:
        return True
    return any(t in (store_name, workload, f"{store_name}/{workload}") for t in case_tokens(cfg))


def extra_selected(cfg: argparse.Namespace, name: str) -> bool:
    return not cfg.cases or name in cfg.cases


def store_active(cfg: argparse.Namespace, store_name: str) -> bool:
    """A store runs when one of its cases is selected; load/async given alone run on all."""
    if any(case_selected(cfg, store_name, w) for w in WORKLOADS):
        return True
    per_store_extra = extra_selected(cfg, "load") or extra_selected(cfg, "async")
    return per_store_extra and not case_tokens(cfg)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 repetition, small per-point samples, fewer "
                        "kedro --help runs, 200,000 points for memory; writes no docs")  # fmt: skip
    parser.add_argument("--cases", nargs="+", default=[],
                        help=f"run only these: a store ({', '.join(STORES)}), a workload "
                        f"({', '.join(WORKLOADS)}), a case (store/workload) or an extra "
                        f"({', '.join(EXTRAS)}); default: everything")  # fmt: skip
    parser.add_argument("--reps", type=int, help="repetitions per case (default 3, --quick 1)")
    parser.add_argument("--sample-server", type=int,
                        help="per-point points timed on server stores (default 200, --quick 50)")  # fmt: skip
    parser.add_argument("--sample-sqlite", type=int,
                        help="per-point points timed on sqlite when sampled (default 1000, --quick 100)")  # fmt: skip
    parser.add_argument("--per-point-full-limit", type=int,
                        help="on sqlite, per-point logs workloads up to this many points in "
                        "full (default 1000, --quick 0)")  # fmt: skip
    parser.add_argument(
        "--help-runs", type=int, help="kedro --help runs per variant (default 20, --quick 3)"
    )
    parser.add_argument("--memory-points", type=int,
                        help="points saved in the memory test (default 1,000,000, --quick 200,000)")  # fmt: skip
    parser.add_argument(
        "--server-workers", type=int, default=2, help="mlflow server --workers (default 2)"
    )
    parser.add_argument("--overhead-reps", type=int,
                        help="run_overhead.py --reps for the run-overhead extra (default 5, --quick 2)")  # fmt: skip
    parser.add_argument("--run-overhead-json", type=Path,
                        help="fold these run_overhead.py --json results into the report "
                        "instead of running it")  # fmt: skip
    parser.add_argument("--output", type=Path,
                        help="markdown report to write (default: docs/performance.md on a full "
                        "run of every case; nothing with --quick or --cases)")  # fmt: skip
    parser.add_argument("--profile", metavar="STORE/WORKLOAD",
                        help="only profile one save of ours with cProfile, e.g. sqlite/b")  # fmt: skip
    cfg = parser.parse_args(argv)
    quick = cfg.quick
    defaults = {
        "reps": (3, 1), "sample_server": (200, 50), "sample_sqlite": (1000, 100),
        "per_point_full_limit": (1000, 0), "help_runs": (20, 3),
        "memory_points": (1_000_000, 200_000), "overhead_reps": (5, 2),
    }  # fmt: skip
    for name, (full, fast) in defaults.items():
        if getattr(cfg, name) is None:
            setattr(cfg, name, fast if quick else full)
    known = set(STORES) | set(WORKLOADS) | set(EXTRAS)
    known |= {f"{s}/{w}" for s in STORES for w in WORKLOADS}
    unknown = [c for c in cfg.cases if c not in known]
    if unknown:
        parser.error(f"unknown --cases {unknown}; choose from {sorted(known)}")
    if cfg.profile and cfg.profile not in {f"{s}/{w}" for s in STORES for w in WORKLOADS}:
        parser.error("--profile takes store/workload, e.g. sqlite/b")
    if cfg.output is None and not quick and not cfg.cases and not cfg.profile:
        cfg.output = DEFAULT_OUTPUT
    return cfg


@contextlib.contextmanager
def targets_for(
    store_names: list[str], workdir: Path, cfg: argparse.Namespace, results: Results
) -> Iterator[Iterator[Target]]:
    """Start what the selected stores need, lazily, and stop all of it afterwards."""
    with contextlib.ExitStack() as stack:

        def started() -> Iterator[Target]:
            postgres_server: servers.MlflowServer | None = None
            postgres_missing = False
            for name in store_names:
                if name == "sqlite":
                    yield Target("sqlite", f"sqlite:///{workdir / 'local' / 'mlflow.db'}")
                elif name == "server":
                    (workdir / "server").mkdir()
                    server = stack.enter_context(servers.running_mlflow_server(
                        f"sqlite:///{workdir / 'server' / 'mlflow.db'}", workdir / "server",
                        workers=cfg.server_workers,
                    ))  # fmt: skip
                    yield Target("server", server.url, server)
                else:  # postgres, proxy
                    if postgres_missing or not servers.postgres_reachable():
                        if not postgres_missing:
                            log(f"\nSKIPPED the PostgreSQL stores: {servers.POSTGRES_MISSING}")
                            results.skipped.append(
                                "(iii) and (iv): PostgreSQL is not reachable at 127.0.0.1:5432"
                            )
                        postgres_missing = True
                        continue
                    if postgres_server is None:
                        database = stack.enter_context(servers.fresh_postgres_database())
                        postgres_server = stack.enter_context(servers.running_mlflow_server(
                            database, workdir / "postgres", workers=cfg.server_workers
                        ))  # fmt: skip
                    if name == "postgres":
                        yield Target("postgres", postgres_server.url, postgres_server)
                    else:
                        host, port = postgres_server.url.rsplit("/", 1)[1].split(":")
                        proxy = stack.enter_context(
                            LatencyProxy(host, int(port), delay=PROXY_DELAY)
                        )
                        yield Target("proxy", proxy.url, postgres_server)
                        log(f"  proxy: {proxy.stats.requests} requests delayed, "
                            f"{proxy.stats.connections} connections, errors {proxy.stats.errors[:3]}")  # fmt: skip

        (workdir / "local").mkdir()
        yield started()


def quiet_libraries() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    quiet_libraries()
    results = Results(cfg)
    workdir = Path(tempfile.mkdtemp(prefix="kedro-metrics-bench-"))
    try:
        if cfg.profile:
            store_name, workload = cfg.profile.split("/")
            with targets_for([store_name], workdir, cfg, results) as found:
                for target in found:
                    target.warm_up()
                    profile_case(target, workload)
            return 0
        log(
            f"kedro-metrics benchmark: {cfg.reps} repetition(s) per case, per-point sampled "
            f"with {cfg.sample_server} points on servers"
            + (f", {cfg.sample_sqlite} on sqlite above {cfg.per_point_full_limit:,} points"
               if cfg.per_point_full_limit else f", {cfg.sample_sqlite} on sqlite")
        )  # fmt: skip
        store_names = [s for s in STORES if store_active(cfg, s)]
        with targets_for(store_names, workdir, cfg, results) as found:
            for target in found:
                run_store(target, cfg, results)
        if extra_selected(cfg, "kedro-help"):
            log("\n== kedro --help")
            (workdir / "help").mkdir()
            results.kedro_help = run_kedro_help(cfg, workdir / "help")
        if extra_selected(cfg, "run-overhead") or cfg.run_overhead_json:
            log("\n== kedro run overhead (run_overhead.py)")
            results.run_overhead = run_overhead(cfg, workdir)
        if extra_selected(cfg, "memory"):
            log("\n== memory")
            results.memory = run_memory(cfg)
        elapsed = time.monotonic() - results.started
        report(results, elapsed)
        if cfg.output:
            cfg.output.write_text(render_markdown(results, machine(results.load_at_start), elapsed))
            log(f"\nwrote {cfg.output}")
        log(summary_line(results))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: Results, elapsed: float) -> None:
    log(f"\n== results (medians; {results.config.reps} repetition(s); {elapsed / 60:.1f} min)")
    if any(c.per_point_sample for c in results.cases):
        log("per-point marked ~ (sampled N): the first N points were timed and the time "
            "extrapolated to the whole workload")  # fmt: skip
    log(text_table(HEADER, table_rows(results)))
    for skipped in results.skipped:
        log(f"skipped: {skipped}")
    log("")
    log(text_table(["target", "measured", ""], targets(results)))


if __name__ == "__main__":
    sys.exit(main())
