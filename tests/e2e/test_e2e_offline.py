"""Offline mode: nothing reaches the store during `kedro run`, not even a local sqlite
file; `kedro metrics sync` creates the run with its original times, once, however
often and however concurrently it runs."""

from __future__ import annotations

import json

import pytest

from tests.e2e.background import BackgroundKedro
from tests.servers import free_port

pytestmark = pytest.mark.e2e

SMALL = {"small_metrics.answer": [(0, 42.0)]}
#: What the offline runs' metrics.yml declares, as the meaning tag records it.
DECLARED = {"small_metrics.answer": {"direction": "max", "format": ".1f", "summary": ["max"]}}
HISTORIES = {
    f"{name}.loss": [(step, index * 1000.0 + step) for step in range(50)]
    for index, name in enumerate(
        [f"hist_{i}" for i in range(4)] + [f"f{i}_hist" for i in range(4, 8)]
    )
}


#: The e2e project's parameters as MLflow params (conf/base/parameters.yml, flattened).
PARAMS = {
    **{f"factory_index.{letter}": str(index) for index, letter in enumerate("abcd")},
    **{f"history_index.hist_{i}": str(i) for i in range(4)},
    **{f"history_index.f{i}_hist": str(i) for i in range(4, 8)},
    "steps": "50", "long_node_seconds": "8", "large_points": "100000", "quality": "0.75",
    "candidate.test_share": "0.5", "candidate.threshold": "0.8",
    "champion.test_share": "0.75", "champion.threshold": "0.6",
}  # fmt: skip


@pytest.fixture(scope="module")
def offline_sqlite(tmp_path_factory, new_project, kedro, store_at):
    """Two offline runs of a project on sqlite; the store is read before any sync, then
    two syncs run at once, then a third."""
    project = new_project(tmp_path_factory.mktemp("offline-sqlite"))
    (project / "conf" / "local" / "metrics.yml").write_text(
        "mode: offline\nmetrics:\n"
        "  small_metrics.answer: {direction: max, format: '.1f', summary: [max]}\n"
    )
    runs = [kedro(project, "run", "--pipelines", "small") for _ in range(2)]
    before_sync = store_at(project / "mlflow.db").runs()
    spool_files = sorted((project / ".kedro_metrics" / "spool").glob("*.jsonl"))
    from kedro_metrics import spool

    ends = [spool.read(path).end for path in spool_files]
    concurrent = [BackgroundKedro(project, "metrics", "sync", name=f"sync{i}-") for i in (1, 2)]
    syncs = [
        (done.returncode, done.stdout, done.stderr) for done in (p.finish() for p in concurrent)
    ]
    again = kedro(project, "metrics", "sync")
    store = store_at(project / "mlflow.db")
    return {
        "runs": runs,
        "before_sync": before_sync,
        "spool_files": spool_files,
        "ends": ends,
        "syncs": syncs,
        "again": again,
        "store": store,
        "left": sorted((project / ".kedro_metrics" / "spool").glob("*.jsonl")),
    }


