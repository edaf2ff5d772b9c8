"""The verdict of a check: gates (``gates``) held against a run's values, a baseline
run's and a noise sample's, one ``Entry`` per gate, key and rule. Pure.

How each rule decides, and what is left undecided or skipped, is written in
``gates``' docstring; this module only applies it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from kedro_metrics.gates import (
    MAX,
    MAX_DROP,
    MAX_DROP_PCT,
    MIN,
    MIN_NOISE_RUNS,
    NOISE,
    REQUIRED,
    SKIPPED,
    Gate,
    Gates,
    Noise,
    Rule,
    matching,
)
from kedro_metrics.meaning import SUMMARIES, Meaning


@dataclass(frozen=True)
class Entry:
    """One rule held against one key: passed True, False, or None (undecided, or
    skipped when ``reason`` starts with ``skipped:``)."""

    #: The metric key (a glob when it matched no key).
    name: str
    #: The rule as written: ``max_drop_pct: 5``.
    rule: str
    #: The run's value; None when the run lacks the key.
    value: float | None
    #: The baseline run's value (the sample's mean for noise); None without one.
    baseline: float | None
    #: What the value was held against; None for ``required`` and undecided entries.
    limit: float | None
    passed: bool | None
    #: None when passed; one line saying why not otherwise.
    reason: str | None = None

    @property
    def skipped(self) -> bool:
        return self.passed is None and (self.reason or "").startswith(SKIPPED)

    @property
    def undecided(self) -> bool:
        return self.passed is None and not self.skipped

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON holds it: NaN as None (null)."""
        return {
            "name": self.name,
            "rule": self.rule,
            "value": _json_number(self.value),
            "baseline": _json_number(self.baseline),
            "limit": _json_number(self.limit),
            "passed": self.passed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Verdict:
    """The entries of a check, in gate order, and what they add up to."""

    entries: tuple[Entry, ...] = ()

    @property
    def passed(self) -> bool | None:
        """False when an entry failed, else None when one is undecided (skipped ones
        are not), else True (also with no entries)."""
        if self.failed:
            return False
        if any(entry.undecided for entry in self.entries):
            return None
        return True

    @property
    def failed(self) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.entries if entry.passed is False)

    @property
    def undecided(self) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.entries if entry.undecided)

    def to_dict(self) -> list[dict[str, Any]]:
        """The entries as JSON holds them (``Entry.to_dict``)."""
        return [entry.to_dict() for entry in self.entries]


