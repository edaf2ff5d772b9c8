"""The package's shape: import layers, lazy mlflow, runnable docstring examples, and
the entry points Kedro discovers the plugin by."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
import tempfile
from importlib.metadata import distribution
from pathlib import Path

import pytest

import kedro_metrics.datasets
from tests.servers import QUIET_ENV

REPO = Path(__file__).resolve().parents[1]


def quiet_env() -> dict[str, str]:
    env = {**os.environ, **QUIET_ENV}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


class TestImports:
    """Imports point downward and mlflow is loaded only when needed."""

    def test_import_linter_contracts_are_kept(self):
        """`lint-imports` (the contracts in pyproject.toml) exits 0."""
        lint_imports = Path(sys.executable).with_name("lint-imports")
        assert lint_imports.exists(), f"import-linter is not installed next to {sys.executable}"
        result = subprocess.run(
            [str(lint_imports), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
            cwd=REPO,
            env=quiet_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 broken" in result.stdout

    def test_package_hook_and_cli_do_not_import_mlflow(self):
        """Importing kedro_metrics, its hook and its CLI (Kedro's start-up) loads no mlflow."""
        code = (
            "import sys, kedro_metrics, kedro_metrics.hook, kedro_metrics.cli\n"
            "loaded = sorted(m for m in sys.modules if m == 'mlflow' or m.startswith('mlflow.'))\n"
            "print('MLFLOW_MODULES=' + repr(loaded))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=quiet_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("MLFLOW_MODULES=")]
        assert line == "MLFLOW_MODULES=[]"


class TestDocstrings:
    """The examples in the dataset docstrings run."""

    def test_dataset_doctests_pass(self, tmp_path, monkeypatch):
        """doctest.testmod(kedro_metrics.datasets) runs examples and none fails."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the examples' stores
        results = doctest.testmod(kedro_metrics.datasets, verbose=False, report=True)
        assert results.attempted > 0
        assert results.failed == 0


class TestEntryPoints:
    """Installing the distribution is all it takes: Kedro finds the hook and the CLI."""

    @pytest.mark.parametrize(
        ("group", "target"),
        [
            ("kedro.hooks", "kedro_metrics.hook:hooks"),
            ("kedro.project_commands", "kedro_metrics.cli:commands"),
        ],
    )
    def test_entry_point_resolves(self, group, target):
        """The distribution's entry point in the group points at the module-level object."""
        entry_points = distribution("kedro-metrics").entry_points.select(group=group)
        entry_points = list(entry_points)
        assert [ep.value for ep in entry_points] == [target]
        module_name, attribute = target.split(":")
        module = __import__(module_name, fromlist=[attribute])
        assert entry_points[0].load() is getattr(module, attribute)