class TestOfflineOnSqlite:
    def test_nothing_reaches_the_store_during_the_run(self, offline_sqlite):
        """Both runs succeed and the sqlite store has no run before sync; each spooled
        its run in a file."""
        for run in offline_sqlite["runs"]:
            run.check()
            assert "offline mode" in run.stdout, run.output
        assert offline_sqlite["before_sync"] == []
        assert len(offline_sqlite["spool_files"]) == 2

    def test_two_syncs_at_once_deliver_each_run_once(self, offline_sqlite):
        """Both syncs exit 0; the store then holds exactly two FINISHED runs, each with
        its one point, tagged with its spool id, started before it ended."""
        for code, out, err in offline_sqlite["syncs"]:
            assert code == 0, out + err
        runs = offline_sqlite["store"].runs()
        assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
        for run in runs:
            assert offline_sqlite["store"].metrics(run.info.run_id) == {
                **SMALL, "small_metrics.answer.max": [(0, 42.0)]
            }  # fmt: skip
            assert run.data.tags["kedro_metrics.spool_id"]
            assert run.data.tags["kedro.pipeline"] == "small"
            assert run.info.run_name.startswith("small ")  # the pipeline and its start time
            assert run.info.start_time <= run.info.end_time
        assert len({r.data.tags["kedro_metrics.spool_id"] for r in runs}) == 2

    def test_the_params_arrive_with_the_run(self, offline_sqlite):
        """The spool holds the run's Kedro parameters; sync logs them with the run (each
        run once, though two syncs ran at once)."""
        for run in offline_sqlite["store"].runs():
            assert run.data.params == PARAMS

    def test_the_meaning_and_summaries_arrive_with_the_run(self, offline_sqlite):
        """The run's end record keeps metrics.yml's declarations; sync records them as
        the end of an online run does: the meaning and summaries tags, and the declared
        summary as a metric (in the test above)."""
        assert [end["meaning"] for end in offline_sqlite["ends"]] == [DECLARED, DECLARED]
        for run in offline_sqlite["store"].runs():
            assert json.loads(run.data.tags["kedro_metrics.meaning"]) == DECLARED
            assert run.data.tags["kedro_metrics.summaries"] == '["small_metrics.answer.max"]'

    def test_a_later_sync_has_nothing_to_do(self, offline_sqlite):
        """A third sync delivers nothing and leaves no spool file."""
        again = offline_sqlite["again"].check()
        assert "Delivered 0 point(s) of 0 spooled run(s)" in again.stdout, again.output
        assert offline_sqlite["left"] == []


@pytest.fixture(scope="module")
def offline_then_online(tmp_path_factory, new_project, kedro, store_at):
    """An offline run on sqlite, then an ordinary run: its start delivers the first."""
    project = new_project(tmp_path_factory.mktemp("offline-then-online"))
    metrics_yml = project / "conf" / "local" / "metrics.yml"
    metrics_yml.write_text("mode: offline\n")
    offline = kedro(project, "run", "--pipelines", "small")
    metrics_yml.write_text("mode: online\n")
    online = kedro(project, "run", "--pipelines", "small")
    return (
        offline,
        online,
        store_at(project / "mlflow.db"),
        sorted((project / ".kedro_metrics" / "spool").glob("*.jsonl")),
    )


class TestSyncOnStartOfALocalStore:
    def test_the_next_run_delivers_an_offline_run(self, offline_then_online):
        """sync_on_start (default true) covers a local store too: after the second run
        the store holds both runs, FINISHED, each with its point; no spool file left."""
        offline, online, store, left = offline_then_online
        offline.check()
        online.check()
        assert "delivered 1 spooled point(s) of 1 earlier run(s)" in online.stdout, online.output
        runs = store.runs()
        assert [r.info.status for r in runs] == ["FINISHED", "FINISHED"]
        assert [store.metrics(r.info.run_id) for r in runs] == [SMALL, SMALL]
        assert sum("kedro_metrics.spool_id" in r.data.tags for r in runs) == 1
        assert left == []


@pytest.fixture(scope="module")
def spool_dir_from_the_environment(tmp_path_factory, new_project, kedro, store_at):
    """An offline run with KEDRO_METRICS_SPOOL_DIR set; `sync --dry-run`, then `sync`."""
    parent = tmp_path_factory.mktemp("spool-dir-env")
    project = new_project(parent)
    directory = parent / "elsewhere"
    env = {"KEDRO_METRICS_SPOOL_DIR": str(directory), "KEDRO_METRICS_MODE": "offline"}
    run = kedro(project, "run", "--pipelines", "small", env=env)
    files = sorted(p.name for p in directory.glob("*.jsonl"))
    dry = kedro(project, "metrics", "sync", "--dry-run", env=env)
    after_dry = (
        store_at(project / "mlflow.db").runs(),
        sorted(p.name for p in directory.glob("*.jsonl")),
    )
    real = kedro(project, "metrics", "sync", env=env)
    return {
        "project": project, "directory": directory, "run": run, "files": files, "dry": dry,
        "after_dry": after_dry, "sync": real, "store": store_at(project / "mlflow.db"),
        "left": sorted(directory.glob("*.jsonl")),
        "project_spool": sorted((project / ".kedro_metrics").glob("**/*.jsonl")),
    }  # fmt: skip


