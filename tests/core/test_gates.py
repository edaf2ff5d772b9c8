"""gates.py and verdict.py: metrics.yml ``gates``/``baseline``/``check`` and the verdict of a check
(records in, verdict out): every rule, its limit and reason, entry order, verdicts."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from kedro_metrics.config import MetricsConfig
from kedro_metrics.errors import ConfigError
from kedro_metrics.gates import (
    OFF,
    SKIPPED,
    CheckSettings,
    Gate,
    Gates,
    Noise,
    Rule,
    computed_summaries,
    needed_keys,
    sample_size,
)
from kedro_metrics.meaning import UNDECLARED, Declarations
from kedro_metrics.verdict import Entry, Verdict, evaluate, verdict_document

NAN, INF = math.nan, math.inf
SOURCE = "conf/base/metrics.yml"
DECLARED = Declarations.parse(
    {
        "*accuracy*": {"direction": "max"},
        "*auc*": {"direction": "max"},
        "*loss*": {"direction": "min"},
        "m.score": {"direction": "max"},
        "m.width": {"format": ".2f"},
    },
    source=SOURCE,
)
SPEC = """
gates:
  "model_metrics.accuracy": {min: 0.85, max_drop: 0.01}
  "model_metrics.loss":     {max_drop_pct: 5}
  "*.f1":                   {required: true, min: 0.5}
  "model_metrics.auc":      {noise: {runs: 5, sigmas: 2}}
