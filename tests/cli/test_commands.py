"""kedro_metrics.cli helpers that need no project (the commands run in tests/e2e)."""

from __future__ import annotations

import pytest

from kedro_metrics.cli.commands import GITIGNORE_ENTRIES, missing_gitignore_entries


class TestMissingGitignoreEntries:
    """`kedro metrics init` names the .gitignore entries a project lacks."""

    def test_no_gitignore_lacks_both(self, tmp_path):
        """Without a .gitignore both the store and the spool folder are missing."""
        assert missing_gitignore_entries(tmp_path / ".gitignore") == list(GITIGNORE_ENTRIES)
        assert GITIGNORE_ENTRIES == ("mlflow.db", ".kedro_metrics/")

    @pytest.mark.parametrize(
        ("text", "missing"),
        [
            ("mlflow.db\n.kedro_metrics/\n", []),
            ("/mlflow.db\n.kedro_metrics\n", []),
            ("data/\nmlflow.db\n", [".kedro_metrics/"]),
            ("  .kedro_metrics/  \n", ["mlflow.db"]),
            ("*.db\n.kedro_*\n", []),
            ("**/*.db\n/.kedro_metrics/**\n", []),
            ("*.db\n!mlflow.db\n.kedro_metrics/\n", ["mlflow.db"]),
            ("# mlflow.db\nmlflow.db/\nsrc/.kedro_metrics/\n", list(GITIGNORE_ENTRIES)),
        ],
    )
    def test_entries_found_in_common_spellings(self, tmp_path, text, missing):
        """Leading slashes, missing trailing slashes, spaces and globs count; a
        comment, a folder-only pattern for a file, a deeper path and a later
        negation do not."""
        gitignore = tmp_path / ".gitignore"
        gitignore.write_text(text)
        assert missing_gitignore_entries(gitignore) == missing
