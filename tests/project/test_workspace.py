"""workspace: git_state against real git repositories in temporary folders, and with no
git executable at all."""

from __future__ import annotations

import subprocess

import pytest

from kedro_metrics import store, workspace
from kedro_metrics.run_context import GitState, standard_tags
from kedro_metrics.workspace import git_state


def git(repo, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A repository with one commit on branch `main` and an untracked mlflow.db."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "commit", "-q", "-m", "first")
    (tmp_path / "mlflow.db").write_bytes(b"untracked")
    return tmp_path


class TestGitState:
    def test_a_clean_tree(self, repo):
        """Commit and branch; an untracked file does not make it dirty."""
        assert git_state(repo) == GitState(git(repo, "rev-parse", "HEAD"), "main", False)

    def test_a_changed_tracked_file_is_dirty(self, repo):
        (repo / "code.py").write_text("x = 2\n")
        assert git_state(repo) == GitState(git(repo, "rev-parse", "HEAD"), "main", True)

    def test_from_a_subfolder_of_the_repository(self, repo):
        (repo / "project").mkdir()
        assert git_state(repo / "project") == GitState(
            git(repo, "rev-parse", "HEAD"), "main", False
        )

    def test_a_detached_head_has_no_branch(self, repo):
        commit = git(repo, "rev-parse", "HEAD")
        git(repo, "checkout", "-q", "--detach", commit)
        assert git_state(repo) == GitState(commit, None, False)

    def test_a_repository_without_commits(self, tmp_path):
        git(tmp_path, "init", "-q")
        assert git_state(tmp_path) is None

    def test_outside_any_repository(self, tmp_path, monkeypatch):
        monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
        assert git_state(tmp_path) is None

    def test_no_git_executable(self, repo, monkeypatch, tmp_path_factory):
        """PATH without git: no tags, no error."""
        monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))
        assert git_state(repo) is None


def run_tags(project) -> dict[str, str]:
    """The standard tags a run of ``project`` gets (as tracked_run.context_tags builds them)."""
    return standard_tags(store.STANDARD_TAG_NAMES, user="ada", package_name="pkg",
                         git=git_state(project), kedro_version="1.0", plugin_version="0.1")  # fmt: skip


class TestGitTags:
    """The exact tags a run gets from the project's repository."""

    BASE = {"mlflow.user": "ada", "mlflow.source.name": "pkg", "mlflow.source.type": "PROJECT",
            "kedro.version": "1.0", "kedro_metrics.version": "0.1"}  # fmt: skip

    def test_clean(self, repo):
        assert run_tags(repo) == {
            **self.BASE, "mlflow.source.git.commit": git(repo, "rev-parse", "HEAD"),
            "mlflow.source.git.branch": "main", "kedro_metrics.git_dirty": "false",
        }  # fmt: skip

    def test_dirty_after_a_tracked_file_changed(self, repo):
        (repo / "code.py").write_text("x = 2\n")
        assert run_tags(repo) == {
            **self.BASE, "mlflow.source.git.commit": git(repo, "rev-parse", "HEAD"),
            "mlflow.source.git.branch": "main", "kedro_metrics.git_dirty": "true",
        }  # fmt: skip

    def test_no_git_executable_gives_no_git_tags(self, repo, monkeypatch, tmp_path_factory):
        monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))
        assert run_tags(repo) == self.BASE


class TestGitignoreCovers:
    """Git's rules for a name at the project's top, as `kedro metrics init` reads a
    .gitignore."""

    @pytest.mark.parametrize(
        ("lines", "entry", "covered"),
        [
            ([], "mlflow.db", False),
            (["mlflow.db"], "mlflow.db", True),
            (["/mlflow.db"], "mlflow.db", True),
            (["*.db"], "mlflow.db", True),
            (["**/mlflow.db"], "mlflow.db", True),
            (["# mlflow.db", ""], "mlflow.db", False),
            (["mlflow.db", "!mlflow.db"], "mlflow.db", False),
            (["!mlflow.db", "mlflow.db"], "mlflow.db", True),
            (["mlflow.db/"], "mlflow.db", False),  # a folder pattern: not a file
            ([".kedro_metrics/"], ".kedro_metrics/", True),
            ([".kedro_*"], ".kedro_metrics/", True),
            ([".kedro_metrics/**"], ".kedro_metrics/", True),
            (["data/mlflow.db"], "mlflow.db", False),  # not at the top
            (["mlflow.d"], "mlflow.db", False),
        ],
    )
    def test_the_last_matching_line_decides(self, lines, entry, covered):
        assert workspace.gitignore_covers(lines, entry) is covered


def test_current_user_is_the_os_user():
    import getpass

    assert workspace.current_user() == getpass.getuser()