"""


def parse(data, declarations=DECLARED) -> Gates:
    return Gates.parse(data, declarations=declarations, source=SOURCE)


def meaning(key):
    return DECLARED.for_key(key) or UNDECLARED


def check(data, run, baseline=None, *, sample=(), summary_keys=frozenset()) -> Verdict:
    return evaluate(
        parse(data),
        run_values=run,
        run_summary_keys=summary_keys,
        baseline_values=baseline,
        sample=sample,
        meaning=meaning,
    )


def one(key, rules, value, baseline=None, *, sample=()) -> Entry:
    """The single entry of one rule on one key."""
    run = {} if value is None else {key: value}
    base = None if baseline is None else ({} if baseline == "missing" else {key: baseline})
    (entry,) = check({key: rules}, run, base, sample=sample).entries
    return entry


def config_error(data, declarations=DECLARED) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(data, declarations)
    return caught.value


class TestParse:
    def test_the_spec_example(self):
        gates = parse(yaml.safe_load(SPEC)["gates"])
        assert [gate.key for gate in gates] == [
            "model_metrics.accuracy",
            "model_metrics.loss",
            "*.f1",
            "model_metrics.auc",
        ]
        assert [[rule.text for rule in gate.rules] for gate in gates] == [
            ["min: 0.85", "max_drop: 0.01"],
            ["max_drop_pct: 5"],
            ["required: true", "min: 0.5"],
            ["noise: {runs: 5, sigmas: 2}"],
        ]
        assert gates.gates[0] == Gate(
            "model_metrics.accuracy", (Rule("min", 0.85), Rule("max_drop", 0.01))
        )
        assert gates.gates[3].rules == (Rule("noise", Noise(runs=5, sigmas=2)),)
        assert [gate.is_glob for gate in gates] == [False, False, True, False]
        assert [gate.required for gate in gates] == [False, False, True, False]

    @pytest.mark.parametrize(
        ("rules", "texts"),
        [
            ({"max": 1}, ["max: 1"]),
            ({"max": 1.0}, ["max: 1.0"]),
            ({"min": -0.5}, ["min: -0.5"]),
            ({"max_drop": 0}, ["max_drop: 0"]),
            ({"max_drop_pct": 2.5}, ["max_drop_pct: 2.5"]),
            ({"noise": {"sigmas": 1.5, "runs": 3}}, ["noise: {runs: 3, sigmas: 1.5}"]),
            ({"required": False}, ["required: false"]),
            ({"max": 2, "min": 1}, ["max: 2", "min: 1"]),
        ],
    )
    def test_rule_texts_are_yaml_flow_style_in_written_order(self, rules, texts):
        (gate,) = parse({"m.loss": rules})
        assert [rule.text for rule in gate.rules] == texts

    @pytest.mark.parametrize("data", [None, {}])
    def test_no_gates(self, data):
        assert parse(data) == Gates()
        assert not parse(data)
        assert len(parse(data)) == 0

    def test_a_glob_needs_no_direction(self):
        """Undirected keys a glob matches are undecided when the check runs instead."""
        (gate,) = parse({"*.width": {"max_drop": 1, "noise": {"runs": 2, "sigmas": 1}}})
        assert gate.is_glob

    def test_a_summary_key_takes_its_base_keys_direction(self):
        declarations = Declarations.parse({"m.acc": {"direction": "max"}}, source=SOURCE)
        (gate,) = parse({"m.acc.best": {"max_drop": 0.1}}, declarations)
        assert gate.key == "m.acc.best"

    def test_gates_are_frozen(self):
        import dataclasses

        with pytest.raises(dataclasses.FrozenInstanceError):
            parse({"m.loss": {"max": 1}}).gates = ()  # type: ignore[misc]


class TestParseErrors:
    """Every ConfigError names the gate's key, the rule and the file."""

    @pytest.mark.parametrize(
        ("rules", "rule", "says"),
        [
            ({"minimum": 1}, "minimum", "Unknown rule"),
            ({"min": "0.8"}, "min", "a finite number"),
            ({"min": True}, "min", "a finite number"),
            ({"max": None}, "max", "a finite number"),
            ({"min": NAN}, "min", "a finite number"),
            ({"max": INF}, "max", "a finite number"),
            ({"max": -INF}, "max", "a finite number"),
            ({"max_drop": -0.1}, "max_drop", "a number >= 0"),
            ({"max_drop": False}, "max_drop", "a number >= 0"),
            ({"max_drop": INF}, "max_drop", "a number >= 0"),
            ({"max_drop_pct": NAN}, "max_drop_pct", "a number >= 0"),
            ({"max_drop_pct": -5}, "max_drop_pct", "a number >= 0"),
            ({"max_drop_pct": "5%"}, "max_drop_pct", "a number >= 0"),
            ({"noise": 2}, "noise", "{runs: N, sigmas: K}"),
            ({"noise": {"runs": 5}}, "noise", "{runs: N, sigmas: K}"),
            ({"noise": {"runs": 5, "sigmas": 2, "window": 1}}, "noise", "{runs: N, sigmas: K}"),
            ({"noise": {"runs": 1, "sigmas": 2}}, "noise", "'runs' must be an integer >= 2"),
            ({"noise": {"runs": 2.5, "sigmas": 2}}, "noise", "'runs' must be an integer"),
            ({"noise": {"runs": True, "sigmas": 2}}, "noise", "'runs' must be an integer"),
            ({"noise": {"runs": 3, "sigmas": 0}}, "noise", "'sigmas' must be a number > 0"),
            ({"noise": {"runs": 3, "sigmas": -1}}, "noise", "'sigmas' must be a number > 0"),
            ({"noise": {"runs": 3, "sigmas": NAN}}, "noise", "'sigmas' must be a number > 0"),
            ({"noise": {"runs": 3, "sigmas": True}}, "noise", "'sigmas' must be a number > 0"),
            ({"required": "yes"}, "required", "true or false"),
            ({"required": 1}, "required", "true or false"),
            ({"required": None}, "required", "true or false"),
            ({"min": 2, "max": 1}, "min", "above its 'max'"),
        ],
    )
    def test_bad_rules(self, rules, rule, says):
        error = config_error({"m.loss": rules})
        assert error.key == "gates"
        message = str(error)
        assert "'m.loss'" in message
        assert repr(rule) in message
        assert SOURCE in message
        assert says in message

    @pytest.mark.parametrize("rules", [{}, None, [], "min: 1", ["min", 1]])
    def test_a_gate_without_rules(self, rules):
        error = config_error({"m.loss": rules})
        assert error.key == "gates"
        assert "'m.loss'" in str(error)
        assert SOURCE in str(error)
        assert "mapping of rules" in str(error)

    @pytest.mark.parametrize("data", [["m.loss"], "m.loss", 5])
    def test_gates_not_a_mapping(self, data):
        error = config_error(data)
        assert error.key == "gates"
        assert "'gates'" in str(error)
        assert SOURCE in str(error)

    @pytest.mark.parametrize("key", ["", 5, None])
    def test_a_bad_gate_key(self, key):
        error = config_error({key: {"min": 1}})
        assert repr(key) in str(error)
        assert SOURCE in str(error)

    @pytest.mark.parametrize(
        "rules",
        [
            {"max_drop": 0.1},
            {"max_drop_pct": 5},
            {"noise": {"runs": 3, "sigmas": 2}},
            {"min": 1, "max_drop": 0.1},
        ],
    )
    @pytest.mark.parametrize("key", ["m.width", "m.undeclared", "m.width.best"])
    def test_a_baseline_rule_on_a_key_without_direction(self, key, rules):
        """``m.width`` is declared (a format, no direction); ``m.undeclared`` is not."""
        error = config_error({key: rules})
        message = str(error)
        assert error.key == "gates"
        assert repr(key) in message
        assert repr(next(name for name in rules if name != "min")) in message
        assert SOURCE in message
        assert "declare 'direction'" in message
        assert "under 'metrics:'" in message

    def test_bounds_need_no_direction(self):
        (gate,) = parse({"m.undeclared": {"min": 0, "max": 1, "required": True}})
        assert [rule.name for rule in gate.rules] == ["min", "max", "required"]


