"""The delivery policy: built once per run from metrics.yml and the store's URI, read
through its properties, carried (pickled) to ParallelRunner's workers."""

from __future__ import annotations

import os
import pickle

import pytest

from kedro_metrics.config import MetricsConfig
from kedro_metrics.delivery import DISABLED, DeliveryPolicy, for_run, outside_a_run
from kedro_metrics.errors import PartialWriteError, StoreUnavailableError, TrackingError

SERVER = "http://alice:s3cret@mlflow:5000"


def settings(**data) -> MetricsConfig:
    return MetricsConfig.parse(data, source="metrics.yml")


class TestForRun:
    @pytest.mark.parametrize("uri", ["sqlite:///mlflow.db", "file:///tmp/mlruns", "/tmp/mlruns"])
    def test_a_local_store_has_no_spool(self, uri):
        policy = for_run(settings(), tracking_uri=uri, run_id="r1", spool_directory="/s")
        assert (policy.spooled, policy.keeps_going, policy.raises) == (False, False, False)

    @pytest.mark.parametrize("uri", [SERVER, "https://mlflow:443", "postgresql://db/mlflow"])
    def test_a_remote_store_spools_with_the_uri_redacted(self, uri):
        policy = for_run(settings(), tracking_uri=uri, run_id="r1", spool_directory="/s")
        assert policy.spooled and policy.keeps_going
        assert (policy.spool.directory, policy.spool.run_id) == ("/s", "r1")
        assert "s3cret" not in policy.spool.tracking_uri
        assert "s3cret" not in repr(policy)

    def test_offline_spools_even_a_local_store_and_is_never_asynchronous(self):
        policy = for_run(
            settings(async_logging=True), tracking_uri="sqlite:///m.db", run_id=None,
            spool_directory="/s", offline=True, new_run={"experiment": "e", "run_name": "n"},
        )  # fmt: skip
        assert (policy.offline, policy.asynchronous, policy.spooled) == (True, False, True)
        assert (policy.spool.experiment, policy.spool.run_name) == ("e", "n")

    def test_raise_and_async_come_from_metrics_yml(self):
        policy = for_run(
            settings(on_tracking_error="raise", async_logging=True), tracking_uri=SERVER,
            run_id="r1", spool_directory="/s",
        )  # fmt: skip
        assert (policy.raises, policy.asynchronous, policy.keeps_going) == (True, True, False)

    @pytest.mark.parametrize("owner", [True, False])
    def test_only_the_owner_s_file_may_end_the_run(self, owner):
        policy = for_run(
            settings(), tracking_uri=SERVER, run_id="r1", spool_directory="/s", owner=owner
        )
        assert policy.spool.owner_pid == (os.getpid() if owner else None)
        assert policy.spool.header()["owner"] is owner


class TestProperties:
    @pytest.mark.parametrize(
        ("exc", "survives"),
        [
            (StoreUnavailableError("down"), True),
            (PartialWriteError("cut", written=1, total=2), False),
            (TrackingError("refused"), False),
            (ValueError("bug"), False),
        ],
    )
    def test_only_an_unavailable_store_is_survived_and_only_with_a_spool(self, exc, survives):
        spooled = for_run(settings(), tracking_uri=SERVER, run_id="r1", spool_directory="/s")
        local = for_run(
            settings(), tracking_uri="sqlite:///m.db", run_id="r1", spool_directory="/s"
        )
        assert (spooled.survives(exc), local.survives(exc)) == (survives, False)

    def test_with_run_names_the_new_run_in_the_spool_too(self):
        policy = for_run(
            settings(), tracking_uri=SERVER, run_id=None, spool_directory="/s", offline=True
        )
        named = policy.with_run("r9")
        assert (named.run_id, named.spool.run_id, named.spool.spool_id) == (
            "r9", "r9", policy.spool.spool_id,
        )  # fmt: skip
        assert policy.run_id is None  # frozen: a new policy

    def test_it_pickles_for_parallel_workers(self):
        policy = for_run(settings(), tracking_uri=SERVER, run_id="r1", spool_directory="/s")
        assert pickle.loads(pickle.dumps(policy)) == policy

    def test_disabled_is_off(self):
        assert (DISABLED.enabled, DISABLED.run_id, DISABLED.spooled) == (False, None, False)


class TestOutsideARun:
    def test_a_local_store_raises_without_a_spool(self):
        assert outside_a_run("sqlite:///m.db", "r1") == DeliveryPolicy(run_id="r1", raises=True)

    def test_a_server_spools_in_the_working_directory(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("KEDRO_METRICS_SPOOL_DIR", raising=False)
        policy = outside_a_run(SERVER, "r1")
        assert policy.raises and policy.spooled
        assert policy.spool.directory == str(tmp_path / ".kedro_metrics" / "spool")
        assert (policy.spool.spool_id, policy.spool.tracking_uri) == (
            "run-r1", "http://alice:***@mlflow:5000",
        )  # fmt: skip
