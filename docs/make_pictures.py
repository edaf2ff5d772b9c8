"""Regenerate the two pictures of docs/pictures.md from the example project.

    .venv/bin/python docs/make_pictures.py

1. Copies docs/example to a temporary directory and runs it twice (learning rates
   0.5 and 0.02, runs named lr-0.5 and lr-0.02), then `kedro metrics plot "model_metrics.*" --run latest~1 --run
   latest --output docs/images/plot.png`.
2. Starts `kedro viz run --include-hooks` there and takes a screenshot of the
   model_metrics preview with headless Chromium (Debian's `chromium` package) into
   docs/images/kedro-viz-preview.png.

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
from collections.abc import Iterator
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
QUIET = {"KEDRO_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
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


def kedro(project: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "kedro", *args], cwd=project, env=env(), check=True)


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KEDRO_"))}
    return {**clean, **QUIET}


@contextlib.contextmanager
def kedro_viz(project: Path) -> Iterator[str]:
    """`kedro viz run --include-hooks` in its own process group; yields its address."""
    log = project / "viz.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kedro", "viz", "run", "--include-hooks", "--no-browser",
             "--port", str(VIZ_PORT)],
            cwd=project, env=env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", log.read_text(errors="replace"))
            if found:
                url = f"http://127.0.0.1:{found[1]}"
                with contextlib.suppress(OSError):
                    get_json(f"{url}/api/main")
                    yield url
                    return
            if process.poll() is not None:
                raise SystemExit(f"kedro viz exited:\n{log.read_text()}")
            time.sleep(0.5)
        raise SystemExit(f"kedro viz did not start:\n{log.read_text()}")
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


def screenshot(url: str, target: Path) -> None:
    """Headless Chromium, a fresh profile, no network beyond the loopback server."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is needed for the screenshot: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
             "--virtual-time-budget=15000", "--hide-scrollbars", f"--screenshot={target}", url],
            check=True, capture_output=True, timeout=180,
        )  # fmt: skip


def keep_side_panel(path: Path) -> None:
    """Crop the screenshot to Kedro-Viz's metadata panel, which holds the preview."""
    from matplotlib.image import imread, imsave

    image = imread(path)
    imsave(path, image[:, -SIDE_PANEL_WIDTH:])


if __name__ == "__main__":
    main()
