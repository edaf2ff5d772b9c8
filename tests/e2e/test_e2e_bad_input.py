"""Bad input on the command line and in metrics.yml (issue 19): each ends in exactly
one `Error: ...` line and a non-zero exit, never a traceback nor exit 0, and nothing
is written: output paths that cannot be written, a metrics.yml that is not YAML
settings, an environment that is not a folder under conf/, a port that cannot be
listened on.

One project with one run serves the whole module (the commands run in this process
with click's CliRunner); one `kedro run` subprocess shows what a bad metrics.yml
does to a run.
"""

from __future__ import annotations

import importlib
import shutil
import socket
from pathlib import Path

import pytest

from tests.e2e.conftest import metrics_in_process

pytestmark = pytest.mark.e2e

#: A metric of the template project's default pipeline (two points).
METRIC = "a_metrics.curve"


@pytest.fixture(scope="module")
def project(tmp_path_factory, new_project, kedro) -> Path:
    """A project holding one run, a file `afile` at its top and a file conf/afile."""
    project = new_project(tmp_path_factory.mktemp("bad-input"))
    kedro(project, "run").check()
    (project / "afile").write_text("a file, not a folder\n")
    (project / "conf" / "afile").write_text("a file, not an environment\n")
    return project


def tree(root: Path) -> set[tuple[str, int]]:
    """Every file and folder under ``root`` (the project's parent: outside conf/
    too) with its size, but the store, which reading may touch."""
    return {
        (str(path.relative_to(root)), path.stat().st_size if path.is_file() else -1)
        for path in root.rglob("*")
        if not path.name.startswith("mlflow.db") and "__pycache__" not in path.parts
    }


@pytest.fixture
def untouched(project):
    """Fails the test when a file or folder appeared, vanished or changed size."""
    before = tree(project.parent)
    yield
    assert tree(project.parent) == before


def error_line(result, *, exit_code: int | None = None) -> str:
    """The one `Error:` line of a failed command (asserting there is exactly one,
    no traceback and a non-zero exit)."""
    said = result.stdout + result.stderr
    assert "Traceback" not in said, result.output
    assert result.returncode != 0, result.output
    if exit_code is not None:
        assert result.returncode == exit_code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert not [line for line in result.stdout.splitlines() if line.startswith("Error:")]
    return errors[0]


class TestOutputPaths:
    """A file that cannot be written is refused before the store is read."""

    @pytest.mark.parametrize(
        ("args", "said"),
        [
            (("export", "--output", "./no/such/dir/x.json"), "the folder no/such/dir does not exist"),
            (("export", "-o", "/proc/nope/x.json"), "the folder /proc/nope does not exist"),
            (("export", "--output", "afile/x.json"), "afile is a file, not a folder"),
            (("export", "--format", "csv", "-o", "afile/deeper/x.csv"), "afile is a file, not a folder"),
            (("plot", "a_metrics.*", "-o", "/sys/x.png"), "the folder /sys is not writable"),
            (("plot", "a_metrics.*", "-o", "/proc/nope/x.png"),
             "the folder /proc is not writable (so /proc/nope cannot be created)"),
            (("plot", "a_metrics.*", "-o", "afile/x.png"), "afile is a file, not a folder"),
            (("history", METRIC, "--plot", "/sys/x.png"), "the folder /sys is not writable"),
            (("history", METRIC, "--plot", "afile/x.png"), "afile is a file, not a folder"),
        ],
    )  # fmt: skip
    def test_an_unwritable_path_is_one_line(self, project, untouched, args, said):
        result = metrics_in_process(project, *args)
        path = args[-1]
        line = error_line(result, exit_code=2)
        assert line.startswith(
            f"Error: Cannot write --{'plot' if 'history' in args else 'output'} {path}: "
        )
        assert line.endswith(f": {said}."), line
        assert result.stdout.strip() == "", result.output  # nothing was read nor printed

    @pytest.mark.parametrize(
        ("args", "said"),
        [
            (("export", "--output", ""),
             "--output is empty: give a file path, or leave --output out to print to stdout."),
            (("export", "--format", "kubeflow", "-o", " "), "--output is empty"),
            (("plot", "a_metrics.*", "-o", ""), "--output is empty: give the PNG file to write."),
            (("history", METRIC, "--plot", ""),
             "--plot is empty: give the PNG file to draw, or leave --plot out."),
        ],
    )  # fmt: skip
    def test_an_empty_path_writes_nothing_and_says_why(self, project, untouched, args, said):
        result = metrics_in_process(project, *args)
        assert error_line(result, exit_code=2).startswith(f"Error: {said}")
        assert result.stdout == "", result.output

    def test_a_missing_png_folder_is_still_created(self, project):
        """plot makes the PNG's folder, as documented (docs/pictures.md)."""
        result = metrics_in_process(project, "plot", "a_metrics.*", "-o", "new/folder/x.png")
        assert result.returncode == 0, result.output
        assert (project / "new" / "folder" / "x.png").stat().st_size > 0


