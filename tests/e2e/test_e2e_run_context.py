"""What a kedro run records about itself, and the shapes nodes return (issue 10).

One project in a git repository made here, run three times (SequentialRunner with
``--params``, ThreadRunner, ParallelRunner); one project outside any git repository,
whose pipeline fails validation. Every run is shared by the module's tests.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import copy_project

pytestmark = pytest.mark.e2e

SOURCE = Path(__file__).parent / "context_project"
RUNNERS = ["SequentialRunner", "ThreadRunner", "ParallelRunner"]
#: The params every run of the project logs (parameters.yml, flattened).
BASE_PARAMS = {
    "model_options.test_size": "0.2",
    "model_options.features": '["engines", "crew"]',
    "model_options.nested.depth": "2",
    "seed": "3",
    "label": "base",
    "index_0": "0",
    "index_1": "1",
    "index_2": "2",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def git(project: Path, *args: str) -> str:
    import os

    return subprocess.run(
        ["git", *args],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    ).stdout.strip()


@pytest.fixture(scope="module")
def git_project(tmp_path_factory, seed_store, kedro, store_at):
    """Three runs of the project in a fresh git repository on branch 'trunk'."""
    project = copy_project(tmp_path_factory.mktemp("git"), SOURCE)
    git(project, "init", "-q", "-b", "trunk")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "init")
    seed_store(project / "mlflow.db")
    for runner in RUNNERS:
        extra = (
            ["--params", "seed=5,model_options.test_size=0.3"]
            if runner == "SequentialRunner"
            else []
        )
        kedro(project, "run", "--runner", runner, *extra).check()
        # names carry the start time to the second (docs/hook.md): the next run
        # starts in a later second, as runs typed one after another do
        started = int(time.time())
        while int(time.time()) == started:
            time.sleep(0.05)
    store = store_at(project / "mlflow.db")
    runs = {run.data.tags["kedro.runner"]: run for run in store.runs()}
    return project, store, runs


@pytest.fixture(scope="module")
def resumed_run(git_project, kedro):
    """A kedro run resuming (MLFLOW_RUN_ID) a run that already holds seed=99, with a
    --params value longer than MLflow's limit."""
    project, store, _ = git_project
    run_id = store.client.create_run(store.experiments()["context_project"]).info.run_id
    store.client.log_param(run_id, "seed", "99")
    store.client.log_param(run_id, "label", "base")
    result = kedro(
        project,
        "run",
        "--params",
        f"label={'x' * 7000}",
        env={"MLFLOW_RUN_ID": run_id, "MLFLOW_TRACKING_URI": store.uri},
    ).check()
    return result, store.run(run_id)


@pytest.fixture(scope="module")
def no_git_failure(tmp_path_factory, seed_store, kedro, store_at):
    """The project outside any git repository, running the pipeline that fails validation."""
    parent = tmp_path_factory.mktemp("nogit")
    project = copy_project(parent, SOURCE)
    seed_store(project / "mlflow.db")
    result = kedro(
        project, "run", "--pipelines", "bad", env={"GIT_CEILING_DIRECTORIES": str(parent)}
    )
    return result, store_at(project / "mlflow.db")


@pytest.fixture(scope="module")
def parallel_failure(tmp_path_factory, seed_store, kedro):
    """The pipeline that fails validation, under ParallelRunner (the error comes back
    from a worker process with its traceback as text)."""
    project = copy_project(tmp_path_factory.mktemp("parallel-bad"), SOURCE)
    seed_store(project / "mlflow.db")
    return kedro(project, "run", "--pipelines", "bad", "--runner", "ParallelRunner")


class TestParams:
    def test_exact_params_after_runtime_params(self, git_project):
        """--params override parameters.yml; nested names flatten with '.', lists as JSON."""
        _, _, runs = git_project
        params = runs["SequentialRunner"].data.params
        own = {k: v for k, v in params.items() if not k.startswith("param_metrics.")}
        assert own == {**BASE_PARAMS, "seed": "5", "model_options.test_size": "0.3"}

    def test_every_runner_logs_the_params(self, git_project):
        """Runs without --params log parameters.yml as it is."""
        _, _, runs = git_project
        for runner in ("ThreadRunner", "ParallelRunner"):
            params = runs[runner].data.params
            assert {k: v for k, v in params.items() if k in BASE_PARAMS} == BASE_PARAMS


class TestReusedRuns:
    def test_conflicting_param_is_kept_with_a_warning(self, resumed_run):
        """A param the resumed run holds with another value stays; a warning names it."""
        result, run = resumed_run
        output = " ".join((result.stdout + result.stderr).split())
        assert run.data.params["seed"] == "99"
        assert "already has parameter 'seed' = '99'; this run's value '3' is not logged" in output
        assert run.info.status == "RUNNING"  # the plugin never ends a resumed run
        assert run.data.params["index_2"] == "2"

    def test_too_long_value_is_cut_with_a_warning(self, resumed_run):
        """A value beyond MLflow's 6000 characters is cut; the warning names the param.

        The resumed run held label='base': the cut value differs, so it is kept too."""
        result, run = resumed_run
        output = " ".join((result.stdout + result.stderr).split())
        assert "parameter 'label' is longer than MLflow's limit of 6000 characters" in output
        assert run.data.params["label"] == "base"
        assert "parameter 'label' = 'base'; this run's value 'xxxxxxx" in output
        assert "x" * 100 not in output  # the warning shows a shortened value