class TestMetricsConfig:
    """metrics.yml ``gates``, ``baseline`` and ``check`` in MetricsConfig."""

    def parse(self, data) -> MetricsConfig:
        return MetricsConfig.parse(data, source=SOURCE)

    def error(self, data) -> ConfigError:
        with pytest.raises(ConfigError) as caught:
            self.parse(data)
        return caught.value

    def test_defaults(self):
        config = self.parse({})
        assert config.gates == Gates()
        assert config.baseline is None
        assert config.check == CheckSettings(on_run_end=OFF)

    def test_the_spec_example(self):
        text = (
            SPEC
            + 'baseline: "branch:main"\ncheck: {on_run_end: warn}\n'
            + "metrics:\n  '*accuracy*': {direction: max}\n  '*loss*': {direction: min}\n"
            + "  '*auc*': {direction: max}\n"
        )
        config = self.parse(yaml.safe_load(text))
        assert len(config.gates) == 4
        assert config.baseline == "branch:main"
        assert config.check.on_run_end == "warn"

    def test_gates_use_the_files_declarations(self):
        """metrics: is parsed first: the direction it declares satisfies a drop rule."""
        error = self.error({"gates": {"m.acc": {"max_drop": 0.1}}})
        assert "'m.acc'" in str(error)
        assert "declare 'direction'" in str(error)
        config = self.parse(
            {"gates": {"m.acc": {"max_drop": 0.1}}, "metrics": {"m.acc": {"direction": "max"}}}
        )
        assert config.gates.gates[0].key == "m.acc"

    @pytest.mark.parametrize(
        ("text", "chosen"),
        [
            ("check: {on_run_end: off}", "off"),
            ("check: {on_run_end: 'off'}", "off"),
            ("check: {on_run_end: warn}", "warn"),
            ("check: {on_run_end: fail}", "fail"),
            ("check: {}", "off"),
            ("check:", "off"),
        ],
    )
    def test_on_run_end(self, text, chosen):
        """YAML reads a bare ``off`` as false: that is off too."""
        assert self.parse(yaml.safe_load(text)).check.on_run_end == chosen

    @pytest.mark.parametrize(
        ("check", "says"),
        [
            ({"on_run_end": True}, "'check.on_run_end'"),
            ({"on_run_end": "raise"}, "'check.on_run_end'"),
            ({"on_run_end": None}, "'check.on_run_end'"),
            ({"on_run_end": 0}, "'check.on_run_end'"),
            ({"on_end": "fail"}, "Unknown key 'check.on_end'"),
            ("fail", "'check'"),
        ],
    )
    def test_bad_check(self, check, says):
        error = self.error({"check": check})
        assert error.key == "check"
        assert says in str(error)
        assert SOURCE in str(error)

    @pytest.mark.parametrize("baseline", ["", "  ", 5, ["main"], True])
    def test_bad_baseline(self, baseline):
        error = self.error({"baseline": baseline})
        assert error.key == "baseline"
        assert "'baseline'" in str(error)
        assert repr(baseline) in str(error)
        assert SOURCE in str(error)

    @pytest.mark.parametrize("baseline", ["latest~1", "branch:main", "abc123def", "tag:x=y~2"])
    def test_a_baseline_is_any_non_empty_string(self, baseline):
        assert self.parse({"baseline": baseline}).baseline == baseline

    def test_unknown_key_lists_the_new_keys(self):
        message = str(self.error({"gate": {}}))
        assert all(key in message for key in ("gates", "baseline", "check"))

    def test_gate_errors_name_the_file(self):
        error = self.error({"gates": {"m.loss": {"min": "x"}}})
        assert error.key == "gates"
        assert SOURCE in str(error)


class TestBounds:
    @pytest.mark.parametrize(
        ("rules", "value", "passed", "reason"),
        [
            ({"min": 0.85}, 0.9, True, None),
            ({"min": 0.85}, 0.85, True, None),
            ({"min": 0.85}, 0.81, False, "0.81 is below the min 0.85"),
            ({"min": 0.85}, -INF, False, "-inf is below the min 0.85"),
            ({"min": 0.85}, INF, True, None),
            ({"max": 1}, 1.0, True, None),
            ({"max": 1}, 1.5, False, "1.5 is above the max 1"),
            ({"max": 1}, -2, True, None),
            ({"min": 0.85}, NAN, False, "the value is NaN"),
            ({"max": 1}, NAN, False, "the value is NaN"),
        ],
    )
    def test_bounds(self, rules, value, passed, reason):
        entry = one("m.width", rules, value)
        assert entry.passed is passed
        assert entry.reason == reason
        assert entry.limit == next(iter(rules.values()))
        assert entry.rule == f"{next(iter(rules))}: {next(iter(rules.values()))}"

    def test_bounds_hold_without_a_baseline_or_direction(self):
        verdict = check({"m.undeclared": {"min": 0, "max": 1}}, {"m.undeclared": 0.5})
        assert [e.passed for e in verdict.entries] == [True, True]
        assert verdict.passed is True

    def test_a_reason_tells_the_value_from_the_limit(self):
        """Six significant digits, or as many more as it takes to differ."""
        assert one("m.loss", {"min": 0.85}, 0.8499999999).reason == (
            "0.8499999999 is below the min 0.85"
        )
        assert one("m.loss", {"max": 1}, 1.0000001234).reason == "1.0000001 is above the max 1"
        assert one("m.loss", {"max": 1e-9}, 2e-9).reason == "2e-09 is above the max 1e-09"

    def test_the_baseline_value_is_shown(self):
        entry = one("m.loss", {"max": 1}, 0.5, 0.75)
        assert (entry.value, entry.baseline, entry.limit) == (0.5, 0.75, 1.0)

    def test_to_dict(self):
        assert one("m.loss", {"max": 1}, 1.5, 0.75).to_dict() == {
            "name": "m.loss",
            "rule": "max: 1",
            "value": 1.5,
            "baseline": 0.75,
            "limit": 1.0,
            "passed": False,
            "reason": "1.5 is above the max 1",
        }


