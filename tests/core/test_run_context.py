"""kedro_metrics.run_context: params, standard tags and run names of a run."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.run_context import (
    GitState,
    Params,
    StandardTagNames,
    flatten_params,
    param_text,
    run_name,
    shortened,
    standard_tags,
)
from tests import strategies

NAMES = StandardTagNames(
    user="mlflow.user",
    source_name="mlflow.source.name",
    source_type="mlflow.source.type",
    git_commit="mlflow.source.git.commit",
    git_branch="mlflow.source.git.branch",
)
START = datetime(2026, 11, 22, 15, 6, 11, 123456)


class TestFlattenParams:
    """Kedro parameters become flat MLflow params."""

    def test_nested_dicts_are_joined_with_dots(self):
        """Nested mappings flatten with '.', values are str() of the Python value."""
        params = {
            "model_options": {"test_size": 0.2, "random_state": 3, "features": ["a", "b"]},
            "flag": True,
            "none": None,
            "empty": {},
        }
        assert flatten_params(params, max_value_length=6000) == Params(
            {
                "model_options.test_size": "0.2",
                "model_options.random_state": "3",
                "model_options.features": '["a", "b"]',
                "flag": "True",
                "none": "None",
                "empty": "{}",
            }
        )

    def test_too_long_values_are_cut_and_named(self):
        """A value beyond MLflow's limit is cut to it and its name reported."""
        flat = flatten_params({"a": "x" * 11, "b": {"c": "y" * 10}}, max_value_length=10)
        assert flat == Params({"a": "x" * 10, "b.c": "y" * 10}, cut=("a",))

    def test_lists_are_json_text(self):
        """Lists and tuples read as JSON; items JSON cannot encode as their str()."""
        assert param_text([1, 2.5, "a", None]) == '[1, 2.5, "a", null]'
        assert param_text((1, {"k": [2]})) == '[1, {"k": [2]}]'
        assert param_text([START]) == json.dumps([str(START)])

    @given(
        st.recursive(
            st.one_of(st.integers(), st.text(max_size=5), st.floats()),
            lambda c: st.dictionaries(strategies.metric_names, c, min_size=1, max_size=3),
            max_leaves=10,
        ).filter(lambda p: isinstance(p, dict)),
        st.integers(min_value=1, max_value=20),
    )
    def test_every_leaf_once_within_the_limit(self, params, limit):
        """Every leaf appears once under its dotted path, as its str() cut to the limit."""
        expected = {}

        def walk(tree, prefix):
            for name, value in tree.items():
                key = f"{prefix}.{name}" if prefix else name
                if isinstance(value, dict):
                    walk(value, key)
                else:
                    expected[key] = str(value)

        walk(params, "")
        flat = flatten_params(params, max_value_length=limit)
        assert flat.values == {k: v[:limit] for k, v in expected.items()}
        assert set(flat.cut) == {k for k, v in expected.items() if len(v) > limit}


class TestStandardTags:
    """MLflow's standard tags plus the plugin's own."""

    def test_in_a_git_repository(self):
        """User, source, git commit, branch and dirtiness, versions."""
        tags = standard_tags(
            NAMES,
            user="ada",
            package_name="spaceflights",
            git=GitState("abc123", "main", dirty=True),
            kedro_version="1.0.0",
            plugin_version="0.1.0",
        )
        assert tags == {
            "mlflow.user": "ada",
            "mlflow.source.name": "spaceflights",
            "mlflow.source.type": "PROJECT",
            "mlflow.source.git.commit": "abc123",
            "mlflow.source.git.branch": "main",
            "kedro_metrics.git_dirty": "true",
            "kedro.version": "1.0.0",
            "kedro_metrics.version": "0.1.0",
        }

    def test_without_git_or_user(self):
        """No git: no git tags; no user: no user tag; detached HEAD: no branch."""
        assert standard_tags(
            NAMES, user=None, package_name="p", git=None, kedro_version="1", plugin_version="2"
        ) == {
            "mlflow.source.name": "p",
            "mlflow.source.type": "PROJECT",
            "kedro.version": "1",
            "kedro_metrics.version": "2",
        }
        detached = standard_tags(
            NAMES,
            user=None,
            package_name="p",
            git=GitState("c", None, dirty=False),
            kedro_version="1",
            plugin_version="2",
        )
        assert "mlflow.source.git.branch" not in detached
        assert detached["kedro_metrics.git_dirty"] == "false"


class TestRunName:
    """Run names: a template, or the pipelines and the start time."""

    @pytest.mark.parametrize(
        ("pipelines", "expected"),
        [
            (None, "__default__ 2026-11-22 15:06:11"),
            ([], "__default__ 2026-11-22 15:06:11"),
            (["data", "training"], "data+training 2026-11-22 15:06:11"),
        ],
    )
    def test_default_is_pipelines_and_start_time(self, pipelines, expected):
        """Without a template: pipeline names joined with '+', then the start time."""
        assert (
            run_name(None, pipelines=pipelines, env="local", session_id="s", start_time=START)
            == expected
        )

    def test_template_fields(self):
        """Every field of a template is filled in."""
        name = run_name(
            "{pipeline}/{env}/{session_id}/{start_time} {{x}}",
            pipelines=["a"],
            env="prod",
            session_id="2026-11-22T15.06.11.123Z",
            start_time=START,
        )
        assert name == "a/prod/2026-11-22T15.06.11.123Z/2026-11-22 15:06:11 {x}"

    def test_start_time_takes_a_strftime_format(self):
        """{start_time:...} formats the start time; {start_time} alone stays the default."""
        name = run_name(
            "{start_time:%Y%m%d-%H%M} ({start_time})",
            pipelines=None,
            env="local",
            session_id="s",
            start_time=START,
        )
        assert name == "20261122-1506 (2026-11-22 15:06:11)"

    def test_two_start_times_give_two_names(self):
        """Runs started a second apart are named apart."""
        names = {
            run_name(
                None,
                pipelines=None,
                env="local",
                session_id="s",
                start_time=START.replace(second=s),
            )
            for s in (11, 12)
        }
        assert len(names) == 2


class TestShortened:
    def test_short_and_long(self):
        """Short text is its repr; long text is cut to the limit with an ellipsis."""
        assert shortened("abc") == "'abc'"
        assert shortened("x" * 100, limit=10) == "'xxxxx...'"
        assert len(shortened("x" * 100)) == 60
