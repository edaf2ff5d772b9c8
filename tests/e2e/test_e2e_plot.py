"""`kedro metrics plot` and `kedro metrics history --plot` in a real project after real
`kedro run`s: the PNGs open with matplotlib's reader, have the expected size, are
not blank, and change when a new run changes the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


def read_png(path: Path) -> np.ndarray:
    from matplotlib.image import imread

    return imread(path)


@dataclass(frozen=True)
class Plots:
    """The PNGs written after the first and the second run, and the commands' output."""

    first: Path
    second: Path
    first_again: Path
    both_runs: Path
    history: Path
    outputs: dict[str, Any]


@pytest.fixture(scope="module")
def plots(tmp_path_factory, new_project, kedro) -> Plots:
    """Two `kedro run`s (a_metrics from index 0, then 5), plots after each. Both runs
    have the same name, so only the metrics can tell their pictures apart."""
    project = new_project(tmp_path_factory.mktemp("plot"))
    (project / "conf" / "local" / "metrics.yml").write_text("run_name: same name\n")
    out = project / "pictures"
    out.mkdir()
    outputs = {}
    kedro(project, "run").check()
    outputs["first"] = kedro(
        project, "metrics", "plot", "a_metrics.*", "--output", str(out / "first.png")
    )
    kedro(project, "run", "--params", "factory_index.a=5").check()
    outputs["second"] = kedro(
        project, "metrics", "plot", "a_metrics.*", "-o", str(out / "new" / "second.png")
    )
    outputs["first_again"] = kedro(
        project,
        "metrics",
        "plot",
        "a_metrics.*",
        "--run",
        "latest~1",
        "-o",
        str(out / "first_again.png"),
    )
    outputs["both_runs"] = kedro(
        project, "metrics", "plot", "a_metrics.*", "--run", "latest~1", "--run", "latest",
        "--output", str(out / "both.png"),
    )  # fmt: skip
    outputs["history"] = kedro(
        project, "metrics", "history", "a_metrics.curve", "--run", "latest~1", "--run", "latest",
        "--plot", str(out / "history.png"),
    )  # fmt: skip
    outputs["no_match"] = kedro(
        project, "metrics", "plot", "nothing.*", "-o", str(out / "none.png")
    )
    return Plots(
        out / "first.png", out / "new" / "second.png", out / "first_again.png", out / "both.png",
        out / "history.png", outputs,
    )  # fmt: skip


class TestPlotCommand:
    """`kedro metrics plot NAME_GLOB --output FILE.png` writes a readable PNG."""

    def test_commands_succeed_and_say_where(self, plots):
        """Exit 0 and a line naming the file written (its missing folder created)."""
        for key in ("first", "second", "both_runs"):
            result = plots.outputs[key].check()
            assert "Wrote " in result.stdout, result.output

    @pytest.mark.parametrize("attribute", ["first", "second", "both_runs"])
    def test_png_size_is_two_panels_at_100_dpi(self, plots, attribute):
        """Two metrics (curve, score): two panels side by side, 1000 x 500 pixels."""
        image = read_png(getattr(plots, attribute))
        assert image.shape[:2] == (500, 1000)

    @pytest.mark.parametrize("attribute", ["first", "second", "both_runs", "history"])
    def test_png_is_not_blank(self, plots, attribute):
        """The pixels vary: something is drawn."""
        image = read_png(getattr(plots, attribute))
        assert float(image[..., :3].std()) > 0.05

    def test_second_run_changes_the_picture(self, plots):
        """Same run name, same panels: the pixels differ because the values do (the
        first run plotted again after the second gives the first picture exactly)."""
        first, second = read_png(plots.first), read_png(plots.second)
        assert first.shape == second.shape
        assert not np.array_equal(first, second)
        assert np.array_equal(read_png(plots.first_again), first)

    def test_two_runs_differ_from_one(self, plots):
        """Plotting both runs draws more than the latest alone."""
        assert not np.array_equal(read_png(plots.both_runs), read_png(plots.second))

    def test_no_match_is_an_error(self, plots):
        """A glob matching nothing exits non-zero, saying so; no file is written."""
        result = plots.outputs["no_match"]
        assert result.returncode != 0
        assert "nothing.*" in result.stderr + result.stdout, result.output
        assert not (plots.first.parent / "none.png").exists()


class TestHistoryPlot:
    """`kedro metrics history NAME --plot FILE.png` writes the same kind of picture."""

    def test_history_plot_is_one_panel(self, plots):
        """One metric: one panel, 800 x 500 pixels, and the records still printed."""
        result = plots.outputs["history"].check()
        assert "Wrote " in result.stdout, result.output
        assert read_png(plots.history).shape[:2] == (500, 800)
