"""Metrics in Kedro-Viz: a real `kedro viz run` over a temporary project, its REST API
asked for the metrics datasets' previews before and after a real `kedro run`.

One Kedro-Viz server with hooks (`--include-hooks`) serves the whole module: asked
once before the run (no run yet: empty figures, server up) and again after it. A
second server without hooks (how Kedro-Viz is usually started) previews the same:
a catalog entry's dataset has its name from Kedro's catalog, not from the hook.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kedro_metrics.cli.mlflow_ui import group_alive
from kedro_metrics.reading.figures import PREVIEW_TITLE_WIDTH
from tests.e2e.conftest import subprocess_env

pytestmark = pytest.mark.e2e

#: Kedro-Viz refuses ports above this one (it keeps clear of the ephemeral range).
MAX_VIZ_PORT = 49151
_RUNNING_AT = re.compile(r"http://127\.0\.0\.1:(\d+)/")

#: Show only the metrics under group.* of flat_metrics (prefix ""), in conf/local.
FLAT_WITH_PREVIEW_ARGS = """\
flat_metrics:
  type: kedro_metrics.MlflowMetricsDataSet
  prefix: ""
  metadata:
    kedro-viz:
      preview_args:
        names: ["group.*"]
"""


def free_viz_port() -> int:
    """A free loopback port that Kedro-Viz accepts, with room for its +4 search."""
    for _ in range(200):
        port = random.randint(20000, MAX_VIZ_PORT - 5)
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    raise RuntimeError("no free port below 49151")


@dataclass
class Viz:
    """A running `kedro viz run`; ``preview(name)`` asks its REST API for a node."""

    process: subprocess.Popen
    log: Path
    url: str = ""
    started_s: float = 0.0
    ids: dict[str, str] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=60) as response:
            return json.load(response)

    def node(self, name: str) -> dict[str, Any]:
        """The metadata of the data node ``name``: /api/nodes/<id>, id from /api/main."""
        if not self.ids:
            self.ids = {n["name"]: n["id"] for n in self.get("/api/main")["nodes"]}
        return self.get(f"/api/nodes/{self.ids[name]}")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the process group, wait for every member, SIGKILL after ``timeout``."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.group_alive() and time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def group_alive(self) -> bool:
        return group_alive(self.process.pid)


@contextlib.contextmanager
def kedro_viz(project: Path, *, include_hooks: bool, timeout: float = 180) -> Iterator[Viz]:
    """`kedro viz run [--include-hooks] --no-browser --port P` in its own process group,
    waited for until /api/main answers; stopped by process group."""
    port = free_viz_port()
    args = [sys.executable, "-m", "kedro", "viz", "run", "--no-browser", "--port", str(port)]
    if include_hooks:
        args.append("--include-hooks")
    log = project / f"viz-{port}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, cwd=project, env=subprocess_env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    viz = Viz(process, log)
    try:
        while time.monotonic() - started < timeout:
            assert process.poll() is None, f"kedro viz exited:\n{log.read_text()[-3000:]}"
            found = _RUNNING_AT.search(log.read_text(errors="replace"))
            if found:
                viz.url = f"http://127.0.0.1:{found[1]}"
                with contextlib.suppress(OSError):
                    viz.get("/api/main")
                    break
            time.sleep(0.3)
        else:
            raise AssertionError(f"kedro viz did not start:\n{log.read_text()[-3000:]}")
        viz.started_s = time.monotonic() - started
        yield viz
    finally:
        viz.stop()


#: The datasets asked for after the run, from both servers.
WITH_HOOKS_AFTER_THE_RUN = ("model_metrics", "holdout_accuracy", "flat_metrics", "a_metrics")


def title_lines(node: dict[str, Any]) -> list[str]:
    return node["preview"]["layout"]["title"]["text"].split("<br>")


@pytest.fixture(scope="module")
def viz_results(tmp_path_factory, new_project, kedro, store_at) -> dict[str, Any]:
    """Everything the tests look at, gathered with one `kedro run` and two servers."""
    project = new_project(tmp_path_factory.mktemp("viz"))
    (project / "conf" / "local" / "catalog.yml").write_text(FLAT_WITH_PREVIEW_ARGS)
    results: dict[str, Any] = {}
    with kedro_viz(project, include_hooks=True) as viz:
        results["started_s"] = viz.started_s
        asked = time.monotonic()
        results["before_run"] = viz.node("model_metrics")
        results["first_preview_s"] = viz.started_s + time.monotonic() - asked
        kedro(project, "run").check()
        asked = time.monotonic()
        results["model_metrics"] = viz.node("model_metrics")
        results["preview_s"] = time.monotonic() - asked
        for name in WITH_HOOKS_AFTER_THE_RUN[1:]:
            results[name] = viz.node(name)
    results["hooks_group_alive"] = viz.group_alive()
    with kedro_viz(project, include_hooks=False) as plain:
        results["no_hooks"] = {
            name: plain.node(name) for name in (*WITH_HOOKS_AFTER_THE_RUN, "eval_metrics")
        }
    results["plain_group_alive"] = plain.group_alive()
    run = store_at(project / "mlflow.db").only_run()
    results["run_id"], results["run_name"] = run.info.run_id, run.info.run_name
    return results


def line(name: str, x: list[int], y: list[float]) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines+markers", "name": name, "x": x, "y": y}


def bars(names: list[str], values: list[float], axes: tuple[str, str]) -> dict[str, Any]:
    return {
        "type": "bar", "name": "single values", "x": names, "y": values,
        "xaxis": axes[0], "yaxis": axes[1],
    }  # fmt: skip


class TestPreviewAfterARun:
    """With hooks, each metrics dataset previews the latest run's metrics under its name."""

    def test_preview_type_is_plotly(self, viz_results):
        """Kedro-Viz reads the PlotlyPreview annotation of preview()."""
        assert viz_results["model_metrics"]["preview_type"] == "PlotlyPreview"

    def test_model_metrics_traces(self, viz_results):
        """The loss history is a line, the single values one bar chart: exact data."""
        preview = viz_results["model_metrics"]["preview"]
        assert preview["data"] == [
            line("loss", [0, 1], [0.5, 0.25]),
            bars(["accuracy", "confusion.fp", "confusion.tp"], [0.875, 3.0, 40.0], ("x2", "y2")),
        ]

    def test_title_names_the_run(self, viz_results):
        """The title names the dataset, the run's name and its short id."""
        title = " ".join(title_lines(viz_results["model_metrics"]))
        run_id, run_name = viz_results["run_id"], viz_results["run_name"]
        assert title == f"model_metrics: run {run_name} ({run_id[:8]})"

    def test_every_title_fits_the_side_panel(self, viz_results):
        """No line of any preview's title, with or without data, is wider than the
        side panel shows (a longer one was cut at both ends)."""
        nodes = [viz_results["before_run"], *(viz_results[n] for n in WITH_HOOKS_AFTER_THE_RUN)]
        nodes += viz_results["no_hooks"].values()
        widths = [len(line) for node in nodes for line in title_lines(node)]
        assert max(widths) <= PREVIEW_TITLE_WIDTH, widths

    def test_single_metric_dataset(self, viz_results):
        """MlflowMetricDataSet previews its one history under its key."""
        preview = viz_results["holdout_accuracy"]["preview"]
        assert viz_results["holdout_accuracy"]["preview_type"] == "PlotlyPreview"
        assert preview["data"] == [line("holdout_accuracy", [0, 1, 2], [0.5, 0.625, 0.75])]

    def test_preview_args_names(self, viz_results):
        """metadata kedro-viz preview_args names: only group.* of flat_metrics."""
        preview = viz_results["flat_metrics"]["preview"]
        assert preview["data"] == [bars(["group.inner"], [1.5], ("x", "y"))]

    def test_dataset_factory_name_is_the_prefix(self, viz_results):
        """a_metrics (from the "{name}_metrics" pattern) previews a_metrics.* only."""
        preview = viz_results["a_metrics"]["preview"]
        assert preview["data"] == [
            line("curve", [0, 1], [0.0, 0.5]),
            bars(["score"], [0.0], ("x2", "y2")),
        ]


