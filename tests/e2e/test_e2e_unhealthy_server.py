"""`kedro metrics` reading commands against a tracking server that is up but answers
503: a 5xx /health is not healthy, and the reading requests themselves get the retry
budget (metrics.yml `retry_seconds`) as every other request does, not MLflow's own
minutes of retries. Each command fails with one clear line. A healthy server gets
the reading requests only, no probe.

The subprocess time-out (90 s) is far above the budget (1 s) and far below what
MLflow's own retries take (~250 s): a command that waits for those fails the test.
"""

from __future__ import annotations

import pytest

from tests.status_server import StatusServer

pytestmark = pytest.mark.e2e

COMMANDS = {
    "runs": ["runs"],
    "show": ["show"],
    "compare": ["compare"],
    "history": ["history", "model_metrics.loss"],
    "export": ["export"],
}
#: Far below MLflow's own retries, far above the budget: a bound, not a measurement.
TIMEOUT = 90


def reading(kedro, project, url, command):
    env = {"MLFLOW_TRACKING_URI": url}
    return kedro(project, "metrics", *COMMANDS[command], env=env, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def unhealthy_project(tmp_path_factory, new_project):
    project = new_project(tmp_path_factory.mktemp("unhealthy"))
    (project / "conf" / "local" / "metrics.yml").write_text("retry_seconds: 1\n")
    return project


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_server_answering_503_to_everything_is_not_healthy(kedro, unhealthy_project, command):
    """Everything answers 503: the first reading request is retried within the budget
    (no /health probe before it), then /health is asked, and the command fails
    naming the server and its answer."""
    with StatusServer(503) as server:
        result = reading(kedro, unhealthy_project, server.url, command)
        paths = server.paths()
    assert result.returncode == 1, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: The MLflow tracking server {server.url} is not healthy: its /health "
        "answered 503 (Service Unavailable) after the requests failed for the whole retry "
        "budget (1 s, metrics.yml `retry_seconds`). Start it, or point metrics.yml "
        "`tracking_uri` / MLFLOW_TRACKING_URI at one that runs."
    ), result.output
    first_health = paths.index("/health")
    assert first_health >= 2 and all(p.startswith("/api/") for p in paths[:first_health]), paths
    assert set(paths[first_health:]) == {"/health"}, paths


@pytest.mark.parametrize("command", ["runs", "show"])
def test_reading_requests_answered_503_get_the_retry_budget(kedro, unhealthy_project, command):
    """/health says OK but every API request answers 503 (its database is down): the
    reading request is retried within the budget, then the command fails in one line
    saying so."""
    with StatusServer(503, health=200) as server:
        result = reading(kedro, unhealthy_project, server.url, command)
        paths = server.paths()
    assert result.returncode == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"Error: Could not find experiment 'e2e_project' at MLflow tracking URI {server.url}: "
    ), result.output
    assert "too many 503 error responses" in last, result.output
    assert last.endswith(
        "It was retried until the retry budget of 1 s (metrics.yml `retry_seconds`) was spent."
    ), result.output
    api = [path for path in paths if path.startswith("/api/")]
    assert len(api) >= 2 and len(set(api)) == 1, paths


API = "/api/2.0/mlflow/"
#: What each command asks a healthy server, in order: what a hand-written script
#: asks (`runs` one search more: the child runs it counts), no /health probe.
REQUESTS = {
    "runs": ["experiments/get-by-name", "runs/search", "runs/search"],
    "show": ["experiments/get-by-name", "runs/search", "metrics/get-history"],
    "compare": ["experiments/get-by-name", "runs/search"],
    "export": ["experiments/get-by-name", "runs/search", "metrics/get-history"],
}


@pytest.mark.parametrize("command", list(REQUESTS))
def test_a_healthy_server_gets_the_reading_requests_only(mlflow_server, unhealthy_project, command):
    """Against a server that answers: the reading requests only, no /health probe
    before (or after) them, no experiment read twice."""
    import uuid

    from mlflow import MlflowClient

    from tests.e2e.conftest import json_of, metrics_in_process

    experiment = f"healthy-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(mlflow_server.url)
    experiment_id = client.create_experiment(experiment)
    for value in (1.0, 2.0):
        run_id = client.create_run(experiment_id).info.run_id
        client.log_metric(run_id, "m", value)
    before = len(mlflow_server.requests())
    result = metrics_in_process(
        unhealthy_project, command, "--format", "json",
        env={"MLFLOW_TRACKING_URI": mlflow_server.url, "MLFLOW_EXPERIMENT_NAME": experiment},
    )  # fmt: skip
    assert json_of(result)
    paths = [path.split("?")[0] for _, path, _ in mlflow_server.requests()[before:]]
    assert paths == [API + request for request in REQUESTS[command]], paths


def test_get_metrics_asks_what_a_hand_written_script_asks(mlflow_server):
    """``get_metrics`` of an experiment's last values: the experiment by name, one run
    search (a page holds 1,000 runs), nothing else: no /health probe, no experiment
    read again to name the records."""
    import uuid

    from mlflow import MlflowClient

    from kedro_metrics import get_metrics

    experiment = f"healthy-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(mlflow_server.url)
    experiment_id = client.create_experiment(experiment)
    runs = []
    for value in (1.0, 2.0):
        runs.append(client.create_run(experiment_id).info.run_id)
        client.log_metric(runs[-1], "m", value)
    before = len(mlflow_server.requests())
    records = get_metrics("m", tracking_uri=mlflow_server.url, experiment=experiment)
    paths = [path.split("?")[0] for _, path, _ in mlflow_server.requests()[before:]]
    assert paths == [API + "experiments/get-by-name", API + "runs/search"], paths
    assert [(r["run_id"], r["name"], r["value"], r["experiment"]) for r in records] == [
        (runs[1], "m", 2.0, experiment),
        (runs[0], "m", 1.0, experiment),
    ]
