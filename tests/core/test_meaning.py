"""meaning.py: declarations (globs, precedence, validation), formats, the recorded
meaning of a run, and how readers resolve a key's meaning."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.config import MetricsConfig
from kedro_metrics.errors import ConfigError
from kedro_metrics.meaning import (
    DIRECTIONS,
    MEANING_TAG,
    PERCENT,
    RAW,
    SUMMARIES,
    SUMMARIES_TAG,
    UNDECLARED,
    Declarations,
    Meaning,
    RunMeaning,
    meaning_tags,
    recorded_meanings,
    summary_base,
    summary_keys,
)

SOURCE = "conf/base/metrics.yml"
EXAMPLE = {
    "*accuracy*": {"direction": "max", "format": "percent"},
    "*loss*": {"direction": "min", "format": ".4f", "summary": ["min", "last"]},
    "*.f1": {"direction": "max"},
}


def declarations(data=EXAMPLE):
    return Declarations.parse(data, source=SOURCE)


class TestGlobs:
    """The first glob matching the full key, in file order, gives the whole meaning."""

    def test_first_match_wins_in_file_order(self):
        found = declarations({"model.*": {"direction": "max"}, "*loss*": {"direction": "min"}})
        assert found.for_key("model.loss") == Meaning(direction="max")
        assert found.for_key("eval.loss") == Meaning(direction="min")

    def test_settings_are_never_merged_across_globs(self):
        found = declarations({"*loss": {"format": ".2f"}, "model.*": {"direction": "min"}})
        assert found.for_key("model.loss") == Meaning(format=".2f")

    def test_matching_is_case_sensitive_over_the_whole_key(self):
        found = declarations({"*Accuracy": {"direction": "max"}, "acc": {"direction": "max"}})
        assert found.for_key("m.accuracy") is None
        assert found.for_key("m.acc") is None
        assert found.for_key("acc") == Meaning(direction="max")

    def test_star_crosses_dots(self):
        assert declarations().for_key("model.per_class.cat.f1") == Meaning(direction="max")

    def test_catalog_entries_win_over_metrics_yml(self):
        catalog = Declarations.parse({"loss": {"direction": "max"}}, source="catalog").under("m")
        combined = catalog.then(declarations())
        assert combined.for_key("m.loss") == Meaning(direction="max")
        assert combined.for_key("other.loss") == EXAMPLE_LOSS

    def test_under_prefixes_names_relative_to_a_dataset(self):
        catalog = Declarations.parse({"*": {"direction": "min"}}, source="catalog")
        assert catalog.under("eval").for_key("eval.x") == Meaning(direction="min")
        assert catalog.under("eval").for_key("model.x") is None
        assert catalog.under("") is catalog

    def test_metrics_yml_key_parses_into_the_config(self):
        config = MetricsConfig.parse({"metrics": EXAMPLE}, source=SOURCE)
        assert config.metrics == declarations()
        assert not MetricsConfig.parse({}, source=SOURCE).metrics


EXAMPLE_LOSS = Meaning(direction="min", format=".4f", summary=("min", "last"))


class TestValidation:
    """Unknown settings and bad values are ConfigErrors naming setting, glob and file."""

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (
                {"*loss*": {"directon": "min"}},
                "Unknown setting 'directon' for '*loss*' in conf/base/metrics.yml; a metric "
                "accepts: direction, format, summary.",
            ),
            (
                {"*loss*": {"direction": "down"}},
                "'direction' for '*loss*' in conf/base/metrics.yml must be max (higher is "
                "better) or min, got 'down'.",
            ),
            (
                {"*loss*": {"format": ".4q"}},
                "'format' for '*loss*' in conf/base/metrics.yml must be percent, raw or a Python "
                "format spec such as '.4f', got '.4q'.",
            ),
            (
                {"*loss*": {"format": 4}},
                "'format' for '*loss*' in conf/base/metrics.yml must be percent, raw or a Python "
                "format spec such as '.4f', got 4.",
            ),
            (
                {"*loss*": {"summary": ["min", "median"]}},
                "Unknown summary 'median' for '*loss*' in conf/base/metrics.yml; summaries are: "
                "min, max, mean, best, first, last.",
            ),
            (
                {"*loss*": {"summary": "best"}},
                "'summary: best' for '*loss*' in conf/base/metrics.yml needs a 'direction' (max "
                "or min) to know what best is.",
            ),
            (
                {"*loss*": "min"},
                "The settings for '*loss*' in conf/base/metrics.yml must be a mapping of "
                "direction, format, summary, got 'min'.",
            ),
            (
                ["*loss*"],
                "'metrics' in conf/base/metrics.yml must map metric key globs to settings such "
                "as {'*loss*': {'direction': 'min'}}, got ['*loss*'].",
            ),
        ],
    )
    def test_message(self, data, message):
        with pytest.raises(ConfigError) as caught:
            MetricsConfig.parse({"metrics": data}, source=SOURCE)
        assert str(caught.value) == message

    def test_a_single_summary_may_be_a_string_and_repeats_collapse(self):
        found = declarations(
            {"x": {"direction": "min", "summary": "best"}, "y": {"summary": ["min", "min"]}}
        )
        assert found.for_key("x").summary == ("best",)
        assert found.for_key("y").summary == ("min",)


class TestFormats:
    """Tables show values in the declared format; changes are signed in it."""

    @pytest.mark.parametrize(
        ("meaning", "value", "shown", "change", "signed"),
        [
            (Meaning(format="percent"), 0.928, "92.80%", 0.128, "+12.80%"),
            (Meaning(format="percent"), 0.5, "50.00%", -0.015, "-1.50%"),
            (Meaning(), 0.0353225, "0.0353225", 0.0353225, "+0.0353225"),
            (Meaning(format=".4f"), 0.123456, "0.1235", -0.01, "-0.0100"),
            (Meaning(format=">10.2f"), 1.5, "      1.50", 1.5, "     +1.50"),
            (Meaning(format="x<8.1e"), 1234.0, "1.2e+03x", 1.0, "+1.0e+00"),
            (Meaning(format=" .3g"), 2.0, " 2", -2.0, "-2"),
        ],
    )
    def test_value_and_change(self, meaning, value, shown, change, signed):
        assert (meaning.show(value), meaning.show_change(change)) == (shown, signed)

    def test_missing_values_are_dashes(self):
        assert (UNDECLARED.show(None), UNDECLARED.show_change(None)) == ("-", "-")

    @given(st.floats(allow_nan=False, allow_infinity=False, width=64))
    def test_percent_never_scales_what_is_stored_only_what_is_shown(self, value):
        assert Meaning(format="percent").show(value) == f"{value * 100:.2f}%"

    @given(st.sampled_from([".4f", ".2e", "+.3g", ">12.1f", ",.2f", "08.3f"]), st.floats(width=32))
    def test_every_valid_spec_shows_every_float(self, spec, value):
        meaning = Meaning(format=spec)
        assert meaning.show(value) == format(value, spec)
        assert meaning.show_change(value).lstrip(" 0")[:1] in "+-ni"  # nan, inf keep a sign


class TestBetter:
    """A change is better or worse by the direction; None without one or a change."""

    @pytest.mark.parametrize(
        ("direction", "change", "better"),
        [
            ("max", 0.1, True), ("max", -0.1, False), ("min", -0.1, True), ("min", 0.1, False),
            ("max", 0.0, None), ("min", None, None), (None, 0.1, None), ("max", math.nan, None),
        ],
    )  # fmt: skip
    def test_better(self, direction, change, better):
        assert Meaning(direction=direction).better(change) is better


class TestRecordedMeaning:
    """A run's meaning tags round-trip, continued in numbered tags past the length limit."""

    def test_round_trip(self):
        meanings = {"m.loss": EXAMPLE_LOSS, "m.acc": Meaning(direction="max", format="percent")}
        tags = meaning_tags(meanings, limit=8000)
        assert tags == {
            MEANING_TAG: '{"m.acc":{"direction":"max","format":"percent","summary":[]},'
            '"m.loss":{"direction":"min","format":".4f","summary":["min","last"]}}'
        }
        assert recorded_meanings(tags) == meanings

    def test_long_text_continues_in_numbered_tags(self):
        meanings = {f"model.metric_{i}": EXAMPLE_LOSS for i in range(40)}
        tags = meaning_tags(meanings, limit=500)
        assert len(tags) > 1
        assert list(tags) == [MEANING_TAG, *(f"{MEANING_TAG}.{i}" for i in range(1, len(tags)))]
        assert all(len(value) <= 500 for value in tags.values())
        assert recorded_meanings(tags) == meanings

    @pytest.mark.parametrize(
        "tags",
        [{}, {MEANING_TAG: "not json"}, {MEANING_TAG: "[1]"}, {f"{MEANING_TAG}.1": "{}"}],
    )
    def test_nothing_readable_is_no_meaning(self, tags):
        assert recorded_meanings(tags) == {}

    def test_a_bad_entry_is_left_out_and_the_rest_kept(self):
        text = json.dumps({"a": {"direction": "up"}, "b": {"direction": "min"}, "c": 3})
        assert recorded_meanings({MEANING_TAG: text}) == {"b": Meaning(direction="min")}


