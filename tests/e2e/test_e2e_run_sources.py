"""Where the run and the store come from: MLflow's environment variables, and a run
the caller already started (the plugin then logs into it and never ends it)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

SMALL = {"small_metrics.answer": [(0, 42.0)]}

#: Runs the "small" pipeline in-process inside ``with mlflow.start_run()``, the way a
#: notebook or an orchestrator does, and writes what it saw to argv[2] as JSON.
ACTIVE_RUN_SCRIPT = """\
import json
import sys
from pathlib import Path

import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

project = Path.cwd()
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("caller")
with mlflow.start_run(run_name="caller-run") as run:
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.run(pipeline_names=["small"])
    status_inside = mlflow.MlflowClient().get_run(run.info.run_id).info.status
    still_active = mlflow.active_run().info.run_id
Path(sys.argv[2]).write_text(json.dumps(
    {"run_id": run.info.run_id, "status_inside": status_inside, "still_active": still_active}
))
"""

#: Runs the "small" pipeline in-process without any MLflow run and without naming a
#: runner (Kedro then uses SequentialRunner); writes the session id to argv[1].
SESSION_SCRIPT = """\
import sys
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

project = Path.cwd()
bootstrap_project(project)
with KedroSession.create(project_path=project) as session:
    session.run(pipeline_names=["small"])
Path(sys.argv[1]).write_text(session.session_id)
"""


@pytest.fixture(scope="module")
def env_run(tmp_path_factory, new_project, seed_store, kedro, store_at):
    """One kedro run with MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_NAME set."""
    parent = tmp_path_factory.mktemp("env")
    project = new_project(parent, store=False)
    elsewhere = seed_store(parent / "elsewhere.db")
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{elsewhere}",
        "MLFLOW_EXPERIMENT_NAME": "from-env",
    }
    kedro(project, "run", "--pipelines", "small", env=env).check()
    return project, elsewhere, store_at(elsewhere)


class TestMlflowEnvironment:
    def test_tracking_uri_from_the_environment(self, env_run):
        """MLFLOW_TRACKING_URI is the store; the project's default store is not created."""
        project, _, store = env_run
        run = store.only_run()
        assert store.metrics(run.info.run_id) == SMALL
        assert run.info.status == "FINISHED"
        assert not (project / "mlflow.db").exists()
        assert not (project / "mlruns").exists()

    def test_experiment_name_from_the_environment(self, env_run):
        """MLFLOW_EXPERIMENT_NAME names the experiment (created when missing)."""
        _, _, store = env_run
        run = store.only_run()
        experiments = store.experiments()
        assert run.info.experiment_id == experiments["from-env"]
        assert "e2e_project" not in experiments


class TestMlflowRunId:
    def test_metrics_go_to_the_run_and_it_is_not_ended(self, project, kedro, store_at):
        """MLFLOW_RUN_ID: the metrics land in that run, which stays RUNNING."""
        from mlflow import MlflowClient

        uri = f"sqlite:///{project / 'mlflow.db'}"
        client = MlflowClient(tracking_uri=uri)
        experiment_id = client.create_experiment("orchestrated")
        created = client.create_run(experiment_id, run_name="step-1")
        run_id = created.info.run_id

        result = kedro(
            project, "run", "--pipelines", "small", env={"MLFLOW_RUN_ID": run_id, "COLUMNS": "400"}
        ).check()
        # The log line names the store it uses (issue 19: with two plugins configured
        # for two stores, the user sees where the metrics went).
        assert f"kedro-metrics: logging to run {run_id} (MLFLOW_RUN_ID) at {uri}." in (
            result.stdout + result.stderr
        ), result.output

        store = store_at(project / "mlflow.db")
        run = store.only_run()
        assert run.info.run_id == run_id
        assert run.info.status == "RUNNING"
        assert run.info.end_time is None
        assert store.metrics(run_id) == SMALL