class TestDrops:
    @pytest.mark.parametrize(
        ("key", "rules", "value", "baseline", "limit", "passed"),
        [
            # a max key may fall by max_drop
            ("m.accuracy", {"max_drop": 0.01}, 0.89, 0.9, 0.9 - 0.01, True),
            ("m.accuracy", {"max_drop": 0.01}, 0.95, 0.9, 0.9 - 0.01, True),
            ("m.accuracy", {"max_drop": 0.01}, 0.88, 0.9, 0.9 - 0.01, False),
            ("m.accuracy", {"max_drop": 0}, 0.9, 0.9, 0.9, True),
            ("m.accuracy", {"max_drop": 0}, 0.8999, 0.9, 0.9, False),
            ("m.accuracy", {"max_drop": 0.5}, -0.4, 0, -0.5, True),
            # a min key may rise by max_drop
            ("m.loss", {"max_drop": 0.05}, 0.3, 0.25, 0.25 + 0.05, True),
            ("m.loss", {"max_drop": 0.05}, 0.1, 0.25, 0.25 + 0.05, True),
            ("m.loss", {"max_drop": 0.05}, 0.31, 0.25, 0.25 + 0.05, False),
            # percentages of |baseline|
            ("m.accuracy", {"max_drop_pct": 5}, 0.76, 0.8, 0.76, True),
            ("m.accuracy", {"max_drop_pct": 5}, 0.75, 0.8, 0.76, False),
            ("m.loss", {"max_drop_pct": 10}, 0.22, 0.2, 0.2 + 0.02, True),
            ("m.loss", {"max_drop_pct": 10}, 0.23, 0.2, 0.2 + 0.02, False),
            ("m.score", {"max_drop_pct": 5}, -2.1, -2, -2.1, True),
            ("m.score", {"max_drop_pct": 5}, -2.2, -2, -2.1, False),
            ("m.loss", {"max_drop_pct": 5}, -1.9, -2, -1.9, True),
            ("m.loss", {"max_drop_pct": 5}, -1.8, -2, -1.9, False),
            ("m.loss", {"max_drop_pct": 0}, -2, -2, -2, True),
        ],
    )
    def test_limits(self, key, rules, value, baseline, limit, passed):
        entry = one(key, rules, value, baseline)
        assert entry.limit == pytest.approx(limit, abs=1e-15)
        assert entry.passed is passed
        assert entry.baseline == baseline
        assert (entry.reason is None) is passed

    def test_exactly_at_the_limit_passes(self):
        """The limit is computed once and the value compared with it exactly."""
        entry = one("m.accuracy", {"max_drop": 0.01}, 0.9 - 0.01, 0.9)
        assert entry.limit == 0.9 - 0.01
        assert entry.passed is True
        entry = one("m.loss", {"max_drop_pct": 10}, 0.2 + 0.2 * 10 / 100, 0.2)
        assert entry.passed is True

    def test_reasons(self):
        assert one("m.accuracy", {"max_drop": 0.01}, 0.87, 0.9).reason == (
            "0.87 is below 0.89, the baseline 0.9 minus the max_drop 0.01"
        )
        assert one("m.loss", {"max_drop": 0.05}, 0.5, 0.25).reason == (
            "0.5 is above 0.3, the baseline 0.25 plus the max_drop 0.05"
        )
        assert one("m.accuracy", {"max_drop_pct": 5}, 0.5, 0.8).reason == (
            "0.5 is below 0.76, the baseline 0.8 minus 5%"
        )

    @pytest.mark.parametrize("rules", [{"max_drop": 0.1}, {"max_drop_pct": 5}])
    @pytest.mark.parametrize(
        ("baseline", "says"),
        [
            (None, "no baseline run"),
            ("missing", "m.loss is not in the baseline run"),
            (NAN, "the baseline value of m.loss is nan"),
            (INF, "the baseline value of m.loss is inf"),
        ],
    )
    def test_undecided(self, rules, baseline, says):
        entry = one("m.loss", rules, 0.5, baseline)
        assert entry.passed is None
        assert entry.undecided
        assert entry.limit is None
        assert entry.reason == says

    def test_a_zero_baseline_leaves_a_percentage_undecided(self):
        entry = one("m.loss", {"max_drop_pct": 5}, 0.5, 0.0)
        assert entry.passed is None
        assert entry.reason.startswith("the baseline value of m.loss is 0")
        assert one("m.loss", {"max_drop_pct": 5}, 0.5, -0.0).passed is None

    def test_a_zero_baseline_decides_an_absolute_drop(self):
        assert one("m.loss", {"max_drop": 0.1}, 0.1, 0.0).passed is True
        assert one("m.loss", {"max_drop": 0.1}, 0.2, 0.0).passed is False

    @pytest.mark.parametrize("rules", [{"max_drop": 0.1}, {"max_drop_pct": 5}])
    @pytest.mark.parametrize("baseline", [0.5, None, NAN, 0.0])
    def test_a_nan_value_fails_with_or_without_a_baseline(self, rules, baseline):
        entry = one("m.loss", rules, NAN, baseline)
        assert entry.passed is False
        assert entry.reason == "the value is NaN"
        assert entry.to_dict()["value"] is None

    def test_a_glob_key_without_direction_is_undecided(self):
        verdict = check({"m.w*": {"max_drop": 0.1}}, {"m.width": 1.0}, {"m.width": 1.0})
        (entry,) = verdict.entries
        assert entry.passed is None
        assert entry.reason == (
            "m.width has no direction: declare 'direction' (max or min) for it under 'metrics:'"
        )
        assert verdict.passed is None