BAD_METRICS_YML = {
    "unclosed": (
        b"experiment: [unclosed\n",
        "is not valid YAML at line 2, column 1: expected ',' or ']', but got '<stream end>'.",
    ),
    "indented": (
        b"experiment: x\nretry_seconds: 1\n  mode: offline\n",
        "is not valid YAML at line 3, column 7: mapping values are not allowed here.",
    ),
    "tab": (b"experiment: x\n\tmode: offline\n", "is not valid YAML at line 2, column 1"),
    "duplicate": (
        b"experiment: a\nexperiment: b\n",
        "is not valid YAML at line 2, column 1: found duplicate key experiment.",
    ),
    "binary": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "is not a YAML text file: byte 0x89 at offset 0 is not UTF-8 (a binary file?).",
    ),
    "nul": (b"\x00\x00\x00\x01", "is not a YAML text file: it holds the character #x0000"),
    "list": (b"- experiment: x\n- mode: offline\n", "must hold settings (key: value lines) at "
             "the top level, not a list."),
    "number": (b"42\n", "must hold settings (key: value lines) at the top level, not a number."),
    "interpolation": (
        b"experiment: ${nope}\n",
        "The ${...} of 'experiment' in {file} does not resolve: Interpolation key 'nope' not found.",
    ),
    "unclosed-interpolation": (
        b"experiment: ${nope\n",
        "holds a ${...} that is not an interpolation: no viable alternative at input '${nope'.",
    ),
    "env-resolver": (
        b"tags:\n  owner: ${oc.env:USER}\n",
        "The ${...} of 'tags.owner' in {file} does not resolve: Unsupported interpolation "
        "type oc.env.",
    ),
    **{
        f"retry-{name}": (
            f"retry_seconds: {written}\n".encode(),
            f"'retry_seconds' in {{file}} must be a number of seconds from 0 to 86400 (a day), "
            f"got {read}.",
        )
        for name, written, read in (("nan", ".nan", "nan"), ("inf", ".inf", "inf"),
                                    ("1e400", "1e400", "inf"), ("negative", "-1", "-1"))
    },
}  # fmt: skip


@pytest.fixture
def metrics_yml(project):
    """``metrics_yml(content)`` writes conf/local/metrics.yml, removed afterwards."""
    path = project / "conf" / "local" / "metrics.yml"

    def write(content: bytes) -> Path:
        path.write_bytes(content)
        return path

    yield write
    path.unlink(missing_ok=True)


def expected_message(path: Path, said: str) -> str:
    return (
        f"Error: {said.replace('{file}', str(path))}"
        if "{file}" in said
        else f"Error: {path} {said}"
    )


class TestMetricsYml:
    """A metrics.yml that is not YAML settings: one line naming the file (and the
    line where YAML says so), as the project's ConfigError."""

    @pytest.mark.parametrize("case", list(BAD_METRICS_YML))
    def test_runs_says_what_is_wrong_in_one_line(self, project, metrics_yml, case):
        content, said = BAD_METRICS_YML[case]
        path = metrics_yml(content)
        line = error_line(metrics_in_process(project, "runs"), exit_code=1)
        assert line.startswith(expected_message(path, said)), line

    @pytest.mark.parametrize(
        "args",
        [("show", "--format", "json"), ("export",), ("sync", "--dry-run"), ("ui",), ("check",)],
        ids=lambda args: args[0],
    )
    def test_every_command_reading_it_says_so(self, project, metrics_yml, monkeypatch, args):
        started = fake_ui(monkeypatch)
        path = metrics_yml(BAD_METRICS_YML["list"][0])
        line = error_line(metrics_in_process(project, *args))
        assert line == expected_message(path, BAD_METRICS_YML["list"][1])
        assert started == []

    @pytest.mark.parametrize(
        ("content", "said"),
        [
            (BAD_METRICS_YML["unclosed"][0], "{file} " + BAD_METRICS_YML["unclosed"][1]),
            (b"retry_secnds: 5\n", "Unknown key 'retry_secnds' in {file}"),
            (b"retry_seconds: .nan\n", "'retry_seconds' in {file} must be a number of seconds"),
            (b"retry_seconds: .inf\n", "'retry_seconds' in {file} must be a number of seconds"),
            (b"retry_seconds: 1e400\n", "'retry_seconds' in {file} must be a number of seconds"),
        ],
        ids=["not-yaml", "misspelt-key", "nan-retry", "inf-retry", "1e400-retry"],
    )
    def test_kedro_run_is_one_line_and_creates_no_run(
        self, project, metrics_yml, kedro, store_at, content, said
    ):
        """The hook refuses the run before creating one, in one `Error:` line naming
        the file (no traceback: Kedro's CLI lets click show our error)."""
        runs_before = len(store_at(project / "mlflow.db").runs())
        path = metrics_yml(content)
        result = kedro(project, "run")
        assert result.returncode == 1, result.output
        assert "Traceback" not in result.stdout + result.stderr, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [result.stderr.strip().splitlines()[-1]], result.output
        assert errors[0].startswith("Error: " + said.format(file=path)), result.output
        assert len(store_at(project / "mlflow.db").runs()) == runs_before