def notes(result) -> list[str]:
    """The `Note:` lines a command wrote on stderr."""
    return [line for line in result.stderr.splitlines() if line.startswith("Note:")]


def run_in_callers_run(parent, new_project, seed_store, python):
    """The "small" pipeline run in-process inside the caller's `mlflow.start_run()`,
    in a new project under ``parent`` whose own store stays apart (caller.db)."""
    project = new_project(parent, store=False)
    script = parent / "caller.py"
    script.write_text(ACTIVE_RUN_SCRIPT)
    seen = parent / "seen.json"
    caller_db = seed_store(parent / "caller.db")
    result = python(
        [str(script), f"sqlite:///{caller_db}", str(seen)], cwd=project, env={"COLUMNS": "400"}
    ).check()
    return project, json.loads(seen.read_text()), caller_db, result


@pytest.fixture(scope="module")
def caller_run(tmp_path_factory, new_project, seed_store, python, store_at):
    """The "small" pipeline run in-process inside the caller's `mlflow.start_run()`."""
    parent = tmp_path_factory.mktemp("active")
    project, seen, caller_db, result = run_in_callers_run(parent, new_project, seed_store, python)
    return project, seen, store_at(caller_db), result


class TestActiveRun:
    def test_metrics_land_in_the_callers_run(self, caller_run):
        """KedroSession inside `mlflow.start_run()`: the metrics go to that run."""
        _, seen, store, _ = caller_run
        assert store.metrics(seen["run_id"]) == SMALL

    def test_the_log_line_names_the_store_of_the_callers_run(self, caller_run, tmp_path):
        """Not the project's store: the one the active run lives in (issue 19: with
        kedro-mlflow's run active, the metrics go to kedro-mlflow's store)."""
        _, seen, store, result = caller_run
        line = f"kedro-metrics: logging to the active MLflow run {seen['run_id']} at sqlite:///"
        said = [text for text in (result.stdout + result.stderr).splitlines() if line in text]
        assert len(said) == 1, result.output
        uri = said[0].split(line, 1)[1].split()[0]
        assert uri.endswith("/caller.db."), said

    def test_the_reading_commands_say_the_run_went_elsewhere(
        self, tmp_path, new_project, seed_store, python, kedro
    ):
        """The project's store is not the caller's: `kedro metrics runs` says in one
        stderr line where the latest run went; a run in the project's store ends it."""
        from tests.e2e.conftest import metrics_in_process

        project, seen, _, _ = run_in_callers_run(tmp_path, new_project, seed_store, python)
        note = project / ".kedro_metrics" / "latest_run.json"
        recorded = json.loads(note.read_text())
        assert recorded["run_id"] == seen["run_id"]
        assert recorded["store"].endswith("/caller.db")
        here = f"sqlite:///{project / 'mlflow.db'}"

        listed = metrics_in_process(project, "runs", "--format", "json")
        assert listed.returncode == 0, listed.output
        assert json.loads(listed.stdout) == []  # the project's store has no run
        assert notes(listed) == [
            f"Note: this reads {here}, but the latest `kedro run` logged to run "
            f"{seen['run_id'][:8]} in {recorded['store']} (another plugin's run, e.g. "
            "kedro-mlflow's, or another MLFLOW_TRACKING_URI): set metrics.yml `tracking_uri` "
            "to that store to read it here."
        ]
        kedro(project, "run", "--pipelines", "small").check()
        assert json.loads(note.read_text())["store"] == here
        listed = metrics_in_process(project, "runs", "--format", "json")
        assert (listed.returncode, notes(listed)) == (0, []), listed.output
        assert len(json.loads(listed.stdout)) == 1

    def test_no_other_run_is_created(self, caller_run):
        """The caller's run is the only run, and the project's store is not created."""
        project, seen, store, _ = caller_run
        assert [r.info.run_id for r in store.runs()] == [seen["run_id"]]
        assert not (project / "mlflow.db").exists()

    def test_the_callers_run_is_not_ended_by_the_plugin(self, caller_run):
        """Inside the `with` block the run is still RUNNING and still active."""
        _, seen, store, _ = caller_run
        assert seen["status_inside"] == "RUNNING"
        assert seen["still_active"] == seen["run_id"]
        # ...and the caller's own `with` block ended it afterwards.
        assert store.run(seen["run_id"]).info.status == "FINISHED"