class TestNoise:
    SAMPLE = ({"m.auc": 0.90}, {"m.auc": 0.92}, {"m.auc": 0.94})
    RULE = {"noise": {"runs": 5, "sigmas": 2}}

    def test_mean_and_sample_sd(self):
        entry = one("m.auc", self.RULE, 0.9, 0.5, sample=self.SAMPLE)
        assert entry.baseline == pytest.approx(0.92)
        assert entry.limit == pytest.approx(0.92 - 2 * 0.02)
        assert entry.passed is True
        assert entry.rule == "noise: {runs: 5, sigmas: 2}"

    def test_worse_than_the_limit_fails(self):
        entry = one("m.auc", self.RULE, 0.87, 0.5, sample=self.SAMPLE)
        assert entry.passed is False
        assert entry.reason == (
            "0.87 is below 0.88, the mean 0.92 of the baseline runs minus 2 standard "
            "deviations of 0.02"
        )

    def test_at_the_limit_passes(self):
        limit = one("m.auc", self.RULE, 0.5, 0.5, sample=self.SAMPLE).limit
        assert one("m.auc", self.RULE, limit, 0.5, sample=self.SAMPLE).passed is True
        below = math.nextafter(limit, -INF)
        assert one("m.auc", self.RULE, below, 0.5, sample=self.SAMPLE).passed is False

    def test_a_min_key(self):
        sample = [{"m.loss": 0.2}, {"m.loss": 0.3}, {"m.loss": 0.4}]  # mean 0.3, sd 0.1
        rules = {"noise": {"runs": 3, "sigmas": 1.5}}
        entry = one("m.loss", rules, 0.3, 0.2, sample=sample)
        assert entry.baseline == pytest.approx(0.3)
        assert entry.limit == pytest.approx(0.45)
        assert entry.passed is True
        worse = one("m.loss", rules, 0.46, 0.2, sample=sample)
        assert worse.passed is False
        assert worse.reason == (
            "0.46 is above 0.45, the mean 0.3 of the baseline runs plus 1.5 standard "
            "deviations of 0.1"
        )
        assert one("m.loss", rules, -5.0, 0.2, sample=sample).passed is True

    def test_the_newest_runs_and_only_those_with_the_key(self):
        """runs: N takes the first N of the sample (newest first); runs without the
        key, or with a NaN or infinite value, are left out of it."""
        sample = [{"m.auc": 0.90}, {"other": 1.0}, {"m.auc": NAN}, {"m.auc": 0.94}, {"m.auc": 0.1}]
        entry = one("m.auc", {"noise": {"runs": 4, "sigmas": 1}}, 0.5, 0.5, sample=sample)
        values = [0.90, 0.94]
        assert entry.baseline == statistics.fmean(values)
        assert entry.limit == statistics.fmean(values) - statistics.stdev(values)

    def test_a_zero_spread(self):
        sample = [{"m.auc": 0.9}, {"m.auc": 0.9}]
        assert one("m.auc", self.RULE, 0.9, 0.9, sample=sample).passed is True
        assert one("m.auc", self.RULE, 0.8999, 0.9, sample=sample).passed is False

    @pytest.mark.parametrize(
        "sample", [(), ({"m.auc": 0.9},), ({"m.auc": 0.9}, {"x": 1}, {"m.auc": NAN})]
    )
    def test_fewer_than_two_values_is_undecided(self, sample):
        entry = one("m.auc", self.RULE, 0.9, 0.9, sample=sample)
        assert entry.passed is None
        assert entry.limit is None
        assert "noise needs 2" in entry.reason
        assert "of the 5 newest baseline runs" in entry.reason

    def test_no_baseline_run_is_undecided(self):
        entry = one("m.auc", self.RULE, 0.9, None, sample=self.SAMPLE)
        assert (entry.passed, entry.reason, entry.limit) == (None, "no baseline run", None)

    def test_a_nan_value_fails(self):
        entry = one("m.auc", self.RULE, NAN, 0.9, sample=self.SAMPLE)
        assert (entry.passed, entry.reason) == (False, "the value is NaN")


