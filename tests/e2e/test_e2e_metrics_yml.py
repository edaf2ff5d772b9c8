"""metrics.yml, read through Kedro's config loader: precedence, run settings, errors,
and pipelines with tracking switched off."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SMALL = {"small_metrics.answer": [(0, 42.0)]}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def configured_run(tmp_path_factory, new_project, seed_store, kedro, store_at):
    """conf/base and conf/local metrics.yml, with MLflow's variables set as well."""
    parent = tmp_path_factory.mktemp("metrics-yml")
    project = new_project(parent, store=False)
    from_yml = seed_store(parent / "from-yml.db")
    from_env = parent / "from-env.db"
    write(
        project / "conf" / "base" / "metrics.yml",
        f"tracking_uri: sqlite:///{from_yml}\n"
        "experiment: x\n"
        "run_name: nightly-training\n"
        "tags:\n"
        "  team: forecasting\n"
        "  attempt: 2\n",
    )
    write(project / "conf" / "local" / "metrics.yml", "experiment: y\n")
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{from_env}",
        "MLFLOW_EXPERIMENT_NAME": "from-env",
    }
    kedro(project, "run", "--pipelines", "small", env=env).check()
    return project, from_env, store_at(from_yml)


class TestPrecedence:
    def test_env_file_beats_base_file(self, configured_run):
        """conf/local/metrics.yml `experiment: y` wins over conf/base's `x` (and the env var)."""
        _, _, store = configured_run
        run = store.only_run()
        experiments = store.experiments()
        assert run.info.experiment_id == experiments["y"]
        assert "x" not in experiments
        assert "from-env" not in experiments

    def test_tracking_uri_in_metrics_yml_beats_the_environment(self, configured_run):
        """metrics.yml `tracking_uri` wins over MLFLOW_TRACKING_URI and the default."""
        project, from_env, store = configured_run
        run = store.only_run()
        assert store.metrics(run.info.run_id) == SMALL
        assert not from_env.exists()
        assert not (project / "mlflow.db").exists()

    def test_run_name_and_tags_are_applied(self, configured_run):
        """`run_name` names the run; `tags` are added to the kedro.* tags."""
        _, _, store = configured_run
        run = store.only_run()
        assert run.info.run_name == "nightly-training"
        assert run.info.status == "FINISHED"
        tags = store.user_tags(run)
        assert {
            k: v for k, v in tags.items() if not k.startswith(("kedro.", "kedro_metrics."))
        } == {
            "team": "forecasting",
            "attempt": "2",
        }
        assert {"kedro.session_id", "kedro.pipeline", "kedro.env", "kedro.runner"} <= set(tags)


class TestRunEnvironment:
    def test_kedro_env_selects_the_metrics_yml(self, project, seed_store, kedro, store_at):
        """`kedro run --env staging` reads conf/staging over conf/base, not conf/local."""
        seed_store(project / "mlflow.db")
        write(project / "conf" / "base" / "metrics.yml", "experiment: base-experiment\n")
        write(project / "conf" / "local" / "metrics.yml", "experiment: local-experiment\n")
        write(project / "conf" / "staging" / "metrics.yml", "experiment: staging-experiment\n")

        kedro(project, "run", "--pipelines", "small", "--env", "staging").check()

        store = store_at(project / "mlflow.db")
        run = store.only_run()
        assert run.info.experiment_id == store.experiments()["staging-experiment"]
        assert store.user_tags(run)["kedro.env"] == "staging"
        assert store.metrics(run.info.run_id) == SMALL


class TestInvalidMetricsYml:
    @pytest.mark.parametrize(
        ("text", "key"),
        [
            pytest.param("experimnt: y\n", "experimnt", id="unknown-key"),
            pytest.param("tags: [a, b]\n", "tags", id="wrong-type"),
        ],
    )
    def test_kedro_run_fails_naming_the_key_and_the_file(self, project, kedro, text, key):
        """A bad key fails the run before anything is logged; stderr names the key and file."""
        write(project / "conf" / "base" / "metrics.yml", "experiment: fine\n")
        culprit = write(project / "conf" / "local" / "metrics.yml", text)

        result = kedro(project, "run", "--pipelines", "small")

        assert result.returncode != 0, result.output
        error_lines = [line for line in result.stderr.splitlines() if repr(key) in line]
        assert any(str(culprit) in line for line in error_lines), result.output
        assert not (project / "mlflow.db").exists()


class TestDisabledPipelines:
    def test_listed_pipeline_logs_nothing(self, project, kedro):
        """A pipeline in `disabled_pipelines` runs, but no run is created and nothing logged."""
        write(
            project / "conf" / "base" / "metrics.yml",
            "disabled_pipelines:\n  - small\n",
        )

        result = kedro(project, "run", "--pipelines", "small").check()

        assert not (project / "mlflow.db").exists(), result.output
        assert not (project / "mlruns").exists()
        # ...and says so where a user of the default Kedro logging sees it.
        said = re.compile(r"tracking is off|disabled_pipelines", re.IGNORECASE)
        assert said.search(result.stdout + result.stderr), result.output
