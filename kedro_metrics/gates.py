"""Gates: the rules `kedro metrics check` holds a run to, and the verdict. Pure.

metrics.yml ``gates:`` maps metric keys, or globs (``fnmatch.fnmatchcase`` over the
full MLflow key), to rules, in the order they are written::

    gates:
      "model_metrics.accuracy": {min: 0.85, max_drop: 0.01}
      "model_metrics.loss":     {max_drop_pct: 5}
      "*.f1":                   {required: true, min: 0.5}
      "model_metrics.auc":      {noise: {runs: 5, sigmas: 2}}

The rules:

- ``min``, ``max``: inclusive absolute bounds on the run's value.
- ``max_drop``, ``max_drop_pct``: how much worse than the baseline run's value the
  run's may be, absolutely or in percent of ``|baseline|``, worse meaning in the bad
  direction of the key's declared ``direction`` (metrics.yml ``metrics:``).
- ``noise: {runs: N, sigmas: K}``: the run's value may not be worse than the mean of
  the N newest baseline runs' values minus (``direction: max``) or plus (``min``) K
  sample standard deviations.
- ``required: true``: a key missing from the run fails each of the gate's other
  rules; a glob matching no key fails. Without it, a missing key skips them.

``evaluate`` gives one ``Entry`` per gate, key and rule (a glob's keys sorted, the
rules in the order written; ``required`` is an entry of its own only when written
alone), each passed (True), failed (False) or not decided (None); a skipped entry is
None too, its reason starting with ``skipped:``. The ``Verdict`` fails when an entry
fails, is undecided (None) when an entry cannot be decided, and passes otherwise,
also when there are no gates. Limits are inclusive and compared exactly: a value at
its limit passes, and an improvement on the baseline never fails. A NaN value fails
every rule but ``required``, with or without a baseline.

Where the rules leave it open: ``{required: false}`` alone gives one entry, passed
when the key is there and skipped when not; a glob matching no key, not required,
skips each rule under the glob's name; ``min`` above ``max`` is a ConfigError. A
drop rule is undecided without a baseline run, a finite baseline value (for
``max_drop_pct`` a non-zero one) or a direction; a noise rule without a baseline run,
a direction, or 2 finite values among its N newest runs (the sample leaves out runs
without the key and NaN or infinite values). ``to_dict`` gives NaN as None.

A gate key ``<key>.<summary>`` (a summary of ``meaning.SUMMARIES``) is the run's
stored key of that name, else the caller computes the summary from ``<key>``'s
history (``computed_summaries``). Globs never match summary keys.
"""

from __future__ import annotations

import fnmatch
import math
import statistics
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import yaml

from kedro_metrics.errors import ConfigError
from kedro_metrics.meaning import SUMMARIES, Declarations, Meaning

#: The rules a gate accepts.
MIN, MAX, MAX_DROP, MAX_DROP_PCT, NOISE, REQUIRED = RULES = (
    "min",
    "max",
    "max_drop",
    "max_drop_pct",
    "noise",
    "required",
)
#: The rules that compare with a baseline and so need the key's direction.
BASELINE_RULES = (MAX_DROP, MAX_DROP_PCT, NOISE)
#: The settings of ``noise``.
NOISE_SETTINGS = ("runs", "sigmas")
#: The fewest values a standard deviation needs: ``noise.runs`` is at least this.
MIN_NOISE_RUNS = 2
#: metrics.yml ``check.on_run_end``: what the end of `kedro run` does with the verdict.
FAIL, WARN, OFF = ON_RUN_END = ("fail", "warn", "off")
#: How the reason of a skipped entry starts.
SKIPPED = "skipped:"
#: The characters that make a gate key a glob (``fnmatch``'s).
GLOB_CHARACTERS = "*?["


# Parsed gates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Noise:
    """``noise``: how many baseline runs, and how many standard deviations."""

    runs: int
    sigmas: float


@dataclass(frozen=True)
class Rule:
    """One rule of a gate: its name and its value as parsed (an int stays an int)."""

    name: str
    value: float | bool | Noise

    @property
    def text(self) -> str:
        """The rule as written, in YAML flow style: ``max_drop_pct: 5``,
        ``noise: {runs: 5, sigmas: 2}`` (runs first), ``required: true``."""
        value = self.value
        plain = {"runs": value.runs, "sigmas": value.sigmas} if isinstance(value, Noise) else value
        shown = yaml.safe_dump(
            {self.name: plain}, default_flow_style=True, sort_keys=False, width=1_000_000
        )
        return shown.strip()[1:-1]