class TestRequired:
    def test_a_missing_required_key_fails_each_rule(self):
        verdict = check({"m.loss": {"required": True, "max": 1, "max_drop": 0.1}}, {}, {})
        assert [e.to_dict() for e in verdict.entries] == [
            {
                "name": "m.loss",
                "rule": rule,
                "value": None,
                "baseline": None,
                "limit": None,
                "passed": False,
                "reason": "m.loss is not in the run (required)",
            }
            for rule in ("max: 1", "max_drop: 0.1")
        ]
        assert verdict.passed is False

    def test_required_alone(self):
        missing = one("m.loss", {"required": True}, None)
        assert (missing.rule, missing.passed, missing.limit) == ("required: true", False, None)
        present = one("m.loss", {"required": True}, 0.5, 0.4)
        assert (present.rule, present.passed, present.limit, present.reason) == (
            "required: true",
            True,
            None,
            None,
        )
        assert (present.value, present.baseline) == (0.5, 0.4)
        assert one("m.loss", {"required": True}, NAN).passed is True

    def test_required_false_alone(self):
        """``{required: false}`` alone: one entry, passed when the key is there,
        skipped when not."""
        present = one("m.loss", {"required": False}, 0.5)
        assert (present.rule, present.passed) == ("required: false", True)
        missing = one("m.loss", {"required": False}, None)
        assert missing.passed is None
        assert missing.skipped
        assert missing.reason == "skipped: m.loss is not in the run"

    @pytest.mark.parametrize("rules", [{"max": 1, "min": 0}, {"required": False, "max": 1}])
    def test_a_missing_key_not_required_is_skipped(self, rules):
        verdict = check({"m.loss": rules}, {"m.accuracy": 0.5}, {"m.loss": 1.0})
        assert all(e.passed is None for e in verdict.entries)
        assert all(e.reason == f"{SKIPPED} m.loss is not in the run" for e in verdict.entries)
        assert len(verdict.entries) == len([r for r in rules if r != "required"])
        assert all(e.skipped and not e.undecided for e in verdict.entries)
        assert verdict.passed is True

    def test_required_with_other_rules_gives_no_entry_of_its_own(self):
        verdict = check({"m.loss": {"max": 1, "required": True}}, {"m.loss": 0.5})
        assert [e.rule for e in verdict.entries] == ["max: 1"]


class TestGlobs:
    RUN = {"b.f1": 0.7, "a.f1": 0.4, "c.f1.min": 0.1, "c.f1": 0.9, "d.loss": 1.0}

    def test_a_globs_keys_sorted_without_summary_keys(self):
        verdict = check({"*.f1*": {"min": 0.5}}, self.RUN, summary_keys={"c.f1.min"})
        assert [(e.name, e.passed) for e in verdict.entries] == [
            ("a.f1", False),
            ("b.f1", True),
            ("c.f1", True),
        ]

    def test_a_summary_key_by_its_exact_name(self):
        verdict = check({"c.f1.min": {"min": 0.5}}, self.RUN, summary_keys={"c.f1.min"})
        assert [(e.name, e.passed) for e in verdict.entries] == [("c.f1.min", False)]

    def test_a_required_glob_matching_nothing_fails_once(self):
        verdict = check({"*.auc": {"required": True, "min": 0.5, "max": 1}}, self.RUN)
        assert [e.to_dict() for e in verdict.entries] == [
            {
                "name": "*.auc",
                "rule": "required: true",
                "value": None,
                "baseline": None,
                "limit": None,
                "passed": False,
                "reason": "no key of the run matches '*.auc' (required)",
            }
        ]

    def test_a_required_glob_matching_only_summary_keys_fails(self):
        verdict = check({"*.min": {"required": True}}, self.RUN, summary_keys={"c.f1.min"})
        assert verdict.passed is False

    def test_a_glob_matching_nothing_is_skipped(self):
        verdict = check({"*.auc": {"min": 0.5, "max": 1}}, self.RUN)
        assert [(e.name, e.rule, e.passed, e.reason) for e in verdict.entries] == [
            ("*.auc", rule, None, "skipped: no key of the run matches '*.auc'")
            for rule in ("min: 0.5", "max: 1")
        ]
        assert verdict.passed is True

    def test_each_key_gets_each_rule_in_order(self):
        verdict = check(
            {"*loss": {"max": 2, "max_drop": 0.5}},
            {"b.loss": 1.0, "a.loss": 3.0},
            {"a.loss": 2.0, "b.loss": 0.1},
        )
        assert [(e.name, e.rule, e.passed) for e in verdict.entries] == [
            ("a.loss", "max: 2", False),
            ("a.loss", "max_drop: 0.5", False),
            ("b.loss", "max: 2", True),
            ("b.loss", "max_drop: 0.5", False),
        ]