def verdict_document(
    verdict: Verdict, *, run_ref: Mapping[str, Any], baseline_ref: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The JSON document of a check: ``{"run", "baseline", "passed", "gates"}``."""
    return {
        "run": dict(run_ref),
        "baseline": dict(baseline_ref) if baseline_ref is not None else None,
        "passed": verdict.passed,
        "gates": verdict.to_dict(),
    }


def evaluate(  # noqa: PLR0913 - what a check holds the run to, keyword-only
    gates: Gates,
    *,
    run_values: Mapping[str, float],
    run_summary_keys: Collection[str] = frozenset(),
    baseline_values: Mapping[str, float] | None,
    sample: Sequence[Mapping[str, float]] = (),
    meaning: Callable[[str], Meaning],
) -> Verdict:
    """Hold a run to the gates.

    Args:
        run_values: the run's value of each key it has (``needed_keys``), computed
            summaries included.
        run_summary_keys: the run's summary keys and the computed ones: globs never
            match them, and one without a direction takes its base key's.
        baseline_values: the baseline run's values; None when there is no baseline run.
        sample: the baseline runs' values for noise rules, newest first
            (``sample_size`` of them); a rule with ``runs: N`` uses the first N.
        meaning: a key's meaning (its ``direction``), e.g. a ``RunMeaning``.
    """
    context = _Context(run_values, run_summary_keys, baseline_values, sample, meaning)
    entries = [entry for gate in gates for entry in _gate_entries(gate, context)]
    return Verdict(tuple(entries))


@dataclass(frozen=True)
class _Context:
    run_values: Mapping[str, float]
    summary_keys: Collection[str]
    baseline_values: Mapping[str, float] | None
    sample: Sequence[Mapping[str, float]]
    meaning: Callable[[str], Meaning]
    directions: dict[str, str | None] = field(default_factory=dict)

    def direction(self, key: str) -> str | None:
        if key not in self.directions:
            found = self.meaning(key).direction
            base, _, summary = key.rpartition(".")
            if found is None and key in self.summary_keys and base and summary in SUMMARIES:
                found = self.meaning(base).direction
            self.directions[key] = found
        return self.directions[key]

    def baseline(self, key: str) -> float | None:
        if self.baseline_values is None or key not in self.baseline_values:
            return None
        return float(self.baseline_values[key])


def _gate_entries(gate: Gate, context: _Context) -> list[Entry]:
    if not gate.is_glob:
        keys = [gate.key]
    else:
        keys = matching(gate.key, context.run_values, context.summary_keys)
        if not keys:
            why = f"no key of the run matches {gate.key!r}"
            if gate.required:
                rule = next(rule for rule in gate.rules if rule.name == REQUIRED)
                return [Entry(gate.key, rule.text, None, None, None, False, f"{why} (required)")]
            return [_missing(gate, rule, gate.key, why) for rule in gate.checks]
    entries = []
    for key in keys:
        if key not in context.run_values:
            why = f"{key} is not in the run"
            entries += [_missing(gate, rule, key, why) for rule in gate.checks]
        else:
            entries += [_check(rule, key, context) for rule in gate.checks]
    return entries


def _missing(gate: Gate, rule: Rule, name: str, why: str) -> Entry:
    if gate.required:
        return Entry(name, rule.text, None, None, None, False, f"{why} (required)")
    return Entry(name, rule.text, None, None, None, None, f"{SKIPPED} {why}")


def _check(rule: Rule, key: str, context: _Context) -> Entry:
    value = float(context.run_values[key])
    baseline = context.baseline(key)
    if rule.name == REQUIRED:
        return Entry(key, rule.text, value, baseline, None, True)
    if rule.name in (MIN, MAX):
        entry = Entry(key, rule.text, value, baseline, float(rule.value), True)
        return _held(entry, rule, better=rule.name == MIN)
    direction = context.direction(key)
    if rule.name == NOISE:
        baseline, limit, why = _noise_limit(rule, key, direction, context)
    else:
        limit, why = _drop_limit(rule, key, direction, baseline, context)
    if math.isnan(value):
        return Entry(key, rule.text, value, baseline, limit, False, "the value is NaN")
    if why is not None:
        return Entry(key, rule.text, value, baseline, None, None, why)
    return _held(
        Entry(key, rule.text, value, baseline, limit, True), rule, better=direction == "max"
    )


def _held(entry: Entry, rule: Rule, *, better: bool) -> Entry:
    """``entry`` (passed) with its value held against its limit: at least it when
    higher is ``better``, at most it otherwise."""
    value, limit = cast(float, entry.value), cast(float, entry.limit)
    if value >= limit if better else value <= limit:
        return entry
    if math.isnan(value):
        reason = "the value is NaN"
    else:
        shown, shown_limit = _apart(value, limit)
        side = "below" if better else "above"
        missed = _what_limit(rule, entry.baseline, limit, shown=shown_limit, better=better)
        reason = f"{shown} is {side} {missed}"
    return replace(entry, passed=False, reason=reason)


def _what_limit(
    rule: Rule, baseline: float | None, limit: float, *, shown: str, better: bool
) -> str:
    """What the value missed: the limit (``shown``) and where it comes from."""
    if rule.name in (MIN, MAX):
        return f"the {rule.name} {shown}"
    sign = "minus" if better else "plus"
    if rule.name == MAX_DROP:
        return f"{shown}, the baseline {_show(baseline)} {sign} the max_drop {rule.value}"
    if rule.name == MAX_DROP_PCT:
        return f"{shown}, the baseline {_show(baseline)} {sign} {rule.value}%"
    noise = cast(Noise, rule.value)
    mean = cast(float, baseline)
    spread = abs(mean - limit) / noise.sigmas
    return (
        f"{shown}, the mean {_show(mean)} of the baseline runs {sign} {noise.sigmas} "
        f"standard deviations of {_show(spread)}"
    )


def _drop_limit(
    rule: Rule, key: str, direction: str | None, baseline: float | None, context: _Context
) -> tuple[float | None, str | None]:
    """The limit of a drop rule, or None and why there is none."""
    if direction is None:
        return None, _no_direction(key)
    if context.baseline_values is None:
        return None, "no baseline run"
    if baseline is None:
        return None, f"{key} is not in the baseline run"
    if not math.isfinite(baseline):
        return None, f"the baseline value of {key} is {_show(baseline)}"
    allowed = float(rule.value)
    if rule.name == MAX_DROP_PCT:
        if baseline == 0:
            return None, f"the baseline value of {key} is 0: no percentage of it is a change"
        allowed = abs(baseline) * allowed / 100
    return (baseline - allowed if direction == "max" else baseline + allowed), None


def _noise_limit(
    rule: Rule, key: str, direction: str | None, context: _Context
) -> tuple[float | None, float | None, str | None]:
    """The sample's mean and the limit of a noise rule, or why there is no limit."""
    noise = cast(Noise, rule.value)
    runs = context.sample[: noise.runs]
    values = [float(run[key]) for run in runs if key in run and math.isfinite(run[key])]
    mean = statistics.fmean(values) if values else None
    if direction is None:
        return mean, None, _no_direction(key)
    if context.baseline_values is None:
        return mean, None, "no baseline run"
    if len(values) < MIN_NOISE_RUNS:
        return (
            mean,
            None,
            (
                f"{len(values)} of the {noise.runs} newest baseline runs have a value of {key} "
                f"({len(runs)} found): noise needs {MIN_NOISE_RUNS}"
            ),
        )
    centre = statistics.fmean(values)
    spread = noise.sigmas * statistics.stdev(values)
    return centre, (centre - spread if direction == "max" else centre + spread), None


def _no_direction(key: str) -> str:
    return f"{key} has no direction: declare 'direction' (max or min) for it under 'metrics:'"


def _show(number: float | None) -> str:
    """A number in a reason, to 6 significant digits."""
    return "none" if number is None else f"{number:.6g}"


def _apart(value: float, limit: float) -> tuple[str, str]:
    """A value and the limit it missed, to 6 significant digits or as many more as
    it takes to tell them apart (``0.8499999 is below the min 0.85``)."""
    for digits in range(6, 18):
        shown = f"{value:.{digits}g}", f"{limit:.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return repr(value), repr(limit)


def _json_number(number: float | None) -> float | None:
    return None if number is None or math.isnan(number) else number
