"""run_references: parsing every form of run reference (ids, prefixes, latest~N, branch:,
tag:, best:, each search with ~N), the errors of malformed ones, and picking the run
a search reference names from what its search found."""

from __future__ import annotations

import pytest

from kedro_metrics import run_references
from kedro_metrics.errors import KedroMetricsError, RunReferenceError
from kedro_metrics.records import Run
from kedro_metrics.run_references import BEST, BRANCH, TAG, RunReference

ID = "abcdef0123456789abcdef0123456789"
WHERE = "experiment 'exp' at sqlite:///m.db"


def run(run_id: str, start: int) -> Run:
    return Run(
        run_id=run_id, run_name=run_id, status="FINISHED", start_time=start,
        end_time=start + 10, experiment="exp", experiment_id="1",
    )  # fmt: skip


#: As a search finds them, first first.
FOUND = [run("r3", 3000), run("r2", 2000), run("r1", 1000)]

ID_A = ID
ID_B = "abcdef99aaaaaaaaaaaaaaaaaaaaaaaa"
ID_C = "0123456789abcdef0123456789abcdef"
#: Newest first, as the store returns them.
RUNS = [run(ID_C, 3000), run(ID_B, 2000), run(ID_A, 1000)]


class TestParse:
    """Every accepted form parses to its parts."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("latest", RunReference("latest", back=0)),
            ("latest~3", RunReference("latest~3", back=3)),
            (ID, RunReference(ID)),
            ("ABCDEF01", RunReference("abcdef01")),
            ("branch:main", RunReference("branch:main", None, BRANCH, value="main")),
            ("branch:main~1", RunReference("branch:main~1", 1, BRANCH, value="main")),
            ("branch:feature/x-1", RunReference("branch:feature/x-1", None, BRANCH, value="feature/x-1")),
            ("tag:team=ml", RunReference("tag:team=ml", None, TAG, key="team", value="ml")),
            ("tag:team=ml~0", RunReference("tag:team=ml~0", 0, TAG, key="team", value="ml")),
            ("tag:a=b=c~2", RunReference("tag:a=b=c~2", 2, TAG, key="a", value="b=c")),
            ("tag:v=1.0~rc", RunReference("tag:v=1.0~rc", None, TAG, key="v", value="1.0~rc")),
            ("tag:note=it's", RunReference("tag:note=it's", None, TAG, key="note", value="it's")),
            ("tag:my key= x ", RunReference("tag:my key= x", None, TAG, key="my key", value=" x")),
            ("best:loss", RunReference("best:loss", None, BEST, key="loss")),
            ("best:model.loss~2", RunReference("best:model.loss~2", 2, BEST, key="model.loss")),
            ("  best:acc~12 ", RunReference("best:acc~12", 12, BEST, key="acc")),
        ],
    )  # fmt: skip
    def test_accepted(self, text, expected):
        assert run_references.parse_reference(text) == expected

    @pytest.mark.parametrize(
        ("text", "latest", "full", "search"),
        [("latest~1", True, False, False), (ID, False, True, False),
         ("abcdef", False, False, False), ("branch:main~1", False, False, True),
         ("best:" + "x" * 27, False, False, True)],
    )  # fmt: skip
    def test_kinds(self, text, latest, full, search):
        """A search reference is neither latest~N nor a full id, whatever its ~N or length."""
        reference = run_references.parse_reference(text)
        assert (reference.is_latest, reference.is_full_id, reference.is_search) == (
            latest, full, search,
        )  # fmt: skip

    @pytest.mark.parametrize(
        ("text", "base"),
        [("branch:main", "branch:main"), ("branch:main~2", "branch:main"),
         ("tag:a=b~c", "tag:a=b~c"), ("best:loss~10", "best:loss")],
    )  # fmt: skip
    def test_base_is_the_reference_without_its_count(self, text, base):
        assert run_references.parse_reference(text).base == base

    def test_deepest_latest_counts_only_latest(self):
        """A search's ~N is no latest~N: it needs none of the newest runs."""
        parse = run_references.parse_reference
        assert run_references.deepest_latest([parse("branch:main~5"), parse("best:loss~9")]) == 0
        assert run_references.deepest_latest([parse("branch:main~5"), parse("latest~1")]) == 2