class TestOrder:
    def test_the_spec_example(self):
        gates = parse(yaml.safe_load(SPEC)["gates"])
        run = {
            "model_metrics.accuracy": 0.87,
            "model_metrics.loss": 0.2,
            "model_metrics.f1": 0.6,
            "eval.f1": 0.4,
            "model_metrics.auc": 0.95,
        }
        baseline = {"model_metrics.accuracy": 0.9, "model_metrics.loss": 0.2}
        sample = [{"model_metrics.auc": v} for v in (0.90, 0.92, 0.94)]
        verdict = evaluate(
            gates,
            run_values=run,
            baseline_values=baseline,
            sample=sample,
            meaning=meaning,
        )
        assert [(e.name, e.rule, e.passed) for e in verdict.entries] == [
            ("model_metrics.accuracy", "min: 0.85", True),
            ("model_metrics.accuracy", "max_drop: 0.01", False),
            ("model_metrics.loss", "max_drop_pct: 5", True),
            ("eval.f1", "min: 0.5", False),
            ("model_metrics.f1", "min: 0.5", True),
            ("model_metrics.auc", "noise: {runs: 5, sigmas: 2}", True),
        ]
        assert [e.name for e in verdict.failed] == ["model_metrics.accuracy", "eval.f1"]
        assert verdict.passed is False

    def test_a_key_under_two_gates_is_checked_by_both(self):
        verdict = check({"m.loss": {"max": 1}, "*loss": {"min": 0}}, {"m.loss": 0.5})
        assert [(e.name, e.rule) for e in verdict.entries] == [
            ("m.loss", "max: 1"),
            ("m.loss", "min: 0"),
        ]


class TestVerdict:
    def entry(self, passed, reason=None):
        return Entry("k", "min: 1", 1.0, None, 1.0, passed, reason)

    @pytest.mark.parametrize(
        ("states", "passed"),
        [
            ([], True),
            ([True], True),
            ([True, (None, "skipped: k is not in the run")], True),
            ([(None, "skipped: k is not in the run")], True),
            ([True, (None, "no baseline run")], None),
            ([(None, "no baseline run"), (False, "0 is below the min 1")], False),
            ([False, True], False),
        ],
    )
    def test_failed_beats_undecided_beats_passed(self, states, passed):
        entries = [
            self.entry(*state) if isinstance(state, tuple) else self.entry(state)
            for state in states
        ]
        verdict = Verdict(tuple(entries))
        assert verdict.passed is passed
        assert verdict.failed == tuple(e for e in entries if e.passed is False)

    def test_no_gates_pass(self):
        verdict = evaluate(Gates(), run_values={}, baseline_values=None, meaning=meaning)
        assert verdict == Verdict(())
        assert verdict.passed is True
        assert verdict.to_dict() == []

    def test_undecided_entries(self):
        verdict = check({"m.loss": {"max": 1, "max_drop": 0.1}}, {"m.loss": 0.5}, None)
        assert [e.rule for e in verdict.undecided] == ["max_drop: 0.1"]
        assert verdict.passed is None

    def test_the_document_is_json_with_nan_as_null(self):
        verdict = check(
            {"m.loss": {"max": 1, "max_drop": 0.1}, "m.accuracy": {"min": 0.5}},
            {"m.loss": NAN, "m.accuracy": 0.75},
            {"m.loss": NAN, "m.accuracy": 0.8},
        )
        run = {"run_id": "abc", "run_name": "nightly"}
        document = verdict_document(verdict, run_ref=run, baseline_ref={"run_id": "def"})
        text = json.dumps(document, allow_nan=False)
        assert json.loads(text) == document
        assert document["run"] == run
        assert document["baseline"] == {"run_id": "def"}
        assert document["passed"] is False
        assert document["gates"] == verdict.to_dict()
        assert document["gates"][0]["value"] is None
        assert document["gates"][1]["baseline"] is None
        assert verdict_document(Verdict(), run_ref=run, baseline_ref=None) == {
            "run": run,
            "baseline": None,
            "passed": True,
            "gates": [],
        }