class TestEnvironments:
    """Environments are names of folders under conf/: anything else is refused,
    and nothing is written outside conf/ (nor inside it)."""

    @pytest.mark.parametrize(
        ("args", "said"),
        [
            (("init", "--env", "../../x"), "'../../x' is a path, not the name of a folder"),
            (("init", "--env", ".."), "'..' is a path, not the name of a folder"),
            (("init", "--env", "base/deeper"), "'base/deeper' is a path"),
            (("init", "--env", ""), "'' is empty"),
            (("init", "--env", "afile"), "'afile' is not a folder: {conf}/afile is a file"),
            (("runs", "--env", "nope"),
             "'nope' does not exist: there is no folder {conf}/nope"),
            (("runs", "--env", "../../x"), "'../../x' is a path"),
            (("runs", "-e", ""), "'' is empty"),
            (("show", "--env", "afile"), "'afile' is not a folder"),
            (("export", "--env", "nope", "-o", "x.json"), "'nope' does not exist"),
            (("history", METRIC, "--env", "base/../local"), "is a path"),
            (("ui", "--env", "nope"), "'nope' does not exist"),
            (("sync", "--env", "nope"), "'nope' does not exist"),
        ],
    )  # fmt: skip
    def test_a_bad_env_is_one_line(self, project, untouched, monkeypatch, args, said):
        started = fake_ui(monkeypatch)
        line = error_line(metrics_in_process(project, *args), exit_code=2)
        conf = project / "conf"
        assert line.startswith("Error: The configuration environment "), line
        assert said.format(conf=conf) in line, line
        assert line.endswith(f"Environments are the folders under {conf} (base, local)."), line
        assert started == []

    def test_an_unknown_kedro_env_is_one_line(self, project, untouched):
        """KEDRO_ENV names the environment when --env does not."""
        result = metrics_in_process(project, "runs", env={"KEDRO_ENV": "nope"})
        line = error_line(result, exit_code=1)
        assert line.startswith("Error: The configuration environment 'nope' (KEDRO_ENV) does "
                               "not exist"), line  # fmt: skip

    def test_init_still_creates_a_new_environment(self, project):
        """A plain name gets its folder, as before."""
        try:
            result = metrics_in_process(project, "init", "--env", "staging")
            assert result.returncode == 0, result.output
            assert (project / "conf" / "staging" / "metrics.yml").is_file()
        finally:
            shutil.rmtree(project / "conf" / "staging", ignore_errors=True)


def fake_ui(monkeypatch) -> list[int]:
    """`mlflow ui` is never started: the ports it would have been started on."""
    commands = importlib.import_module("kedro_metrics.cli.basics")
    started: list[int] = []

    def serve(uri, *, host, port, cwd):
        started.append(port)
        return 0

    monkeypatch.setattr(commands, "serve_mlflow_ui", serve)
    return started


class TestUiPort:
    """A port that cannot be listened on is refused before `mlflow ui` starts."""

    @pytest.mark.parametrize("port", ["99999", "0", "-1", "65536"])
    def test_a_port_out_of_range_is_one_line(self, project, monkeypatch, port):
        started = fake_ui(monkeypatch)
        result = metrics_in_process(project, "ui", "--port", port)
        line = error_line(result, exit_code=2)
        assert line == f"Error: Invalid value for '--port': {port} is not in the range 1<=x<=65535."
        assert "http://" not in result.stdout, result.output  # no URL printed
        assert started == []

    def test_a_port_in_use_is_one_line(self, project, monkeypatch):
        started = fake_ui(monkeypatch)
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            result = metrics_in_process(project, "ui", "--port", str(port))
        line = error_line(result, exit_code=2)
        assert line == (
            f"Error: Cannot listen on port {port} of 127.0.0.1 (Address already in use): pick "
            "another --port, or stop what uses it."
        )
        assert "http://" not in result.stdout, result.output  # no URL printed
        assert started == []

    def test_a_free_port_starts_the_ui(self, project, monkeypatch):
        started = fake_ui(monkeypatch)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        result = metrics_in_process(project, "ui", "--port", str(port))
        assert result.returncode == 0, result.output
        assert started == [port]


class TestCompareWithOneRun:
    """`compare` in a project with one run says there is no earlier run (it once
    compared the run with itself and showed +0 for every metric)."""

    @pytest.mark.parametrize("args", [("compare",), ("compare", "latest~1"),
                                      ("compare", "latest~1", "latest", "--format", "json")])  # fmt: skip
    def test_there_is_no_earlier_run(self, project, args):
        line = error_line(metrics_in_process(project, *args))
        assert line.startswith("Error: No run 'latest~1': experiment "), line
        assert line.endswith(" has 1 run (latest~0 is the oldest)."), line