@pytest.fixture(scope="module")
def session_run(tmp_path_factory, new_project, python, store_at):
    """The "small" pipeline run in-process through KedroSession, no MLflow run around it."""
    parent = tmp_path_factory.mktemp("session")
    project = new_project(parent)
    script = parent / "session.py"
    script.write_text(SESSION_SCRIPT)
    session_id_file = parent / "session_id.txt"
    python([str(script), str(session_id_file)], cwd=project).check()
    store = store_at(project / "mlflow.db")
    return session_id_file.read_text(), store, store.only_run()


class TestInProcessSession:
    def test_session_gets_its_own_finished_run(self, session_run):
        """`session.run()` in a script starts and ends a run like `kedro run` does."""
        _, store, run = session_run
        assert run.info.status == "FINISHED"
        assert run.info.run_name.startswith("small ")  # then the start time
        assert store.metrics(run.info.run_id) == SMALL

    def test_run_is_tagged_with_the_session_id(self, session_run):
        """kedro.session_id is the id of the KedroSession that ran the pipeline."""
        session_id, store, run = session_run
        assert store.user_tags(run)["kedro.session_id"] == session_id

    def test_run_without_a_runner_argument_is_tagged_sequential(self, session_run):
        """No runner given: Kedro runs SequentialRunner, and the tag says so (not "None")."""
        _, store, run = session_run
        assert store.user_tags(run)["kedro.runner"] == "SequentialRunner"


def recipe_lines() -> list[str]:
    """The orchestrator recipe of docs/hook.md, as its ``bash`` block says it."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "hook.md").read_text()
    section = text[text.index("## Orchestrators") :]
    block = section[section.index("```bash\n") + len("```bash\n") : section.index("```\n", 8)]
    return block.splitlines()


class TestOrchestratorRecipe:
    def test_the_recipes_run_is_found_by_the_commands_it_suggests(
        self, tmp_path, new_project, kedro, store_at
    ):
        """docs/hook.md's recipe creates the run where `kedro metrics show <prefix>`
        looks (it once created it in `Default`, where no prefix was found)."""
        import os
        import subprocess
        import sys

        from tests.e2e.conftest import metrics_in_process, subprocess_env

        project = new_project(tmp_path)
        uri = f"sqlite:///{project / 'mlflow.db'}"
        lines = recipe_lines()
        exports = [line for line in lines if line.startswith("export ")]
        assert [line.split("=")[0] for line in exports] == [
            "export MLFLOW_TRACKING_URI", "export MLFLOW_EXPERIMENT_NAME", "export MLFLOW_RUN_ID",
        ]  # fmt: skip
        script = "\n".join(
            [f"export MLFLOW_TRACKING_URI={uri}", exports[1].replace("my_project", "e2e_project"),
             exports[2], 'echo "$MLFLOW_RUN_ID"'],
        )  # fmt: skip
        env = subprocess_env({"PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"})
        created = subprocess.run(
            ["bash", "-c", script], cwd=project, env=env, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
        run_id = created.stdout.strip().splitlines()[-1]
        kedro(project, "run", "--pipelines", "small", env={"MLFLOW_RUN_ID": run_id}).check()

        shown = metrics_in_process(project, "show", run_id[:8], "--format", "json")
        assert shown.returncode == 0, shown.output
        rows = json.loads(shown.stdout)
        assert [(row["name"], row["value"], row["step"]) for row in rows] == [
            ("small_metrics.answer", 42.0, 0)
        ]
        assert store_at(project / "mlflow.db").metrics(run_id) == SMALL
