"""The Python examples in docs/*.md run as written; the READMEs name the commands
that exist (every benchmark script, `kedro metrics ui`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

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
    """Each ```python block of the docs runs in a fresh interpreter without error."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{where} failed:\n{result.stderr[-3000:]}"


BENCHMARKS = Path(__file__).resolve().parent / "benchmarks"


def _benchmark_scripts() -> list[str]:
    """The runnable scripts of tests/benchmarks (those with a ``__main__`` block)."""
    return sorted(
        path.name for path in BENCHMARKS.glob("*.py") if 'if __name__ == "__main__":' in path.read_text()
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
    assert [page.name for page in pages if "mlflow ui --backend-store-uri" in page.read_text()] == []
    assert "kedro metrics ui" in (root / "README.md").read_text()
    assert "kedro metrics ui" in (DOCS / "example" / "README.md").read_text()