class TestNeeded:
    GATES = {
        "m.accuracy": {"min": 0.5},
        "m.loss.min": {"max": 1},
        "m.loss.best": {"max": 1},
        "m.f1.last": {"min": 0.5},
        "*.auc": {"min": 0.5},
        "m.*": {"required": True},
        "x.absent": {"min": 0},
        "m.loss.median": {"max": 1},
    }
    STORED = {"m.accuracy", "m.loss", "m.loss.min", "b.auc", "a.auc", "m.f1.last", "m.auc.max"}
    SUMMARIES = frozenset({"m.loss.min", "m.auc.max"})

    def test_needed_keys(self):
        keys = needed_keys(parse(self.GATES), stored=self.STORED, summary_keys=self.SUMMARIES)
        assert keys == [
            "m.accuracy",
            "m.loss.min",
            "m.loss.best",
            "m.f1.last",
            "a.auc",
            "b.auc",
            "m.loss",
            "x.absent",
            "m.loss.median",
        ]

    def test_computed_summaries(self):
        """m.loss.min is stored; m.f1.last is stored and no summary key (a dataset's);
        m.loss.median is no summary; x.absent has no base."""
        found = computed_summaries(
            parse(self.GATES), stored=self.STORED, summary_keys=self.SUMMARIES
        )
        assert found == {"m.loss.best": ("m.loss", "best")}

    def test_a_computed_summary_takes_its_base_keys_direction(self):
        """Passed among the run's summary keys, it has the base key's direction."""
        declarations = Declarations.parse({"m.acc": {"direction": "max"}}, source=SOURCE)
        gates = parse({"m.acc.best": {"max_drop": 0.1}, "*": {"min": 0}}, declarations)
        verdict = evaluate(
            gates,
            run_values={"m.acc": 0.5, "m.acc.best": 0.7},
            run_summary_keys={"m.acc.best"},
            baseline_values={"m.acc.best": 0.9},
            meaning=lambda key: declarations.for_key(key) or UNDECLARED,
        )
        assert [(e.name, e.rule, e.passed) for e in verdict.entries] == [
            ("m.acc.best", "max_drop: 0.1", False),
            ("m.acc", "min: 0", True),
        ]

    def test_sample_size(self):
        assert sample_size(parse({"m.loss": {"max": 1}})) == 0
        assert sample_size(Gates()) == 0
        gates = parse(
            {
                "m.auc": {"noise": {"runs": 5, "sigmas": 2}},
                "m.loss": {"noise": {"runs": 8, "sigmas": 1}, "max": 1},
                "m.accuracy": {"noise": {"runs": 3, "sigmas": 1}},
            }
        )
        assert sample_size(gates) == 8


# Properties ---------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
allowance = st.floats(min_value=0, max_value=1e3, allow_nan=False)
sigmas = st.floats(min_value=0.01, max_value=10, allow_nan=False)
drop_rules = st.one_of(
    allowance.map(lambda d: {"max_drop": d}),
    allowance.map(lambda d: {"max_drop_pct": d}),
)


@given(
    key=st.sampled_from(["m.accuracy", "m.loss"]), rules=drop_rules, baseline=finite, data=st.data()
)
def test_an_improvement_never_fails_a_drop(key, rules, baseline, data):
    assume(baseline != 0)
    better = (
        st.floats(min_value=baseline, max_value=2e6)
        if key == "m.accuracy"
        else st.floats(min_value=-2e6, max_value=baseline)
    )
    entry = one(key, rules, data.draw(better), baseline)
    assert entry.passed is True


@given(
    key=st.sampled_from(["m.accuracy", "m.loss"]),
    values=st.lists(finite, min_size=2, max_size=6),
    k=sigmas,
    data=st.data(),
)
def test_an_improvement_on_the_mean_never_fails_noise(key, values, k, data):
    mean = statistics.fmean(values)
    better = (
        st.floats(min_value=mean, max_value=2e6)
        if key == "m.accuracy"
        else st.floats(min_value=-2e6, max_value=mean)
    )
    sample = [{key: v} for v in values]
    rules = {"noise": {"runs": len(values), "sigmas": k}}
    entry = one(key, rules, data.draw(better), 0.5, sample=sample)
    assert entry.passed is True


@given(
    key=st.sampled_from(["m.accuracy", "m.loss"]),
    rules=st.one_of(
        drop_rules,
        finite.map(lambda b: {"min": b}),
        finite.map(lambda b: {"max": b}),
    ),
    baseline=finite,
)
def test_exactly_at_the_limit_passes(key, rules, baseline):
    assume(baseline != 0)
    probe = one(key, rules, baseline, baseline)
    assume(probe.limit is not None)
    entry = one(key, rules, probe.limit, baseline)
    assert entry.passed is True
    assert entry.limit == probe.limit


@given(
    key=st.sampled_from(["m.accuracy", "m.loss"]),
    rules=st.one_of(
        drop_rules,
        finite.map(lambda b: {"min": b}),
        finite.map(lambda b: {"max": b}),
        sigmas.map(lambda k: {"noise": {"runs": 3, "sigmas": k}}),
    ),
    baseline=st.one_of(st.none(), finite, st.just(NAN)),
)
def test_a_nan_value_always_fails(key, rules, baseline):
    sample = [{key: 0.1}, {key: 0.2}, {key: 0.4}]
    entry = one(key, rules, NAN, baseline, sample=sample)
    assert entry.passed is False
    assert entry.to_dict()["value"] is None


@given(
    key=st.sampled_from(["m.accuracy", "m.loss"]),
    rules=drop_rules,
    value=finite,
    baseline=finite,
)
def test_a_drop_entry_agrees_with_its_limit(key, rules, value, baseline):
    """Passed exactly when the value is on the good side of the limit it reports."""
    assume(baseline != 0)
    entry = one(key, rules, value, baseline)
    good = value >= entry.limit if key == "m.accuracy" else value <= entry.limit
    assert entry.passed is good
    assert (entry.reason is None) is good
