"""Search references (branch:, tag:, best:, each with ~N) and baselines on real
stores, a sqlite file and a loopback `mlflow server`: exactly which run each one
names, through resolve_runs, find_runs and get_metrics, what their errors say, and
what they cost in requests."""

from __future__ import annotations

import math
import shutil
import uuid
from dataclasses import dataclass

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_GIT_BRANCH

from kedro_metrics import get_metrics
from kedro_metrics.errors import RunReferenceError
from kedro_metrics.filters import parse_condition
from kedro_metrics.meaning import Declarations, Meaning, meaning_tags
from kedro_metrics.reading.query import Scope, baseline_runs, find_runs, resolve_runs
from kedro_metrics.records import Run

T0 = 1_700_000_000_000
NAN = math.nan
#: What n1 recorded when it ran: acc is better higher.
RECORDED = meaning_tags({"acc": Meaning(direction="max")}, limit=5000)

#: Started a second apart in this order, m1 oldest: name -> (status, branch, tags,
#: last metric values). m2 and f1 tie on loss (f1 newer); x1 has the lowest loss but
#: FAILED, r1 still RUNS; m3 has no loss; n1's loss is NaN.
RUNS = {
    "m1": ("FINISHED", "main", {"team": "ml"}, {"loss": 0.5, "acc": 0.7}),
    "m2": ("FINISHED", "main", {"team": "data"}, {"loss": 0.3, "acc": 0.9}),
    "f1": ("FINISHED", "feature/x", {"note": "it's"}, {"loss": 0.3, "acc": 0.6}),
    "x1": ("FAILED", "main", {"team": "ml"}, {"loss": 0.1, "acc": 0.95}),
    "m3": ("FINISHED", "main", {"team": "ml"}, {"acc": 0.8}),
    "n1": ("FINISHED", "other", RECORDED, {"loss": NAN, "acc": 0.1}),
    "r1": ("RUNNING", "main", {"team": "ml"}, {"loss": 0.05, "acc": 0.99}),
}

MIN_LOSS = Declarations.parse({"loss": {"direction": "min"}}, source="test")
MIN_ACC = Declarations.parse({"acc": {"direction": "min"}}, source="test")


@dataclass(frozen=True)
class Seeded:
    uri: str
    experiment: str
    ids: dict[str, str]  # run name -> id
    server: object | None = None

    def scope(self, declarations: Declarations = MIN_LOSS, uri: str | None = None) -> Scope:
        return Scope(uri or self.uri, self.experiment, declarations)

    def names(self, runs: list[Run]) -> list[str]:
        by_id = {run_id: name for name, run_id in self.ids.items()}
        return [by_id[run.run_id] for run in runs]

    def named(self, text: str, declarations: Declarations = MIN_LOSS) -> list[str]:
        """The names of the runs ``find_runs(run=text)`` gives."""
        return self.names(find_runs(self.scope(declarations), run=text))

    def run(self, name: str) -> Run:
        (found,) = find_runs(self.scope(), run=self.ids[name])
        return found

    @property
    def where(self) -> str:
        return f"experiment {self.experiment!r} at {self.uri}"


def seed(uri: str, server: object | None = None) -> Seeded:
    client = MlflowClient(tracking_uri=uri)
    experiment = f"refs-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(experiment)
    ids = {}
    for index, (name, (status, branch, tags, metrics)) in enumerate(RUNS.items()):
        start = T0 + index * 1000
        run_id = client.create_run(experiment_id, start_time=start, run_name=name).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, start + 5, 0) for key, value in metrics.items()],
            tags=[RunTag(MLFLOW_GIT_BRANCH, branch)] + [RunTag(k, v) for k, v in tags.items()],
        )
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=start + 500)
        ids[name] = run_id
    # Another experiment's FINISHED main run, newer than all: never found in this one.
    other = client.create_run(client.create_experiment(f"other-{experiment}"), start_time=T0 * 2)
    client.log_batch(
        other.info.run_id,
        metrics=[Metric("loss", 0.0, T0 * 2, 0)],
        tags=[RunTag(MLFLOW_GIT_BRANCH, "main"), RunTag("team", "ml")],
    )
    client.set_terminated(other.info.run_id, "FINISHED")
    return Seeded(uri, experiment, ids, server)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("server", marks=pytest.mark.server)],
)
def seeded(request, sqlite_template, tmp_path_factory) -> Seeded:
    if request.param == "server":
        server = request.getfixturevalue("mlflow_server")
        return seed(server.url, server)
    path = tmp_path_factory.mktemp("reference-search") / "mlflow.db"
    shutil.copyfile(sqlite_template, path)
    return seed(f"sqlite:///{path}")


