"""The package's shape: import layers, lazy mlflow, runnable docstring examples, and
the entry points Kedro discovers the plugin by."""

from __future__ import annotations

import doctest
import os
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import distribution
from pathlib import Path

import pytest

import kedro_metrics.io.datasets
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

    @pytest.mark.parametrize(
        ("contract", "probe", "bad_import"),
        [
            ("mlflow", "cli/_probe.py", "import mlflow"),
            ("mlflow", "_probe.py", "from mlflow import MlflowClient"),
            ("matplotlib", "io/_probe.py", "import matplotlib"),
            ("kedro", "_probe.py", "import kedro"),
            ("kedro", "delivery/_probe.py", "from kedro.io import DatasetError"),
            ("wings", "store/_probe.py", "import kedro_metrics.hook"),
            ("wings", "delivery/_probe.py", "from kedro_metrics.reading import query"),
            ("wings", "points.py", "import kedro_metrics.project"),
            ("mlflow", "spool/_probe.py", "import mlflow"),
            ("wings", "spool/_probe.py", "from kedro_metrics import delivery"),
        ],
        ids=[
            "mlflow-in-cli", "mlflow-in-a-new-core-module", "matplotlib-in-io",
            "kedro-in-a-new-core-module", "kedro-in-delivery", "store-imports-hook",
            "delivery-imports-reading", "core-imports-project", "mlflow-in-spool",
            "spool-imports-delivery",
        ],
    )  # fmt: skip
    def test_each_contract_fails_on_a_forbidden_import(self, tmp_path, contract, probe, bad_import):
        """A copy of the package with one forbidden import added makes `lint-imports`
        report that contract broken and exit non-zero: no module escapes a contract,
        a new one included."""
        shutil.copytree(REPO / "kedro_metrics", tmp_path / "kedro_metrics")
        shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
        target = tmp_path / "kedro_metrics" / probe
        target.write_text(
            f"{target.read_text()}\n{bad_import}\n" if target.exists() else f"{bad_import}\n"
        )
        lint_imports = Path(sys.executable).with_name("lint-imports")
        result = subprocess.run(
            [str(lint_imports), "--config", "pyproject.toml", "--no-cache", "--contract", contract],
            cwd=tmp_path,
            env={**quiet_env(), "PYTHONPATH": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "1 broken" in result.stdout
        module = "kedro_metrics." + probe.removesuffix(".py").replace("/", ".")
        assert module in result.stdout

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

    def test_the_cli_entry_point_imports_no_subcommand(self):
        """Loading the CLI entry point (what ``kedro --help`` does) imports the package
        face and the two groups only: each subcommand's module waits for its command."""
        code = (
            "import sys\n"
            "from importlib.metadata import distribution\n"
            "(ep,) = distribution('kedro-metrics').entry_points.select("
            "group='kedro.project_commands')\n"
            "ep.load()\n"
            "ours = sorted(m for m in sys.modules if m.split('.')[0] == 'kedro_metrics')\n"
            "print('OURS=' + repr(ours))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=quiet_env(),
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("OURS=")]
        assert line == "OURS=['kedro_metrics', 'kedro_metrics.cli']"


class TestDocstrings:
    """The examples in the dataset docstrings run."""

    def test_dataset_doctests_pass(self, tmp_path, monkeypatch):
        """doctest.testmod(kedro_metrics.io.datasets) runs examples and none fails."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the examples' stores
        results = doctest.testmod(kedro_metrics.io.datasets, verbose=False, report=True)
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