@dataclass(frozen=True)
class Gate:
    """A metric key or glob and its rules, in the order written."""

    key: str
    rules: tuple[Rule, ...]

    @property
    def is_glob(self) -> bool:
        return any(c in self.key for c in GLOB_CHARACTERS)

    @property
    def required(self) -> bool:
        return any(rule.name == REQUIRED and rule.value for rule in self.rules)

    @property
    def checks(self) -> tuple[Rule, ...]:
        """The rules giving entries: all but ``required``, or ``required`` when alone."""
        others = tuple(rule for rule in self.rules if rule.name != REQUIRED)
        return others or self.rules


@dataclass(frozen=True)
class Gates:
    """metrics.yml ``gates``, in file order."""

    gates: tuple[Gate, ...] = ()

    @classmethod
    def parse(cls, data: Any, *, declarations: Declarations, source: str) -> Gates:
        """A ``gates:`` mapping of key or glob to rules. ``declarations`` (the parsed
        ``metrics:``) give the directions that drop and noise rules on exact keys need.

        Raises:
            ConfigError: naming the gate's key, the rule and ``source``.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"'gates' in {source} must map metric keys or globs to rules such as "
                f"{{'model_metrics.accuracy': {{'min': 0.85}}}}, got {data!r}.",
                key="gates",
            )
        gates = []
        for key, rules in data.items():
            if not isinstance(key, str) or not key:
                raise ConfigError(
                    f"'gates' in {source} has the key {key!r}: gate keys are non-empty "
                    "metric keys or globs.",
                    key="gates",
                )
            gates.append(_parse_gate(key, rules, declarations=declarations, source=source))
        return cls(tuple(gates))

    def __iter__(self) -> Iterator[Gate]:
        return iter(self.gates)

    def __len__(self) -> int:
        return len(self.gates)

    def __bool__(self) -> bool:
        return bool(self.gates)


def _parse_gate(key: str, rules: Any, *, declarations: Declarations, source: str) -> Gate:
    where = f"gate {key!r} in {source}"
    if not isinstance(rules, Mapping) or not rules:
        raise ConfigError(
            f"The {where} must be a mapping of rules ({', '.join(RULES)}), such as "
            f"{{'min': 0.85}}, got {rules!r}.",
            key="gates",
        )
    parsed = []
    for name, value in rules.items():
        if name not in RULES:
            raise ConfigError(
                f"Unknown rule {name!r} in the {where}; a gate accepts: {', '.join(RULES)}.",
                key="gates",
            )
        parsed.append(Rule(name, _parse_value(name, value, where)))
    gate = Gate(key, tuple(parsed))
    bounds = {rule.name: rule.value for rule in parsed if rule.name in (MIN, MAX)}
    if len(bounds) == len((MIN, MAX)) and bounds[MIN] > bounds[MAX]:
        raise ConfigError(
            f"Rule 'min' of the {where} is above its 'max' ({bounds[MIN]!r} > {bounds[MAX]!r}): "
            "no value could pass.",
            key="gates",
        )
    if not gate.is_glob:
        _check_direction(gate, declarations, where)
    return gate


def _parse_value(name: str, value: Any, where: str) -> float | bool | Noise:
    if name == REQUIRED:
        if not isinstance(value, bool):
            raise ConfigError(
                f"Rule 'required' of the {where} must be true or false, got {value!r}.",
                key="gates",
            )
        return value
    if name == NOISE:
        return _parse_noise(value, where)
    at_least_zero = name in (MAX_DROP, MAX_DROP_PCT)
    if not _finite(value) or (at_least_zero and value < 0):
        what = "a number >= 0" if at_least_zero else "a finite number"
        raise ConfigError(
            f"Rule {name!r} of the {where} must be {what}, got {value!r}.", key="gates"
        )
    return value


def _parse_noise(value: Any, where: str) -> Noise:
    shape = "{runs: N, sigmas: K} (N an integer >= 2, K a number > 0)"
    if not isinstance(value, Mapping) or set(value) != set(NOISE_SETTINGS):
        raise ConfigError(
            f"Rule 'noise' of the {where} must be {shape}, got {value!r}.", key="gates"
        )
    runs, sigmas = value["runs"], value["sigmas"]
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < MIN_NOISE_RUNS:
        raise ConfigError(
            f"Rule 'noise' of the {where}: 'runs' must be an integer >= {MIN_NOISE_RUNS}, "
            f"got {runs!r}.",
            key="gates",
        )
    if not _finite(sigmas) or sigmas <= 0:
        raise ConfigError(
            f"Rule 'noise' of the {where}: 'sigmas' must be a number > 0, got {sigmas!r}.",
            key="gates",
        )
    return Noise(runs=runs, sigmas=sigmas)


def _finite(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _check_direction(gate: Gate, declarations: Declarations, where: str) -> None:
    """A drop or noise rule on an exact key needs the key's declared direction (a
    summary key ``<key>.<summary>`` may take ``<key>``'s)."""
    compared = [rule.name for rule in gate.rules if rule.name in BASELINE_RULES]
    if not compared or _declared_direction(gate.key, declarations) is not None:
        return
    raise ConfigError(
        f"Rule {compared[0]!r} of the {where} compares with the baseline, which needs to "
        f"know what worse is: declare 'direction' (max: higher is better, or min) for "
        f"{gate.key!r} under 'metrics:'.",
        key="gates",
    )


