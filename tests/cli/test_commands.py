"""kedro_metrics.cli helpers that need no project (the commands run in tests/e2e)."""

from __future__ import annotations

import socket
import tempfile

import click
import pytest

from kedro_metrics.cli.arguments import check_port_free, why_unwritable
from kedro_metrics.cli.basics import GITIGNORE_ENTRIES, missing_gitignore_entries
from kedro_metrics.cli.output import MetricsUsageError
from kedro_metrics.errors import ConfigError
from kedro_metrics.project import conf_env_dir


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


class TestWritableFile:
    """`--output` / `--plot`: why a new file cannot be written, before anything runs."""

    def test_a_file_in_an_existing_folder_is_fine_and_leaves_nothing(self, tmp_path):
        assert why_unwritable(tmp_path / "x.json", create_folders=False) is None
        assert list(tmp_path.iterdir()) == []  # the probe file is gone

    def test_a_missing_folder_is_refused_unless_it_may_be_created(self, tmp_path):
        target = tmp_path / "no" / "such" / "x.png"
        assert why_unwritable(target, create_folders=False) == (
            f"the folder {target.parent} does not exist"
        )
        assert why_unwritable(target, create_folders=True) is None
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("create_folders", [False, True])
    def test_a_file_on_the_way_is_not_a_folder(self, tmp_path, create_folders):
        (tmp_path / "afile").write_text("")
        target = tmp_path / "afile" / "deeper" / "x.png"
        assert why_unwritable(target, create_folders=create_folders) == (
            f"{tmp_path / 'afile'} is a file, not a folder"
        )

    def test_a_folder_that_takes_no_files(self, tmp_path, monkeypatch):
        def refuse(**kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        assert why_unwritable(tmp_path / "x.png", create_folders=True) == (
            f"the folder {tmp_path} is not writable"
        )
        assert why_unwritable(tmp_path / "new" / "x.png", create_folders=True) == (
            f"the folder {tmp_path} is not writable (so {tmp_path / 'new'} cannot be created)"
        )


class TestEnvironmentFolder:
    """Environments are names of folders under conf/."""

    @pytest.mark.parametrize(
        ("env", "problem"),
        [
            ("", "'' is empty"),
            ("  ", "'  ' is empty"),
            ("..", "'..' is a path, not the name of a folder"),
            (".", "'.' is a path"),
            ("../../x", "'../../x' is a path"),
            ("base/deeper", "'base/deeper' is a path"),
            ("a\\b", "'a\\\\b' is a path"),
            ("afile", "'afile' is not a folder"),
        ],
    )
    def test_refused_with_or_without_a_folder(self, tmp_path, env, problem):
        (tmp_path / "base").mkdir()
        (tmp_path / "afile").write_text("")
        for must_exist in (False, True):
            with pytest.raises(ConfigError) as raised:
                conf_env_dir(tmp_path, env, must_exist=must_exist)
            assert f"The configuration environment {problem}" in str(raised.value)
            assert str(raised.value).endswith(
                f"Environments are the folders under {tmp_path} (base)."
            )

    def test_a_new_name_is_fine_unless_it_must_exist(self, tmp_path):
        assert conf_env_dir(tmp_path, "staging", must_exist=False) == tmp_path / "staging"
        with pytest.raises(ConfigError, match="'staging' does not exist: there is no folder"):
            conf_env_dir(tmp_path, "staging", must_exist=True)
        assert list(tmp_path.iterdir()) == []


class TestPortFree:
    def test_a_free_port_passes(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        check_port_free("127.0.0.1", port)

    def test_a_listening_port_is_refused(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with pytest.raises(
                MetricsUsageError, match=f"Cannot listen on port {port} of 127.0.0.1"
            ):
                check_port_free("127.0.0.1", port)


class TestLazyGroup:
    """``kedro metrics``'s subcommands are found by name, each from its own module."""

    def test_every_subcommand_resolves_to_the_command_of_that_name(self):
        from kedro_metrics.cli import SUBCOMMANDS, metrics

        context = click.Context(metrics)
        assert metrics.list_commands(context) == sorted(SUBCOMMANDS) == [
            "check", "compare", "export", "history", "init", "plot", "runs", "show", "sync",
            "ui",
        ]  # fmt: skip
        for name in SUBCOMMANDS:
            command = metrics.get_command(context, name)
            assert isinstance(command, click.Command)
            assert command.name == name

    def test_no_command_of_the_cli_modules_is_left_out(self):
        """Every click command defined in the CLI's modules is a ``metrics`` subcommand."""
        from kedro_metrics.cli import SUBCOMMANDS, basics, check, export

        defined = {
            f"{module.__name__}:{attribute}"
            for module in (basics, check, export)
            for attribute, value in vars(module).items()
            if isinstance(value, click.Command)
        }
        assert defined == set(SUBCOMMANDS.values())

    def test_an_unknown_name_is_no_command(self):
        from kedro_metrics.cli import metrics

        assert metrics.get_command(click.Context(metrics), "nope") is None