class TestMalformed:
    """A malformed reference is a RunReferenceError quoting it and saying what fits."""

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("branch:", "'branch:NAME' needs a NAME, as in 'branch:main'"),
            ("branch:~1", "'branch:NAME' needs a NAME"),
            ("tag:team", "'tag:KEY=VALUE' needs '=' after the KEY, as in 'tag:team=ml'"),
            ("tag:", "'tag:KEY=VALUE' needs '=' after the KEY"),
            ("tag:=ml", "'tag:KEY=VALUE' needs a KEY before the '='"),
            ("tag:team=", "'tag:KEY=VALUE' needs a VALUE after the '=' (is a variable unset?)"),
            ("tag:team=~1", "needs a VALUE after the '='"),
            ("tag:a`b=c", "a tag key cannot hold a backtick"),
            ("best:", "'best:KEY' needs a metric KEY, as in 'best:loss' or 'best:loss~1'"),
            ("best:~2", "'best:KEY' needs a metric KEY"),
            ("best:a`b", "a metric key cannot hold a backtick"),
        ],
    )  # fmt: skip
    def test_search_forms(self, text, fragment):
        with pytest.raises(RunReferenceError) as caught:
            run_references.parse_reference(text)
        message = str(caught.value)
        assert message.startswith(f"Run reference {text!r} is not valid: ")
        assert fragment in message
        assert isinstance(caught.value, KedroMetricsError)

    @pytest.mark.parametrize("text", ["nope!!", "abc", "Branch:main", "head:main", "latest~x"])
    def test_not_valid_lists_every_form(self, text):
        with pytest.raises(RunReferenceError) as caught:
            run_references.parse_reference(text)
        message = str(caught.value)
        assert message.startswith(f"Run reference {text!r} is not valid: give a run id")
        for form in ("at least 6 characters", "'latest~N'", "'branch:NAME'", "'tag:KEY=VALUE'",
                     "'best:KEY'", "optional '~N'"):  # fmt: skip
            assert form in message


class TestResolveSearch:
    """The run(s) a search reference names among the runs its search found."""

    def resolve(self, text: str, found: list[Run] = FOUND, searched: str = "metric 'loss'"):
        reference = run_references.parse_reference(text)
        return run_references.resolve_search(reference, found, searched=searched, where=WHERE)

    def test_the_first_and_the_n_th(self):
        """Without ~N the first run found, with ~N the run N after it, and those after."""
        assert [r.run_id for r in self.resolve("best:loss")] == ["r3", "r2", "r1"]
        assert [r.run_id for r in self.resolve("best:loss~2")] == ["r1"]

    def test_nothing_found_says_what_was_searched_and_where(self):
        searched = "tag mlflow.source.git.branch = 'main'"
        with pytest.raises(RunReferenceError) as caught:
            self.resolve("branch:main", [], searched)
        assert str(caught.value) == f"No FINISHED run with {searched} in {WHERE}."

    @pytest.mark.parametrize(
        ("text", "found", "searched", "expected"),
        [
            ("branch:main~3", FOUND, "tag b = 'main'",
             f"No run 'branch:main~3': {WHERE} has 3 FINISHED runs with tag b = 'main' "
             "(branch:main~2 is the oldest)."),
            ("tag:t=v~1", FOUND[:1], "tag t = 'v'",
             f"No run 'tag:t=v~1': {WHERE} has 1 FINISHED run with tag t = 'v' "
             "(tag:t=v is the oldest)."),
            ("best:loss~5", FOUND[:2], "metric 'loss'",
             f"No run 'best:loss~5': {WHERE} has 2 FINISHED runs with metric 'loss' "
             "(best:loss~1 is the worst)."),
        ],
    )  # fmt: skip
    def test_beyond_the_count_says_how_many_there_are(self, text, found, searched, expected):
        with pytest.raises(RunReferenceError) as caught:
            self.resolve(text, found, searched)
        assert str(caught.value) == expected


