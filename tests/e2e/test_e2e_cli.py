"""`kedro metrics init` in a real project: writes conf/base/metrics.yml, refuses to
overwrite it, overwrites it with --force, and says which .gitignore entries are missing
(globs such as `*.db` count)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.e2e

EDITED = "experiment: mine\n"
#: Globs that cover mlflow.db and .kedro_metrics/ without naming them.
GLOB_GITIGNORE = "# local stores\n*.db\n.kedro_*/\n"
GITIGNORE_ADVICE = (
    "Keep the local MLflow store and spool out of git: add mlflow.db, .kedro_metrics/ "
    "to the project's .gitignore."
)


@dataclass(frozen=True)
class InitSequence:
    """init, then init again over an edited file, then init --force."""

    first: Any
    written: str
    second: Any
    after_second: str
    forced: Any
    after_force: str


@pytest.fixture(scope="module")
def init_sequence(tmp_path_factory, new_project, kedro) -> InitSequence:
    project = new_project(tmp_path_factory.mktemp("cli"))
    target = project / "conf" / "base" / "metrics.yml"
    first = kedro(project, "metrics", "init")
    written = target.read_text() if target.exists() else ""
    target.write_text(EDITED)
    second = kedro(project, "metrics", "init")
    after_second = target.read_text()
    (project / ".gitignore").write_text(GLOB_GITIGNORE)
    forced = kedro(project, "metrics", "init", "--force")
    return InitSequence(first, written, second, after_second, forced, target.read_text())


class TestMetricsInit:
    def test_init_writes_a_commented_metrics_yml(self, init_sequence):
        """init writes conf/base/metrics.yml, every option present but commented out."""
        init_sequence.first.check()
        text = init_sequence.written
        assert text.lstrip().startswith("#"), init_sequence.first.output
        assert yaml.safe_load(text) is None  # changes no default as written
        for key in ("tracking_uri", "experiment", "run_name", "tags", "disabled_pipelines"):
            assert key in text

    def test_without_a_gitignore_init_names_both_entries(self, init_sequence):
        """The project has no .gitignore: the advice names the store and the spool."""
        assert init_sequence.first.stdout.count(GITIGNORE_ADVICE) == 1, init_sequence.first.output

    def test_globs_in_the_gitignore_count(self, init_sequence):
        """`*.db` and `.kedro_*/` cover both: no advice."""
        init_sequence.forced.check()
        assert "Keep the local MLflow store" not in init_sequence.forced.output

    def test_second_init_fails_and_keeps_the_file(self, init_sequence):
        """init over an existing metrics.yml exits non-zero and leaves the file alone."""
        assert init_sequence.second.returncode != 0, init_sequence.second.output
        assert init_sequence.after_second == EDITED

    def test_second_init_says_why_and_what_to_do(self, init_sequence):
        """The refusal names the existing file and the --force option."""
        second = init_sequence.second
        said = second.stdout + second.stderr
        assert "already exists" in said, second.output
        assert "metrics.yml" in said, second.output
        assert "--force" in said, second.output

    def test_force_overwrites(self, init_sequence):
        """init --force replaces the edited file with the template."""
        init_sequence.forced.check()
        assert init_sequence.after_force == init_sequence.written
