"""A save's MLflow 3 links (links.py): MLflow's own rule for a point's model, and
the link as the spool keeps it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.links import NO_LINK, PointLink, link_for

ids = st.text(st.characters(codec="ascii"), min_size=1, max_size=12)
links = st.builds(
    PointLink,
    dataset_name=st.none() | ids,
    dataset_digest=st.none() | ids,
    model_id=st.none() | ids,
    step_models=st.dictionaries(
        st.integers(-(2**63), 2**63 - 1), st.lists(ids, min_size=1, max_size=3).map(tuple)
    ),
)


class TestMlflowsRule:
    def test_the_model_named_for_the_dataset_wins(self):
        link = link_for(model_id="m-named", active_model_id="m-active", outputs=[("m-out", 0)])
        assert link == PointLink(model_id="m-named")
        assert link.models_at(0) == link.models_at(7) == ("m-named",)

    def test_else_the_active_model_links_every_point(self):
        link = link_for(active_model_id="m-active", outputs=[("m-out", 0)])
        assert link.models_at(0) == link.models_at(3) == ("m-active",)

    def test_else_each_model_output_at_the_points_step(self):
        link = link_for(outputs=[("m-a", 0), ("m-b", 0), ("m-c", 2), ("m-a", 0)])
        assert link.models_at(0) == ("m-a", "m-b")
        assert link.models_at(2) == ("m-c",)
        assert link.models_at(1) == (None,)

    def test_the_data_links_whatever_the_model(self):
        link = link_for(dataset=("test_split", "0123456789abcdef"))
        assert (link.dataset_name, link.dataset_digest) == ("test_split", "0123456789abcdef")
        assert link.models_at(0) == (None,)
        assert not link.empty

    def test_nothing_in_play_is_no_link(self):
        assert link_for() == NO_LINK
        assert NO_LINK.empty


class TestRecord:
    @given(links)
    def test_any_link_comes_back_from_its_record(self, link):
        back = PointLink.from_record(link.as_record())
        assert back is not None
        if link.dataset_name is None:  # a digest without a name is not a dataset link
            link = PointLink(None, None, link.model_id, link.step_models)
        assert back == link

    def test_only_the_fields_set_are_written(self):
        assert PointLink(model_id="m-1").as_record() == {"model_id": "m-1"}
        assert PointLink("data", "d1", step_models={0: ("m-1",)}).as_record() == {
            "dataset_name": "data",
            "dataset_digest": "d1",
            "step_models": [[0, ["m-1"]]],
        }

    @pytest.mark.parametrize(
        "record",
        [
            [],
            "m-1",
            {"model": "m-1"},
            {"model_id": 3},
            {"dataset_name": ["x"]},
            {"step_models": {"0": ["m"]}},
            {"step_models": [[0, []]]},
            {"step_models": [[True, ["m"]]]},
            {"step_models": [["0", ["m"]]]},
            {"step_models": [[0, [1]]]},
            {"step_models": [[0, ["m"], 1]]},
        ],
    )
    def test_anything_else_is_not_a_link(self, record):
        assert PointLink.from_record(record) is None
