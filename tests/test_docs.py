"""The Python examples in docs/*.md run as written; the READMEs name the commands
that exist (every benchmark script, `kedro metrics ui`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests import warm_process

DOCS = Path(__file__).resolve().parents[1] / "docs"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.md")):
        for index, block in enumerate(_PYTHON_BLOCK.findall(page.read_text())):
            found.append((f"{page.name}#{index}", block))
    return found


@pytest.mark.parametrize(("where", "code"), _examples(), ids=[w for w, _ in _examples()])
def test_docs_example_runs(where: str, code: str, tmp_path: Path) -> None:
    """Each ```python block of the docs runs as ``python -c`` runs it without error, in
    a new process that starts with MLflow and pandas imported (tests/warm_process.py)."""
    warm_process.start_server(dict(os.environ))
    status, _, stderr = warm_process.run_code(code, cwd=tmp_path, env=dict(os.environ), timeout=300)
    assert status == 0, f"{where} failed:\n{stderr[-3000:]}"


BENCHMARKS = Path(__file__).resolve().parent / "benchmarks"


def _benchmark_scripts() -> list[str]:
    """The runnable scripts of tests/benchmarks (those with a ``__main__`` block)."""
    return sorted(
        path.name
        for path in BENCHMARKS.glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    )


class TestBenchmarksReadme:
    """tests/benchmarks/README.md says how to run every benchmark script."""

    def test_the_scripts_are_found(self):
        assert {"bench.py", "bench_read.py", "bench_spool.py", "params_overhead.py", "pictures.py",
                "run_overhead.py"} <= set(_benchmark_scripts())  # fmt: skip

    @pytest.mark.parametrize("script", _benchmark_scripts())
    def test_every_script_has_its_command_and_an_entry(self, script):
        """A ``python tests/benchmarks/<script>`` command line, and a ``- `<script>`: ...``
        entry under Files saying what it compares."""
        readme = (BENCHMARKS / "README.md").read_text()
        assert f"python tests/benchmarks/{script}" in readme
        assert f"- `{script}`: " in readme


def test_the_docs_point_to_kedro_metrics_ui():
    """The README, the example's README and docs/*.md name `kedro metrics ui` (the
    project's own store), never a hand-typed `mlflow ui` command."""
    root = DOCS.parent
    pages = [root / "README.md", DOCS / "example" / "README.md", *sorted(DOCS.glob("*.md"))]
    assert [
        page.name for page in pages if "mlflow ui --backend-store-uri" in page.read_text()
    ] == []
    assert "kedro metrics ui" in (root / "README.md").read_text()
    assert "kedro metrics ui" in (DOCS / "example" / "README.md").read_text()


ROOT = DOCS.parent
_PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted(DOCS.glob("*/README.md")),
          ROOT / "tests" / "benchmarks" / "README.md"]  # fmt: skip
_FROM_IMPORT = re.compile(
    r"(?:^\s*|`)from (kedro_metrics[\w.]*) import ([\w, ]+)(?:$|`)", re.MULTILINE
)
_DOTTED = re.compile(r"`(kedro_metrics(?:\.\w+)+)(?:\(\))?`")
#: How a page would point above the repository's root: the parent folder, or a
#: design file that lives there (spelled in two parts so this file names neither).
_OUTSIDE = ("../" + "shared", "DESIGN" + ".md")
#: MLflow tag names the plugin writes, documented as such: not imports.
TAG_NAMES = {
    "kedro_metrics.check.baseline", "kedro_metrics.git_dirty", "kedro_metrics.spool_id",
    "kedro_metrics.version",
}  # fmt: skip


def _documented_imports() -> list[tuple[str, str]]:
    """(module, name) for every ``from kedro_metrics... import name`` line and every
    `kedro_metrics.a.b` name in backquotes of the READMEs and docs/."""
    found = set()
    for page in _PAGES:
        text = page.read_text()
        for module, names in _FROM_IMPORT.findall(text):
            found.update((module, name.strip()) for name in names.split(","))
        for dotted in _DOTTED.findall(text):
            if dotted not in TAG_NAMES:
                module, _, name = dotted.rpartition(".")
                found.add((module, name))
    return sorted(found)


class TestDocumentedNames:
    """What the docs tell users to import exists, and no page points outside the repository."""

    def test_the_docs_name_imports(self):
        modules = {module for module, _ in _documented_imports()}
        assert {"kedro_metrics", "kedro_metrics.hook", "kedro_metrics.store"} <= modules

    @pytest.mark.parametrize(("module", "name"), _documented_imports())
    def test_documented_import_resolves(self, module, name):
        """``from <module> import <name>`` works: a name of the module, or a submodule."""
        import importlib
        import importlib.util

        try:
            imported = importlib.import_module(module)
        except ModuleNotFoundError:
            pytest.fail(f"the docs name {module}.{name}, but there is no module {module}")
        assert hasattr(imported, name) or importlib.util.find_spec(f"{module}.{name}") is not None

    def test_no_page_points_outside_the_repository(self):
        """The docs stand on the repository alone: no link or path above its root."""
        offenders = [
            f"{page.relative_to(ROOT)}: {line.strip()}"
            for page in [*_PAGES, *sorted(DOCS.glob("**/*.md"))]
            for line in page.read_text().splitlines()
            if any(outside in line for outside in _OUTSIDE)
        ]
        assert offenders == []

    def test_every_test_file_named_in_the_docs_exists(self):
        """The guarantee tables point at test files that exist (tests mirror the wings)."""
        named = {
            ref for page in _PAGES for ref in re.findall(r"tests/[\w/]+\.py", page.read_text())
        }
        assert named, "the docs name no test file"
        assert sorted(ref for ref in named if not (ROOT / ref).exists()) == []