class TestStandardTags:
    def test_git_user_source_and_versions(self, git_project):
        """MLflow's standard tags name the commit, branch, user and source; the tree is clean."""
        import getpass

        import kedro

        import kedro_metrics

        project, _, runs = git_project
        tags = runs["SequentialRunner"].data.tags
        assert {
            k: tags[k]
            for k in (
                "mlflow.user",
                "mlflow.source.name",
                "mlflow.source.type",
                "mlflow.source.git.commit",
                "mlflow.source.git.branch",
                "kedro_metrics.git_dirty",
                "kedro.version",
                "kedro_metrics.version",
            )
        } == {
            "mlflow.user": getpass.getuser(),
            "mlflow.source.name": "context_project",
            "mlflow.source.type": "PROJECT",
            "mlflow.source.git.commit": git(project, "rev-parse", "HEAD"),
            "mlflow.source.git.branch": "trunk",
            "kedro_metrics.git_dirty": "false",
            "kedro.version": kedro.__version__,
            "kedro_metrics.version": kedro_metrics.__version__,
        }

    def test_no_git_costs_nothing(self, no_git_failure):
        """Outside a git repository the run has no git tags and still starts."""
        _, store = no_git_failure
        tags = store.only_run().data.tags
        assert not [k for k in tags if "git" in k]
        assert tags["mlflow.source.name"] == "context_project"


class TestRunNames:
    def test_consecutive_runs_have_different_names(self, git_project):
        """Three runs, three names: the pipeline then the start time."""
        _, _, runs = git_project
        names = [run.info.run_name for run in runs.values()]
        assert len(set(names)) == 3
        assert all(name.startswith("__default__ 20") for name in names)


class TestShapes:
    @pytest.mark.parametrize("runner", RUNNERS)
    def test_appending_saves_give_exact_steps(self, git_project, runner):
        """Three steps=continue saves of two values: one history at steps 0..5, per run."""
        _, store, runs = git_project
        assert store.history(runs[runner].info.run_id, "history.loss") == [
            (0, 1.5),
            (1, 1.25),
            (2, 1.0),
            (3, 0.75),
            (4, 0.5),
            (5, 0.25),
        ]

    def test_numpy_and_pandas(self, git_project):
        """Arrays, np.arange steps, 0-d arrays, an integer-indexed Series, int16 arrays."""
        _, store, runs = git_project
        metrics = store.metrics(runs["SequentialRunner"].info.run_id)
        assert {k: v for k, v in metrics.items() if k.startswith("shape_metrics.")} == {
            "shape_metrics.array": [(0, 0.5), (1, 0.25)],
            "shape_metrics.arange_steps": [(2, 1.0), (3, 1.0)],
            "shape_metrics.zero_d": [(0, 2.5)],
            "shape_metrics.series": [(10, 0.75), (20, 0.5)],
            "shape_metrics.ints": [(0, 0.0), (1, 1.0), (2, 2.0)],
        }

    @pytest.mark.parametrize("runner", RUNNERS)
    def test_text_values_as_tags_and_params(self, git_project, runner):
        """non_numeric: tag and param put strings and booleans on the run, numbers stay metrics."""
        _, _, runs = git_project
        data = runs[runner].data
        assert {k: v for k, v in data.tags.items() if k.startswith("tag_metrics.")} == {
            "tag_metrics.best_model": "xgboost",
            "tag_metrics.tuned": "True",
        }
        assert {k: v for k, v in data.params.items() if k.startswith("param_metrics.")} == {
            "param_metrics.best_model": "xgboost",
            "param_metrics.tuned": "True",
        }
        assert (
            data.metrics["tag_metrics.accuracy"] == data.metrics["param_metrics.accuracy"] == 0.875
        )


class TestOneMessage:
    @pytest.mark.parametrize("runner", ["SequentialRunner", "ParallelRunner"])
    def test_validation_error_shows_once(self, request, runner):
        """The failed run prints the dataset name and every problem exactly once, also
        when the error comes back from a ParallelRunner worker process."""
        if runner == "ParallelRunner":
            result = request.getfixturevalue("parallel_failure")
        else:
            result, _ = request.getfixturevalue("no_git_failure")
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert output.count("expected a number, got None") == 1, result.output
        assert output.count("worse[1]: expected a number, got 'y'") == 1
        assert output.count("Nothing was saved to 'bad_metrics': 2 problems in the metrics:") == 1
        assert "bad_metrics: Nothing was saved" not in output

    def test_nothing_of_the_bad_save_is_written(self, no_git_failure):
        """All or nothing: no metric, tag or param of bad_metrics; the run FAILED."""
        _, store = no_git_failure
        run = store.only_run()
        assert run.info.status == "FAILED"
        assert run.data.metrics == {}
        assert not [k for k in {**run.data.tags, **run.data.params} if k.startswith("bad_metrics.")]
