"""families.py: a run's family in reading order and how many children runs have."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.families import PARENT_TAG, children_counts, family, parent_of
from kedro_metrics.records import Run


def run(run_id: str, start: int, parent: str | None = None) -> Run:
    tags = {PARENT_TAG: parent} if parent else {}
    return Run(run_id, run_id, "FINISHED", start, None, "e", "1", tags=tags)


def test_the_parent_tag_is_mlflows_own():
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    assert PARENT_TAG == MLFLOW_PARENT_RUN_ID


def test_each_run_is_followed_by_its_childrens_families_oldest_first():
    parent = run("p", 0)
    runs = [
        run("b", 20, "p"), run("a", 10, "p"), run("a1", 15, "a"), run("a0", 12, "a"),
        run("x", 5), run("b1", 30, "b"), run("other", 1, "x"),
    ]  # fmt: skip
    assert [r.run_id for r in family(parent, runs)] == ["p", "a", "a0", "a1", "b", "b1"]


def test_a_run_without_children_is_its_own_family():
    assert [r.run_id for r in family(run("p", 0), [run("q", 1, "x")])] == ["p"]


def test_a_cycle_of_parent_tags_ends():
    a, b = run("a", 0, "b"), run("b", 1, "a")
    assert [r.run_id for r in family(a, [a, b])] == ["a", "b"]


def test_children_counts_are_direct_children_only():
    runs = [run("a", 1, "p"), run("b", 2, "p"), run("a0", 3, "a"), run("p", 0)]
    assert children_counts(runs) == {"p": 2, "a": 1}
    assert parent_of(run("p", 0)) is None
    assert parent_of(Run("r", "r", "FINISHED", 0, None, "e", "1", tags={PARENT_TAG: ""})) is None


@given(st.lists(st.integers(min_value=0, max_value=30), max_size=30))
def test_a_tree_is_visited_whole_each_run_once_after_its_parent(parents):
    """Run i's parent is parents[i] when that names an earlier run, else run 0."""
    runs = [run("0", 0)]
    for index, parent in enumerate(parents, start=1):
        runs.append(run(str(index), index, str(parent if parent < index else 0)))
    ordered = [r.run_id for r in family(runs[0], runs)]
    assert sorted(ordered, key=int) == [r.run_id for r in runs]
    position = {run_id: i for i, run_id in enumerate(ordered)}
    assert all(position[parent_of(r)] < position[r.run_id] for r in runs[1:])
