"""kedro_metrics.store.probe: a bounded check that a tracking server answers."""

from __future__ import annotations

import pytest

from kedro_metrics.store.probe import answers, health_url
from tests.servers import free_port


class TestAnswers:
    """answers(): true for a live server and local stores, false for a dead server."""

    @pytest.mark.server
    def test_live_server_answers(self, mlflow_server):
        """A running mlflow server's /health answers."""
        assert answers(mlflow_server.url, within=10) is True

    def test_dead_server_does_not(self):
        """Nothing listens on the port: false once the budget is spent."""
        assert answers(f"http://127.0.0.1:{free_port()}", within=1) is False

    @pytest.mark.parametrize("uri", ["sqlite:///nowhere/mlflow.db", "file:///tmp/mlruns"])
    def test_local_stores_need_no_probe(self, uri):
        """sqlite and file stores are local: always true, no request."""
        assert answers(uri, within=0) is True


class TestHealthUrl:
    """health_url(): the server's /health, credentials dropped."""

    @pytest.mark.parametrize(
        ("uri", "expected"),
        [
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000/health"),
            ("https://user:secret@host/mlflow/", "https://host/mlflow/health"),
        ],
    )
    def test_exact(self, uri, expected):
        """The path gets /health; user and password are left out."""
        assert health_url(uri) == expected