class TestPreviewBeforeAnyRun:
    """No run yet: the server is up and the preview is an empty figure saying so."""

    def test_empty_figure_says_no_run(self, viz_results):
        """No data, and a title that says there is no run and what to do."""
        node = viz_results["before_run"]
        assert node["preview_type"] == "PlotlyPreview"
        assert node["preview"]["data"] == []
        title = " ".join(title_lines(node))
        assert title.startswith("model_metrics: no run yet"), title
        assert "kedro run" in title, title


class TestPreviewWithoutHooks:
    """Without --include-hooks every metrics dataset previews as with them."""

    def test_explicit_prefix_previews(self, viz_results):
        """eval_metrics (prefix eval) shows f1 from the project's store."""
        preview = viz_results["no_hooks"]["eval_metrics"]["preview"]
        assert preview["data"] == [bars(["f1"], [0.625], ("x", "y"))]

    @pytest.mark.parametrize("name", WITH_HOOKS_AFTER_THE_RUN)
    def test_a_catalog_entry_previews_as_with_hooks(self, viz_results, name):
        """model_metrics and holdout_accuracy (named only by their entries), prefix ""
        with preview_args, and a dataset-factory name: the very figure the server
        with hooks served, data and title."""
        without = viz_results["no_hooks"][name]
        assert without["preview"]["data"] != []
        assert without == viz_results[name]


class TestServers:
    """Both servers were stopped with every process of their group."""

    def test_no_process_left(self, viz_results, record_timing):
        """No member of either process group outlives the stop."""
        record_timing("kedro viz run: start until /api/main answers", viz_results["started_s"])
        record_timing(
            "kedro viz run: start until the first preview is served", viz_results["first_preview_s"]
        )
        record_timing("kedro viz run: a preview after the run (warm)", viz_results["preview_s"])
        assert viz_results["hooks_group_alive"] is False
        assert viz_results["plain_group_alive"] is False
