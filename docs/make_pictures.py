"""Regenerate the pictures of docs/pictures.md and docs/lineage.md from the example
project.

    .venv/bin/python docs/make_pictures.py            # all of them
    .venv/bin/python docs/make_pictures.py lineage    # only docs/lineage.md's

1. Copies docs/example to a temporary directory and runs it twice (learning rates
   0.5 and 0.02, runs named lr-0.5 and lr-0.02), then `kedro metrics plot "model_metrics.*" --run latest~1 --run
   latest --output docs/images/plot.png`.
2. Starts `kedro viz run` there (without `--include-hooks`, as most users start
   it) and takes a screenshot of the model_metrics preview with headless Chromium
   (Debian's `chromium` package) into docs/images/kedro-viz-preview.png.
3. For docs/lineage.md: copies the example again and runs `kedro run --env lineage`
   twice (learning rates 0.5 and 0.02: the model is logged to the run, the scores
   linked to it and to their split), starts `mlflow server` on its store and takes
   a screenshot of MLflow's own UI: the page of the model with the lower test
   log-loss (as `search_logged_models` ranks them), its metrics per dataset, into
   docs/images/mlflow-model-metrics.png.

Not part of the tests (CI has no Chromium). Needs the package installed in the
interpreter that runs this script (`pip install -e ".[test]"`, kedro-viz included).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

DOCS = Path(__file__).resolve().parent
EXAMPLE = DOCS / "example"
IMAGES = DOCS / "images"
PLOT_PNG = IMAGES / "plot.png"
PREVIEW_PNG = IMAGES / "kedro-viz-preview.png"
#: The window Chromium renders, and the width of Kedro-Viz's metadata side panel at
#: its right edge (where the preview is). A first-visit "feature hints" pop-up of
#: Kedro-Viz covers the flowchart next to it, so the picture keeps the panel only.
WINDOW = (1400, 900)
SIDE_PANEL_WIDTH = 434
VIZ_PORT = 24141  # Kedro-Viz refuses ports above 49151
MLFLOW_PORT = 24151
MODEL_PNG = IMAGES / "mlflow-model-metrics.png"
#: MLflow's UI: its window, and the part kept (its assistant panel is on the right,
#: the model's parameters below the metrics).
MLFLOW_WINDOW = (1400, 1250)
MLFLOW_KEPT = (1030, 1055)
QUIET = {"KEDRO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    if sys.argv[1:] != ["lineage"]:
        plot_and_preview()
    lineage_pictures()


def plot_and_preview() -> None:
    with tempfile.TemporaryDirectory(prefix="kedro-metrics-pictures-") as tmp:
        project = Path(tmp) / "example"
        shutil.copytree(
            EXAMPLE, project, ignore=shutil.ignore_patterns("*.db", "mlruns", "__pycache__")
        )
        (project / "conf" / "local").mkdir(exist_ok=True)
        for rate in ("0.5", "0.02"):
            (project / "conf" / "local" / "metrics.yml").write_text(f"run_name: lr-{rate}\n")
            kedro(project, "run", "--params", f"model.learning_rate={rate}")
        started = time.monotonic()
        kedro(project, "metrics", "plot", "model_metrics.*", "--run", "latest~1", "--run", "latest",
              "--output", str(PLOT_PNG))  # fmt: skip
        print(f"plot: {PLOT_PNG} ({time.monotonic() - started:.1f} s)")
        with kedro_viz(project) as url:
            node_id = {n["name"]: n["id"] for n in get_json(f"{url}/api/main")["nodes"]}[
                "model_metrics"
            ]
            get_json(f"{url}/api/nodes/{node_id}")  # warm: the preview reads the store
            screenshot(f"{url}/?pid=__default__&sid={node_id}&sn=model_metrics", PREVIEW_PNG)
        keep_side_panel(PREVIEW_PNG)
        print(f"preview: {PREVIEW_PNG}")


def lineage_pictures() -> None:
    """Two `kedro run --env lineage`, then MLflow's UI on their store."""
    with tempfile.TemporaryDirectory(prefix="kedro-metrics-lineage-") as tmp:
        project = Path(tmp) / "example"
        shutil.copytree(
            EXAMPLE, project, ignore=shutil.ignore_patterns("*.db", "mlruns", "__pycache__")
        )
        for rate in ("0.5", "0.02"):
            (project / "conf" / "lineage" / "metrics.yml").write_text(f"run_name: lr-{rate}\n")
            kedro(project, "run", "--env", "lineage", "--params", f"model.learning_rate={rate}")
        experiment, best = best_model(project / "mlflow.db")
        with mlflow_server(project) as url:
            screenshot(f"{url}/#/experiments/{experiment}/models/{best}", MODEL_PNG, MLFLOW_WINDOW)
        keep_top_left(MODEL_PNG, *MLFLOW_KEPT)
        print(f"MLflow UI: {MODEL_PNG}")