def _declared_direction(key: str, declarations: Declarations) -> str | None:
    found = declarations.for_key(key)
    if found is not None and found.direction is not None:
        return found.direction
    base, _, summary = key.rpartition(".")
    if base and summary in SUMMARIES:
        found = declarations.for_key(base)
        return found.direction if found is not None else None
    return None


# check: ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckSettings:
    """metrics.yml ``check``: ``on_run_end`` is fail (`kedro run` fails when the
    check fails), warn (it logs the failure) or off (the default: no check at the
    run's end). YAML reads a bare ``off`` as false, which is taken as off."""

    on_run_end: str = OFF

    @classmethod
    def parse(cls, data: Any, *, source: str) -> CheckSettings:
        """Raises:
        ConfigError: naming ``check`` or ``check.on_run_end`` and ``source``."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"'check' in {source} must be a mapping such as {{'on_run_end': 'warn'}}, "
                f"got {data!r}.",
                key="check",
            )
        for name in data:
            if name != "on_run_end":
                raise ConfigError(
                    f"Unknown key 'check.{name}' in {source}; 'check' accepts: on_run_end.",
                    key="check",
                )
        chosen = data.get("on_run_end", OFF)
        if chosen is False:
            chosen = OFF
        if not isinstance(chosen, str) or chosen not in ON_RUN_END:
            raise ConfigError(
                f"'check.on_run_end' in {source} must be one of {', '.join(ON_RUN_END)}, "
                f"got {chosen!r}.",
                key="check",
            )
        return cls(on_run_end=chosen)


# What a check needs ------------------------------------------------------------------


def matching(glob: str, stored: Iterable[str], summary_keys: Collection[str]) -> list[str]:
    """The stored keys ``glob`` matches, sorted; never a summary key."""
    return sorted(
        key for key in set(stored) if key not in summary_keys and fnmatch.fnmatchcase(key, glob)
    )


def needed_keys(gates: Gates, *, stored: Iterable[str], summary_keys: Collection[str]) -> list[str]:
    """The keys a check reads from a run whose metric keys are ``stored``: every exact
    gate key (stored or not) and the keys each glob matches, in gate order, once."""
    stored = set(stored)
    found: dict[str, None] = {}
    for gate in gates:
        keys = matching(gate.key, stored, summary_keys) if gate.is_glob else [gate.key]
        found.update(dict.fromkeys(keys))
    return list(found)


def computed_summaries(
    gates: Gates, *, stored: Iterable[str], summary_keys: Collection[str]
) -> dict[str, tuple[str, str]]:
    """The gate keys ``<key>.<summary>`` the run does not store but whose ``<key>`` it
    does: by gate key, ``(key, summary)``. The caller computes each from ``<key>``'s
    history (``summaries.summarise``) and passes it to ``evaluate`` as a summary key."""
    stored = set(stored)
    found = {}
    for key in needed_keys(gates, stored=stored, summary_keys=summary_keys):
        base, _, summary = key.rpartition(".")
        if key not in stored and base in stored and summary in SUMMARIES:
            found[key] = (base, summary)
    return found


def sample_size(gates: Gates) -> int:
    """How many baseline runs the noise rules need (the largest ``runs``); 0 without one."""
    return max(
        (rule.value.runs for gate in gates for rule in gate.rules if isinstance(rule.value, Noise)),
        default=0,
    )


# The verdict -------------------------------------------------------------------------


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
