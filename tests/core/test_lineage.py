"""lineage.py: the attribution tags (written, cut, read back whole), which dataset and
node a key came from, and ``--by`` grouping."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.lineage import (
    Attribution,
    SameData,
    Source,
    clean_source,
    data_digest,
    dataset_of,
    evaluated_tags,
    grouped,
    is_parameter,
    key_names,
    recorded_evaluations,
    recorded_sources,
    same_data,
    source_tags,
)

#: MLflow's tag value length.
LIMIT = 8000

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


class TestSource:
    def test_parameters_are_not_inputs(self):
        source = Source.of_node(
            "ns.evaluate", "ns", ["ns.X_test", "params:ns.threshold", "parameters", "features"]
        )
        assert source == Source("ns.evaluate", "ns", ("ns.X_test", "features"))

    def test_no_namespace_is_none(self):
        assert Source.of_node("train", "", []).namespace is None
        assert Source.of_node("train", None, []).namespace is None

    @pytest.mark.parametrize(
        ("name", "expected"),
        [("parameters", True), ("params:lr", True), ("params", False), ("x_params:y", False)],
    )
    def test_is_parameter(self, name, expected):
        assert is_parameter(name) is expected


class TestTags:
    def test_one_compact_json_tag_per_dataset(self):
        tags = source_tags({"ns.scores": Source("ns.evaluate", "ns", ("a", "b"))}, limit=LIMIT)
        assert tags == {
            "kedro_metrics.source.ns.scores": '{"node":"ns.evaluate","namespace":"ns","inputs":["a","b"]}'
        }

    def test_a_prefix_other_than_the_name_is_recorded_an_equal_one_is_not(self):
        sources = {d: Source("n", None, ()) for d in ("a", "b", "c")}
        tags = source_tags(sources, limit=LIMIT, keys={"a": "a", "b": "eval", "c": "", "z": "q"})
        assert {k: v for k, v in tags.items() if ".keys." in k} == {
            "kedro_metrics.keys.b": "eval",
            "kedro_metrics.keys.c": "",
        }

    def test_too_many_inputs_are_cut_with_a_marker_and_kept_whole_in_pieces(self):
        inputs = tuple(f"dataset_number_{i:04d}" for i in range(2000))
        tags = source_tags({"m": Source("node", None, inputs)}, limit=LIMIT)
        head = json.loads(tags["kedro_metrics.source.m"])
        assert len(tags["kedro_metrics.source.m"]) <= LIMIT
        kept = head["inputs"][:-1]
        assert kept == list(inputs[: len(kept)])
        assert head["inputs"][-1] == f"...(+{len(inputs) - len(kept)} more)"
        # one more input would not have fitted
        bigger = {
            **head,
            "inputs": [*inputs[: len(kept) + 1], f"...(+{len(inputs) - len(kept) - 1} more)"],
        }
        assert len(json.dumps(bigger, separators=(",", ":"))) > LIMIT
        assert all(len(v) <= LIMIT for v in tags.values())
        assert recorded_sources(tags, whole=True)["m"].inputs == inputs
        assert recorded_sources(tags)["m"].inputs == tuple(head["inputs"])

    def test_a_node_name_longer_than_a_tag_is_cut_too(self):
        tags = source_tags({"m": Source("n" * 9000, None, ("x",))}, limit=LIMIT)
        value = tags["kedro_metrics.source.m"]
        assert len(value) <= LIMIT
        assert json.loads(value)["node"].endswith("...")

    @given(
        sources=st.dictionaries(
            names,
            st.builds(
                Source,
                names,
                st.none() | names,
                st.lists(names, max_size=30).map(tuple),
            ),
            max_size=5,
        ),
        limit=st.integers(min_value=300, max_value=2000),
    )
    def test_tags_read_back_to_the_sources_within_the_limit(self, sources, limit):
        tags = source_tags(sources, limit=limit)
        assert all(len(value) <= limit for value in tags.values())
        assert recorded_sources(tags, whole=True) == dict(sorted(sources.items()))

    @pytest.mark.parametrize(
        "value", ["not json", "[]", '{"node": 1, "namespace": null, "inputs": []}',
                  '{"node": "n", "namespace": 2, "inputs": []}', '{"node": "n"}'],
    )  # fmt: skip
    def test_a_tag_that_does_not_parse_is_left_out(self, value):
        assert recorded_sources({"kedro_metrics.source.m": value, "other": "x"}) == {}


class TestWhichDataset:
    def test_the_longest_name_the_key_starts_with(self):
        names = {"a": "a", "ab": "a.b", "c": "c"}
        assert dataset_of("a.x", names) == "a"
        assert dataset_of("a.b.x", names) == "ab"
        assert dataset_of("a.b", names) == "ab"
        assert dataset_of("c", names) == "c"
        assert dataset_of("cc.x", names) is None
        assert dataset_of("kedro.node.x.seconds", names) is None

    def test_key_names_follow_the_recorded_prefix_and_drop_an_empty_one(self):
        tags = {
            **source_tags(
                {d: Source("n", None, ()) for d in ("m", "e", "f")},
                limit=LIMIT,
                keys={"m": "m", "e": "eval", "f": ""},
            ),
            "kedro_metrics.keys.orphan": "x",
        }
        assert key_names(tags) == {"m": "m", "e": "eval"}


class TestAttribution:
    tags = source_tags(
        {
            "cand.scores": Source("cand.evaluate", "cand", ("cand.X",)),
            "eval_metrics": Source("eval_scores", None, ()),
        },
        limit=LIMIT,
        keys={"eval_metrics": "eval"},
    )

    def test_groups_of_a_key(self):
        seen = Attribution.of_tags(self.tags)
        assert [seen.group("cand.scores.f1", by) for by in ("node", "namespace", "dataset")] == [
            "cand.evaluate", "cand", "cand.scores",
        ]  # fmt: skip
        assert [seen.group("eval.f1", by) for by in ("node", "namespace", "dataset")] == [
            "eval_scores", None, "eval_metrics",
        ]  # fmt: skip
        assert [seen.group("loose", by) for by in ("node", "namespace", "dataset")] == [None] * 3

    def test_filters_hold_exactly(self):
        seen = Attribution.of_tags(self.tags)
        assert seen.matches("cand.scores.f1", node="cand.evaluate", namespace=None)
        assert seen.matches("cand.scores.f1", node=None, namespace="cand")
        assert not seen.matches("cand.scores.f1", node="evaluate", namespace=None)
        assert not seen.matches("eval.f1", node=None, namespace="cand")
        assert not seen.matches("loose", node="eval_scores", namespace=None)
        assert seen.matches("loose", node=None, namespace=None)

    def test_a_newer_runs_attribution_wins(self):
        old = Attribution.of_tags(self.tags)
        new = Attribution.of_tags(
            source_tags({"cand.scores": Source("cand.score_it", "cand", ())}, limit=LIMIT)
        )
        assert old.merged(new).group("cand.scores.f1", "node") == "cand.score_it"
        assert old.merged(new).group("eval.f1", "node") == "eval_scores"


class TestGrouped:
    def test_rows_gain_the_field_and_are_ordered_by_group_unknown_last(self):
        rows = [{"name": k} for k in ("z.1", "b.1", "a.1", "b.2", "none")]
        group_of = {"z.1": "n1", "b.1": "n2", "a.1": "n1", "b.2": "n2", "none": None}
        assert grouped(rows, "node", group_of) == [
            {"name": "z.1", "node": "n1"},
            {"name": "a.1", "node": "n1"},
            {"name": "b.1", "node": "n2"},
            {"name": "b.2", "node": "n2"},
            {"name": "none", "node": None},
        ]

    def test_an_unknown_grouping_is_refused(self):
        with pytest.raises(ValueError, match="node, namespace, dataset"):
            grouped([], "pipeline", {})


class TestEvaluatedOn:
    """The data metrics were computed on: digests, tags, same_data."""

    def test_the_digest_is_pinned(self):
        import hashlib

        description = {"type": "T", "filepath": "/d/x.csv", "load_args": {"b": 1, "a": 2}}
        canonical = '{"filepath":"/d/x.csv","load_args":{"a":2,"b":1},"type":"T"}'
        assert data_digest(description) == hashlib.sha256(canonical.encode()).hexdigest()[:16]
        assert (
            data_digest(description, version="v1")
            == (hashlib.sha256((canonical + "\0version:v1").encode()).hexdigest()[:16])
        )
        assert (
            data_digest(description, content=[b"ab", b"c"])
            == (hashlib.sha256(canonical.encode() + b"abc").hexdigest()[:16])
        )

    def test_key_order_does_not_change_the_digest_content_does(self):
        one = {"type": "T", "load_args": {"a": 1, "b": 2}}
        two = {"load_args": {"b": 2, "a": 1}, "type": "T"}
        assert data_digest(one, content=[b"x"]) == data_digest(two, content=[b"x"])
        assert data_digest(one, content=[b"x"]) != data_digest(one, content=[b"y"])
        assert data_digest(one, version="a") != data_digest(one, version="b")

    @pytest.mark.parametrize(
        ("uri", "clean"),
        [
            ("/data/x.csv", "/data/x.csv"),
            ("data/x.csv", "data/x.csv"),
            ("C:/data/x.csv", "C:/data/x.csv"),
            ("https://user:secret@host:8443/x.csv?token=abc#part", "https://host:8443/x.csv"),
            ("s3://key:secret@bucket/x.parquet", "s3://bucket/x.parquet"),
        ],
    )
    def test_sources_lose_credentials_query_and_fragment(self, uri, clean):
        assert clean_source(uri) == clean

    def test_tags_read_back(self):
        tags = evaluated_tags({"m": {"test": "aaaa", "ref": "bbbb"}})
        assert tags == {
            "kedro_metrics.evaluated_on.m": '[{"name":"test","digest":"aaaa"},{"name":"ref","digest":"bbbb"}]'
        }
        assert recorded_evaluations({**tags, "kedro_metrics.evaluated_on.bad": "nope"}) == {
            "m": {"test": "aaaa", "ref": "bbbb"}
        }

    @pytest.mark.parametrize(
        ("evaluations", "same", "differs"),
        [
            ([{"t": "a"}, {"t": "a"}], True, None),
            ([{"t": "a", "r": "b"}, {"t": "a", "r": "c"}], False, ("r", "b", "c")),
            ([{"t": "a"}, {"t": "a"}, {"t": "z"}], False, ("t", "a", "z")),
            ([{"t": "a"}, {"u": "a"}], None, None),
            ([{"t": "a"}, None], None, None),
            ([{"t": "a"}], None, None),
        ],
    )
    def test_same_data(self, evaluations, same, differs):
        assert same_data(evaluations) == SameData(same, differs)

    def test_attribution_finds_a_keys_evaluation(self):
        tags = {
            **source_tags({"m": Source("n", None, ())}, limit=LIMIT),
            **evaluated_tags({"m": {"test": "aaaa"}, "only": {"x": "1"}}),
        }
        seen = Attribution.of_tags(tags)
        assert seen.evaluated_on("m.f1") == {"test": "aaaa"}
        assert seen.evaluated_on("only.f1") == {"x": "1"}
        assert seen.evaluated_on("other") is None