MEANINGS = st.builds(
    Meaning,
    direction=st.sampled_from(DIRECTIONS),
    format=st.sampled_from([RAW, PERCENT, ".4f", "+.2e"]),
    summary=st.lists(st.sampled_from(SUMMARIES), unique=True).map(tuple),
) | st.builds(Meaning, format=st.sampled_from([RAW, ".1f"]))


class TestDeclarationsAsJson:
    """A spooled run keeps its declarations as JSON; ``parse`` reads them back whole."""

    def test_the_example_round_trips_in_order(self):
        data = json.loads(json.dumps(declarations().as_json()))
        assert list(data) == list(EXAMPLE)
        assert Declarations.parse(data, source="the spool") == declarations()

    @given(st.dictionaries(st.text(min_size=1, max_size=8), MEANINGS, max_size=6))
    def test_any_declarations_round_trip(self, entries):
        found = Declarations(tuple(entries.items()))
        data = json.loads(json.dumps(found.as_json()))
        assert Declarations.parse(data, source="the spool") == found


class TestRunMeaning:
    """Readers use the run's recorded meaning, then the current declarations; a summary
    key takes its base key's direction and format."""

    def test_recorded_before_current(self):
        tags = meaning_tags({"m.loss": Meaning(direction="max")}, limit=8000)
        meaning = RunMeaning.of(tags, declarations())
        assert meaning("m.loss") == Meaning(direction="max")
        assert meaning("m.accuracy") == Meaning(direction="max", format="percent")
        assert meaning("undeclared") is UNDECLARED

    def test_summary_keys_take_their_base_direction_and_format(self):
        tags = {SUMMARIES_TAG: '["m.loss.min"]'}
        meaning = RunMeaning.of(tags, declarations())
        assert meaning("m.loss.min") == Meaning(direction="min", format=".4f")
        # not listed: an ordinary key, matched by the globs itself
        assert meaning("m.loss.max") == EXAMPLE_LOSS

    def test_summary_keys_tag(self):
        assert summary_keys({SUMMARIES_TAG: '["a.min", "b.best"]'}) == {"a.min", "b.best"}
        assert summary_keys({SUMMARIES_TAG: "{}"}) == frozenset()
        assert summary_keys({SUMMARIES_TAG: "nope"}) == frozenset()
        assert summary_base("a.min", {"a.min"}) == "a"
        assert summary_base("a.median", {"a.median"}) is None
        assert summary_base("a.min", set()) is None
