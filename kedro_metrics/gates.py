"""Gates: the rules `kedro metrics check` holds a run to (metrics.yml ``gates``, ``baseline``
and ``check``), and which values a check needs. Pure; ``verdict`` applies them.

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
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kedro_metrics.errors import ConfigError
from kedro_metrics.meaning import SUMMARIES, Declarations

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


def baseline_keys(
    gates: Gates, *, stored: Iterable[str], summary_keys: Collection[str]
) -> list[str]:
    """The keys whose rules compare with baseline runs (``BASELINE_RULES``): only
    their values are read from the baseline runs beyond what the run search gives."""
    compared = Gates(tuple(g for g in gates if any(r.name in BASELINE_RULES for r in g.rules)))
    return needed_keys(compared, stored=stored, summary_keys=summary_keys)