class TestSpoolDirFromTheEnvironment:
    def test_the_run_spools_where_the_variable_says(self, spool_dir_from_the_environment):
        found = spool_dir_from_the_environment
        found["run"].check()
        assert len(found["files"]) == 1
        assert found["project_spool"] == []

    def test_dry_run_says_what_it_would_deliver_and_sends_nothing(
        self, spool_dir_from_the_environment
    ):
        found = spool_dir_from_the_environment
        found["dry"].check()
        uri = f"sqlite:///{found['project'] / 'mlflow.db'}"
        assert found["dry"].stdout.strip().splitlines()[-1] == (
            f"Would deliver 1 point(s) of 1 spooled run(s) from {found['directory']} to {uri}; "
            "0 file(s) in use by a running `kedro run`."
        )
        assert found["after_dry"] == ([], found["files"])

    def test_sync_then_delivers_from_there(self, spool_dir_from_the_environment):
        found = spool_dir_from_the_environment
        found["sync"].check()
        (run,) = found["store"].runs()
        assert (run.info.status, found["store"].metrics(run.info.run_id)) == ("FINISHED", SMALL)
        assert found["left"] == []


@pytest.fixture(scope="module")
def offline_to_server(tmp_path_factory, new_project, kedro, sqlite_template):
    """An offline ParallelRunner run with no server anywhere, then a server is started
    at the URI the project names, and sync delivers."""
    import shutil

    parent = tmp_path_factory.mktemp("offline-server")
    project = new_project(parent)
    port = free_port()
    env = {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}", "KEDRO_METRICS_MODE": "offline"}
    run = kedro(project, "run", "--pipelines", "runners", "--runner", "ParallelRunner", env=env)
    backend = parent / "backend.db"
    shutil.copyfile(sqlite_template, backend)
    from tests.servers import start_mlflow_server

    server = start_mlflow_server(f"sqlite:///{backend}", parent / "server", port=port, warm=True)
    try:
        # sync ignores offline mode: it exists to deliver.
        sync = kedro(project, "metrics", "sync", env=env)
        from mlflow import MlflowClient

        client = MlflowClient(server.url)
        runs = client.search_runs(["0", *[e.experiment_id for e in client.search_experiments()]])
        found = {}
        for r in {r.info.run_id: r for r in runs}.values():
            found[r.info.run_id] = (
                r.info.status,
                r.data.params,
                {k: sorted((m.step, m.value) for m in client.get_metric_history(r.info.run_id, k))
                 for k in r.data.metrics},
            )  # fmt: skip
    finally:
        server.stop()
    return run, sync, found


class TestOfflineToServer:
    def test_run_without_any_server_then_sync(self, offline_to_server):
        """With no server at all, the ParallelRunner run succeeds; sync creates one
        FINISHED run holding every point of every worker exactly once."""
        run, sync, found = offline_to_server
        run.check()
        sync.check()
        assert [status for status, _, _ in found.values()] == ["FINISHED"], sync.output
        assert next(iter(found.values()))[2] == HISTORIES
        assert next(iter(found.values()))[1] == PARAMS


class TestASyncAlreadyDelivering:
    def test_a_second_sync_says_so_and_exits_0(self, project, kedro):
        """While another sync holds the spool directory's lock (held here, in this
        process), `kedro metrics sync` sends nothing and says why."""
        from kedro_metrics import spool

        directory = project / ".kedro_metrics" / "spool"
        with spool.sync_lock(directory) as mine:
            assert mine
            result = kedro(project, "metrics", "sync")
        result.check()
        assert result.stdout.strip().splitlines()[-1] == (
            f"Another `kedro metrics sync` is delivering {directory}; nothing to do."
        )
