"""run_source.decide: which run a `kedro run` logs to, from metrics.yml, the
environment and the thread's active run alone (no Kedro, no MLflow)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.config import MetricsConfig
from kedro_metrics.run_source import RunDecision, RunSource, decide

ONLINE = MetricsConfig()
OFFLINE = MetricsConfig(mode="offline")
NO_SYNC = MetricsConfig(sync_on_start=False)
DISABLED_DP = MetricsConfig(disabled_pipelines=("dp",))
RESUMED = {"MLFLOW_RUN_ID": "r" * 32}


class TestEachSource:
    """Each source comes from exactly the inputs the docs name, in their order."""

    @pytest.mark.parametrize(
        ("config", "environ", "active", "expected"),
        [
            (ONLINE, {}, None, RunDecision(RunSource.NEW, sync_first=True)),
            (NO_SYNC, {}, None, RunDecision(RunSource.NEW)),
            (ONLINE, {}, "a" * 32, RunDecision(RunSource.ACTIVE, "a" * 32)),
            (ONLINE, RESUMED, "a" * 32, RunDecision(RunSource.ACTIVE, "a" * 32)),
            (ONLINE, RESUMED, None, RunDecision(RunSource.RESUMED, "r" * 32, sync_first=True)),
            (NO_SYNC, RESUMED, None, RunDecision(RunSource.RESUMED, "r" * 32)),
            (OFFLINE, {}, None, RunDecision(RunSource.OFFLINE, offline=True)),
            (OFFLINE, {}, "a" * 32, RunDecision(RunSource.OFFLINE, offline=True)),
            (OFFLINE, RESUMED, "a" * 32, RunDecision(RunSource.RESUMED, "r" * 32, offline=True)),
            (ONLINE, {"KEDRO_METRICS_MODE": "OFFLINE"}, None, RunDecision(RunSource.OFFLINE, offline=True)),
            (ONLINE, {"MLFLOW_RUN_ID": ""}, None, RunDecision(RunSource.NEW, sync_first=True)),
        ],
        ids=[
            "new", "new-without-sync", "active", "active-beats-resumed", "resumed",
            "resumed-without-sync", "offline", "offline-ignores-active",
            "offline-resumed", "offline-from-the-environment", "empty-run-id-is-unset",
        ],
    )  # fmt: skip
    def test_decision(self, config, environ, active, expected):
        """The decision for metrics.yml, the environment and the active run."""
        assert decide(config, environ, pipelines=["__default__"], active_run_id=active) == expected

    def test_disabled_when_every_pipeline_is_listed(self):
        """Tracking is off only when all pipelines of the run are disabled."""
        assert decide(
            DISABLED_DP, RESUMED, pipelines=["dp"], active_run_id="a" * 32
        ) == RunDecision(RunSource.DISABLED)
        assert (
            decide(DISABLED_DP, {}, pipelines=["dp", "ds"], active_run_id=None).source
            is RunSource.NEW
        )


class TestOwnership:
    """Only a run the plugin starts is ended by it."""

    @pytest.mark.parametrize(
        ("source", "owned"),
        [
            (RunSource.DISABLED, False),
            (RunSource.ACTIVE, False),
            (RunSource.RESUMED, False),
            (RunSource.OFFLINE, True),
            (RunSource.NEW, True),
        ],
    )
    def test_owned(self, source, owned):
        """OFFLINE and NEW runs are the plugin's; the others belong to someone else."""
        assert RunDecision(source).owned is owned


class TestInvariants:
    """Whatever the inputs, the decision is consistent."""

    @given(
        mode=st.sampled_from(["online", "offline"]),
        sync_on_start=st.booleans(),
        run_id=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)),
        active=st.one_of(st.none(), st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)),
        disabled=st.booleans(),
    )
    def test_consistent(self, mode, sync_on_start, run_id, active, disabled):
        """Offline never syncs first nor reuses the active run; a run id comes only
        from the active run or MLFLOW_RUN_ID; disabled pipelines decide nothing else."""
        config = MetricsConfig(
            mode=mode, sync_on_start=sync_on_start, disabled_pipelines=("p",) if disabled else ()
        )
        environ = {"MLFLOW_RUN_ID": run_id} if run_id is not None else {}
        decision = decide(config, environ, pipelines=["p"], active_run_id=active)
        if disabled:
            assert decision == RunDecision(RunSource.DISABLED)
            return
        if mode == "offline":
            assert decision.offline and not decision.sync_first
            assert decision.source in (RunSource.OFFLINE, RunSource.RESUMED)
        else:
            assert not decision.offline
            assert decision.sync_first == (
                sync_on_start and decision.source is not RunSource.ACTIVE
            )
        assert decision.run_id in (None, active, run_id)
        assert (decision.run_id is None) == (decision.source in (RunSource.NEW, RunSource.OFFLINE))
