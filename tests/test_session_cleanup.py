"""A test session leaves no temporary folder of its own behind (issue 19): the spool
folder tests/conftest.py makes for saves outside `kedro run` is removed at the end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_session_removes_its_spool_folder(tmp_path: Path) -> None:
    """A session (one quick test) in a temporary directory of its own: afterwards
    that directory holds no ``kedro-metrics-spool-*`` folder."""
    env = {k: v for k, v in os.environ.items() if k != "KEDRO_METRICS_SPOOL_DIR"}
    env["TMPDIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "basetemp"),
         "tests/core/test_filters.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("kedro-metrics-spool-*")) == []