class TestParseReference:
    """Run references: latest, latest~N, a full id, a prefix of >= 6 characters."""

    @pytest.mark.parametrize(
        ("text", "back", "full"),
        [("latest", 0, False), ("latest~0", 0, False), ("latest~12", 12, False),
         (ID_A, None, True), ("abcdef", None, False), (" abcdef01 ", None, False)],
    )  # fmt: skip
    def test_accepted(self, text, back, full):
        """Each accepted form parses to its kind."""
        reference = run_references.parse_reference(text)
        assert (reference.back, reference.is_full_id) == (back, full)

    def test_an_upper_case_id_names_the_same_run(self):
        """MLflow's run ids are lower-case hex; a pasted upper-case one still matches."""
        assert run_references.parse_reference("ABCDEF01").text == "abcdef01"
        assert run_references.parse_reference(ID_A.upper()).text == ID_A

    @pytest.mark.parametrize(
        "text", ["abc", "abcde", "latest~", "latest~-1", "latest~x", "ab/cdef0"]
    )
    def test_rejected_with_the_accepted_forms(self, text):
        """Anything else is a RunReferenceError that lists what is accepted."""
        with pytest.raises(RunReferenceError) as caught:
            run_references.parse_reference(text)
        message = str(caught.value)
        assert repr(text) in message
        assert "at least 6 characters" in message
        assert "'latest~N'" in message
        assert isinstance(caught.value, KedroMetricsError)


class TestResolveReference:
    """References resolve over runs listed newest first."""

    def resolve(self, text: str, runs: list[Run] = RUNS) -> Run:
        return run_references.resolve_reference(
            run_references.parse_reference(text), runs, where="experiment 'exp'"
        )

    def test_latest_and_latest_n_count_back_from_the_newest(self):
        """latest is the first run, latest~N the N-th before it."""
        assert [self.resolve(t).run_id for t in ("latest", "latest~1", "latest~2")] == [
            ID_C, ID_B, ID_A,
        ]  # fmt: skip

    def test_latest_beyond_the_oldest_says_how_many_runs_there_are(self):
        """latest~3 of three runs names the count and the oldest reference."""
        with pytest.raises(RunReferenceError, match=r"has 3 runs \(latest~2 is the oldest\)"):
            self.resolve("latest~3")
        with pytest.raises(RunReferenceError, match="experiment 'exp' has 0 runs"):
            self.resolve("latest", [])

    def test_unique_prefix(self):
        """A prefix shared by no other run names that run."""
        assert self.resolve("012345").run_id == ID_C
        assert self.resolve("abcdef01").run_id == ID_A

    def test_ambiguous_prefix_lists_the_candidates(self):
        """A prefix of two runs is an error listing both ids."""
        with pytest.raises(RunReferenceError) as caught:
            self.resolve("abcdef")
        message = str(caught.value)
        assert "ambiguous" in message
        assert ID_A in message and ID_B in message and ID_C not in message

    def test_unknown_prefix_says_where_it_looked(self):
        """A prefix of no run names the reference and where it was looked for."""
        with pytest.raises(RunReferenceError, match="No run matches 'ffffff' in experiment 'exp'"):
            self.resolve("ffffff")

    def test_deepest_latest(self):
        """How many newest runs a set of references needs."""
        parse = run_references.parse_reference
        assert run_references.deepest_latest([parse("latest~4"), parse("latest"), parse(ID_A)]) == 5
        assert run_references.deepest_latest([parse(ID_A)]) == 0
