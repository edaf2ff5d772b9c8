"""A project that also lists the hook in settings.py still gets exactly one run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

SETTINGS_WITH_HOOK = """
from kedro_metrics.hook import MetricsHook

HOOKS = (MetricsHook(),)
CONFIG_LOADER_ARGS = {"base_env": "base", "default_run_env": "local"}
"""


class TestHookListedInSettings:
    def test_entry_point_and_settings_hook_make_one_run(self, project, seed_store, kedro, store_at):
        """HOOKS = (MetricsHook(),) next to the entry point: one FINISHED run, points once."""
        (project / "src" / "e2e_project" / "settings.py").write_text(SETTINGS_WITH_HOOK)
        seed_store(project / "mlflow.db")
        kedro(project, "run", "--pipelines", "small").check()
        store = store_at(project / "mlflow.db")
        run = store.only_run()
        assert run.info.status == "FINISHED"
        assert store.metrics(run.info.run_id) == {"small_metrics.answer": [(0, 42.0)]}