def best_model(store: Path) -> tuple[str, str]:
    """The example's experiment id, and its model of the lowest test log-loss, as
    MLflow ranks them (``search_logged_models`` by the metric kedro-metrics logged)."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("metrics_example").experiment_id
    ranked = client.search_logged_models(
        [experiment], order_by=[{"field_name": "metrics.test_scores.log_loss", "ascending": True}]
    )
    return experiment, ranked[0].model_id


def mlflow_server(project: Path) -> contextlib.AbstractContextManager[str]:
    """`mlflow server` on the project's store, in its own process group."""
    url = f"http://127.0.0.1:{MLFLOW_PORT}"

    def answering(log: str) -> str:
        urllib.request.urlopen(f"{url}/health", timeout=5).close()
        return url

    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
               f"sqlite:///{project / 'mlflow.db'}", "--host", "127.0.0.1",
               "--port", str(MLFLOW_PORT)]  # fmt: skip
    return serving(project, command, "mlflow server", answering)


def kedro(project: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "kedro", *args], cwd=project, env=env(), check=True)


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KEDRO_"))}
    return {**clean, **QUIET}


def kedro_viz(project: Path) -> contextlib.AbstractContextManager[str]:
    """`kedro viz run` in its own process group; yields its address."""

    def answering(log: str) -> str | None:
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", log)
        if not found:
            return None
        url = f"http://127.0.0.1:{found[1]}"
        get_json(f"{url}/api/main")
        return url

    command = [sys.executable, "-m", "kedro", "viz", "run", "--no-browser", "--port", str(VIZ_PORT)]
    return serving(project, command, "kedro viz", answering)


@contextlib.contextmanager
def serving(
    project: Path, command: list[str], what: str, answering: Callable[[str], str | None]
) -> Iterator[str]:
    """``command`` in its own process group, its output in ``<project>/<what>.log``:
    yields the address ``answering(log text)`` gives once the server answers (an
    OSError or None: not yet), within 3 minutes. Stopped with SIGTERM, then SIGKILL."""
    log = project / f"{what.replace(' ', '-')}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=project, env=env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                url = answering(log.read_text(errors="replace"))
                if url is not None:
                    yield url
                    return
            if process.poll() is not None:
                raise SystemExit(f"{what} exited:\n{log.read_text()}")
            time.sleep(0.5)
        raise SystemExit(f"{what} did not start:\n{log.read_text()}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def screenshot(url: str, target: Path, window: tuple[int, int] = WINDOW) -> None:
    """Headless Chromium, a fresh profile, no network beyond the loopback server."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed for the screenshot: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}",
             "--virtual-time-budget=15000", "--hide-scrollbars", f"--screenshot={target}", url],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip


def keep_side_panel(path: Path) -> None:
    """Crop the screenshot to Kedro-Viz's metadata panel, which holds the preview."""
    from matplotlib.image import imread, imsave

    image = imread(path)
    imsave(path, image[:, -SIDE_PANEL_WIDTH:])


def keep_top_left(path: Path, width: int, height: int) -> None:
    """Crop the screenshot to its top left ``width`` x ``height`` pixels."""
    from matplotlib.image import imread, imsave

    image = imread(path)
    imsave(path, image[:height, :width])


if __name__ == "__main__":
    main()
