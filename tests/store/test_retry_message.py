"""What a dead-server message says about retries (issue 19): the retry budget that was
spent, as docs/reliability.md says, not "MLflow retried with backoff first" (the hook
and the commands turn MLflow's own retries off)."""

from __future__ import annotations

import pytest

from kedro_metrics import store
from kedro_metrics.errors import StoreUnavailableError
from kedro_metrics.process import state
from kedro_metrics.store.failures import RetryBudget
from tests.servers import free_port

HINT = (
    "Check that the server is running and reachable, or set MLFLOW_TRACKING_URI / "
    "metrics.yml `tracking_uri` to one that is."
)


@pytest.fixture
def dead_server() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def mlflow_retries(monkeypatch: pytest.MonkeyPatch):
    """Set MLflow's own retries for this test (no backoff: the test stays fast)."""

    def set_to(count: int) -> None:
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(count))
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")

    return set_to


def failure(uri: str) -> str:
    with pytest.raises(StoreUnavailableError) as raised:
        store.ensure_experiment(uri, "project")
    return str(raised.value)


def test_inside_a_budget_the_message_states_the_budget_spent(
    dead_server, mlflow_retries, monkeypatch
):
    """`kedro run`, `kedro metrics`: MLflow does not retry, the budget does."""
    mlflow_retries(0)
    monkeypatch.setattr(state, "retry_budget", RetryBudget(0.3))
    message = failure(dead_server)
    assert message.endswith(
        f"{HINT} It was retried until the retry budget of 0.3 s (metrics.yml "
        "`retry_seconds`) was spent."
    ), message
    assert "backoff" not in message


def test_without_a_budget_mlflow_s_own_retries_are_counted(
    dead_server, mlflow_retries, monkeypatch
):
    """A script or a notebook: MLflow's own retries, as many as it was told."""
    monkeypatch.setattr(state, "retry_budget", RetryBudget())
    mlflow_retries(2)
    message = failure(dead_server)
    assert message.endswith(
        f"{HINT} No retry budget applies here (`kedro run` and `kedro metrics` set one): "
        "MLflow retried it up to 2 times first (MLFLOW_HTTP_REQUEST_MAX_RETRIES)."
    ), message


def test_without_a_budget_or_mlflow_retries_nothing_claims_a_retry(
    dead_server, mlflow_retries, monkeypatch
):
    monkeypatch.setattr(state, "retry_budget", RetryBudget())
    mlflow_retries(0)
    message = failure(dead_server)
    assert message.endswith(
        f"{HINT} No retry budget applies here (`kedro run` and `kedro metrics` set one), "
        "and MLflow did not retry it (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0)."
    ), message
