"""The working copy a run starts from and who starts it: the git state of the
project's repository (one ``git status``), the OS user, and whether a .gitignore
keeps a name out. What the run's standard tags and ``kedro metrics init`` need.

No mlflow and no kedro import here.
"""

from __future__ import annotations

import fnmatch
import getpass
import os
import subprocess

from kedro_metrics.run_context import GitState

#: How long reading git may take before the run goes on without git tags.
GIT_TIMEOUT_SECONDS = 2.0


def git_state(project_path: str | os.PathLike[str]) -> GitState | None:
    """The commit, branch and dirtiness of the git repository holding the project.

    One ``git status`` subprocess; no ``git`` executable, no repository, a repository
    without commits or a git slower than ``GIT_TIMEOUT_SECONDS`` give None.
    Untracked files (``mlflow.db``) do not make the tree dirty.
    """
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],  # noqa: S607 - git from PATH, as a shell finds it
            cwd=project_path,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    commit = branch = None
    dirty = False
    for line in result.stdout.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.split(" ", 2)[2]
        elif line.startswith("# branch.head "):
            branch = line.split(" ", 2)[2]
        elif line and not line.startswith("#"):
            dirty = True
    if not commit or commit == "(initial)":
        return None
    return GitState(commit, None if branch == "(detached)" else branch, dirty)


def current_user() -> str | None:
    """The user name MLflow records as ``mlflow.user`` (None when the OS has none)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user in a bare container: no tag
        return None


def gitignore_covers(lines: list[str], entry: str) -> bool:
    """Does a .gitignore with ``lines`` ignore ``entry`` (a name at the project's top,
    a folder when it ends with "/")? Git's rules for one-level names: blank lines and
    ``#`` comments skipped, a leading "/" anchors, a trailing "/" matches folders only,
    globs (``*.db``, ``.kedro_*``) match, ``!pattern`` re-includes; the last matching
    line decides."""
    is_folder = entry.endswith("/")
    name = entry.rstrip("/")
    ignored = False
    for raw in lines:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if pattern.endswith("/**"):  # everything inside: the folder, for our purpose
            pattern = pattern.removesuffix("**")
        if pattern.endswith("/") and not is_folder:
            continue
        pattern = pattern.strip("/").removeprefix("**/")
        if "/" not in pattern and fnmatch.fnmatchcase(name, pattern):
            ignored = not negated
    return ignored