class TestBranch:
    """branch:NAME is the newest FINISHED run of that git branch; ~N counts on."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("branch:main", "m3"), ("branch:main~0", "m3"), ("branch:main~1", "m2"),
         ("branch:main~2", "m1"), ("branch:feature/x", "f1")],
    )  # fmt: skip
    def test_names_the_run(self, seeded, text, expected):
        """FAILED x1 and RUNNING r1 of main are skipped, so is the other experiment's."""
        assert seeded.named(text) == [expected]

    def test_no_such_branch_says_what_was_searched_and_where(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            seeded.named("branch:nope")
        assert str(caught.value) == (
            f"No FINISHED run with tag mlflow.source.git.branch = 'nope' in {seeded.where}."
        )

    def test_beyond_the_count_says_how_many_there_are(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            seeded.named("branch:main~3")
        assert str(caught.value) == (
            f"No run 'branch:main~3': {seeded.where} has 3 FINISHED runs with tag "
            "mlflow.source.git.branch = 'main' (branch:main~2 is the oldest)."
        )

    def test_an_experiment_the_store_lacks(self, seeded):
        scope = Scope(seeded.uri, "no-such-experiment")
        with pytest.raises(RunReferenceError, match="No FINISHED run with tag .* 'no-such-exp"):
            find_runs(scope, run="branch:main")


class TestTag:
    """tag:KEY=VALUE is the newest FINISHED run with that tag; ~N counts on."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("tag:team=ml", "m3"), ("tag:team=ml~1", "m1"), ("tag:team=data", "m2"),
         ("tag:note=it's", "f1"), (f"tag:{MLFLOW_GIT_BRANCH}=main~1", "m2")],
    )  # fmt: skip
    def test_names_the_run(self, seeded, text, expected):
        assert seeded.named(text) == [expected]

    def test_a_value_holding_a_quote_is_searched_in_double_quotes(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            seeded.named("tag:note=it's not")
        assert str(caught.value) == (
            f'No FINISHED run with tag note = "it\'s not" in {seeded.where}.'
        )

    def test_a_value_mlflow_cannot_hold_fails_before_any_search(self, seeded):
        """Both quotes: MLflow's filter cannot match it, refused before the first
        reference is searched for."""
        with pytest.raises(RunReferenceError) as caught:
            seeded.named(["tag:team=ml", 'tag:note=it\'s "x"'])
        message = str(caught.value)
        assert "a value cannot hold both ' and \"" in message
        assert "Name the run by its id instead." in message

    def test_beyond_the_count(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            seeded.named("tag:team=data~1")
        assert str(caught.value) == (
            f"No run 'tag:team=data~1': {seeded.where} has 1 FINISHED run with tag team = "
            "'data' (tag:team=data is the oldest)."
        )


class TestBest:
    """best:KEY is the FINISHED run with the best last value, ties the newest."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("best:loss", "f1"), ("best:loss~1", "m2"), ("best:loss~2", "m1")],
    )  # fmt: skip
    def test_by_the_declared_direction(self, seeded, text, expected):
        """The tie at 0.3 goes to f1, the newer; FAILED x1, RUNNING r1, m3 (no loss)
        and n1 (NaN) are no candidates."""
        assert seeded.named(text) == [expected]

    def test_beyond_the_candidates_says_how_many_there_are(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            seeded.named("best:loss~3")
        assert str(caught.value) == (
            f"No run 'best:loss~3': {seeded.where} has 3 FINISHED runs with metric 'loss' "
            "(best:loss~2 is the worst)."
        )

    def test_no_run_holds_the_key(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            seeded.named(
                "best:nothing", Declarations.parse({"*": {"direction": "max"}}, source="t")
            )
        assert str(caught.value) == f"No FINISHED run with metric 'nothing' in {seeded.where}."

    def test_what_the_newest_finished_run_recorded_when_the_project_declares_nothing(self, seeded):
        """n1, the newest FINISHED run, recorded acc as max: m2 (0.9) is best."""
        assert seeded.named("best:acc", Declarations()) == ["m2"]
        assert seeded.named("best:acc~1", Declarations()) == ["m3"]

    def test_the_project_declaration_wins(self, seeded):
        """The project says acc is better lower, over what n1 recorded: n1 (0.1), then
        f1 (0.6)."""
        assert seeded.named("best:acc", MIN_ACC) == ["n1"]
        assert seeded.named("best:acc~1", MIN_ACC) == ["f1"]

    def test_a_key_without_direction_says_to_declare_one(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            seeded.named("best:loss", Declarations())
        message = str(caught.value)
        assert message.startswith("Run reference 'best:loss' needs the direction of 'loss'")
        assert "under 'metrics:' in metrics.yml" in message and "direction: max" in message


class TestEverywhereARunIsNamed:
    """The search references work wherever a run is named."""

    def test_several_references_in_order(self, seeded):
        runs = resolve_runs(
            ["branch:main", "latest", "tag:team=ml~1", seeded.ids["m2"][:8], "latest~6"],
            tracking_uri=seeded.uri, experiment=seeded.experiment,
        )  # fmt: skip
        assert seeded.names(runs) == ["m3", "r1", "m1", "m2", "m1"]

    def test_get_metrics(self, seeded):
        """get_metrics(run=...): no project, so acc's direction is what n1 recorded."""
        found = get_metrics(
            "acc", run=["best:acc", "branch:feature/x~0"], tracking_uri=seeded.uri,
            experiment=seeded.experiment,
        )  # fmt: skip
        assert [(r["run_name"], r["value"]) for r in found] == [("m2", 0.9), ("f1", 0.6)]

    def test_find_runs_keeps_its_filters(self, seeded):
        """A named run still has to meet status and where."""
        scope = seeded.scope()
        assert find_runs(scope, run="branch:main", status="FAILED") == []
        acc_above = [parse_condition("acc > 0.5")]
        assert seeded.names(find_runs(scope, run="best:loss", where=acc_above)) == ["f1"]
        assert find_runs(scope, run="branch:main", where=[parse_condition("acc < 0.5")]) == []

    def test_no_credentials_in_messages(self, seeded):
        if seeded.server is None:
            pytest.skip("a sqlite URI holds no credentials")
        with_secret = seeded.uri.replace("http://", "http://user:s3cret@")
        with pytest.raises(RunReferenceError) as caught:
            find_runs(seeded.scope(uri=with_secret), run="branch:nope")
        message = str(caught.value)
        assert "s3cret" not in message
        assert "http://user:***@" in message


class TestCost:
    """One search request per search reference (best: one more when only a run
    records the key's direction)."""

    def searches(self, seeded: Seeded, text: str, declarations: Declarations) -> int:
        from tests.io.test_datasets import settled_requests

        before = len(settled_requests(seeded.server, "runs/search"))
        find_runs(seeded.scope(declarations), run=text)
        return len(settled_requests(seeded.server, "runs/search")) - before

    @pytest.mark.parametrize(
        ("text", "declarations", "expected"),
        [("branch:main~2", MIN_LOSS, 1), ("tag:team=ml~1", MIN_LOSS, 1),
         ("best:loss~2", MIN_LOSS, 1), ("best:acc", Declarations(), 2)],
    )  # fmt: skip
    def test_requests(self, seeded, text, declarations, expected):
        if seeded.server is None:
            pytest.skip("requests are counted in the server's access log")
        assert self.searches(seeded, text, declarations) == expected


class TestBaselines:
    """baseline_runs: the default, search references (the checked run skipped) and
    single-run references."""

    def baselines(self, seeded: Seeded, reference: str | None, checked: str, count: int = 1):
        runs = baseline_runs(seeded.scope(), reference, checked=seeded.run(checked), count=count)
        return seeded.names(runs)

    def test_default_is_the_newest_run_started_before_whatever_its_status(self, seeded):
        assert self.baselines(seeded, None, "m3") == ["x1"]
        assert self.baselines(seeded, None, "m3", count=3) == ["x1", "f1", "m2"]
        assert self.baselines(seeded, None, "m2", count=5) == ["m1"]

    def test_default_without_an_earlier_run(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            self.baselines(seeded, None, "m1")
        message = str(caught.value)
        assert message.startswith(f"No baseline for run {seeded.ids['m1']}: {seeded.where} ")
        assert "has no run started before it (2023-11-14T22:13:20.000Z)" in message

    @pytest.mark.parametrize(
        ("reference", "checked", "count", "expected"),
        [("branch:main", "m3", 1, ["m2"]), ("branch:main", "m3", 2, ["m2", "m1"]),
         ("branch:main", "m3", 5, ["m2", "m1"]), ("branch:main~1", "m3", 1, ["m1"]),
         ("branch:main", "r1", 2, ["m3", "m2"]), ("branch:main", "f1", 1, ["m3"]),
         ("best:loss", "f1", 2, ["m2", "m1"]), ("best:loss", "m3", 3, ["f1", "m2", "m1"]),
         ("tag:team=ml", "m3", 1, ["m1"])],
    )  # fmt: skip
    def test_a_search_reference_skips_the_checked_run(
        self, seeded, reference, checked, count, expected
    ):
        assert self.baselines(seeded, reference, checked, count) == expected

    def test_a_search_left_empty_by_the_skip(self, seeded):
        checked = seeded.ids["m2"]
        with pytest.raises(RunReferenceError) as caught:
            self.baselines(seeded, "tag:team=data", "m2")
        assert str(caught.value) == (
            f"No FINISHED run with tag team = 'data', other than the checked run {checked} "
            f"in {seeded.where}."
        )
        with pytest.raises(RunReferenceError, match=r"has 2 FINISHED runs .* is the oldest"):
            self.baselines(seeded, "branch:main~2", "m3")

    def test_a_single_run_reference_gives_that_run(self, seeded):
        assert self.baselines(seeded, seeded.ids["m1"], "m3", count=3) == ["m1"]
        assert self.baselines(seeded, seeded.ids["m2"][:7], "m3") == ["m2"]
        assert self.baselines(seeded, "latest~1", "r1") == ["n1"]

    def test_a_single_run_reference_naming_the_checked_run(self, seeded):
        with pytest.raises(RunReferenceError) as caught:
            self.baselines(seeded, "latest", "r1")
        assert str(caught.value).startswith(
            f"The baseline 'latest' is the checked run {seeded.ids['r1']} itself: name another"
        )

    def test_count_below_one(self, seeded):
        with pytest.raises(ValueError, match="count must be at least 1"):
            self.baselines(seeded, None, "m3", count=0)
