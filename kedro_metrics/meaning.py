"""What a metric means: its direction, its format and its summaries, declared once.

Pure: standard library only, no I/O. metrics.yml ``metrics:`` and a catalog entry's
``metrics:`` map globs (``fnmatch.fnmatchcase`` over the full MLflow key) to settings;
the first glob that matches a key supplies its whole ``Meaning`` (settings are never
merged across globs). A run records the meanings that applied to it in its tags
(``MEANING_TAG``), so readers use the meaning a run had when it ran, then the
project's current one.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kedro_metrics.errors import ConfigError

#: ``direction``: higher is better (max) or lower is better (min).
DIRECTIONS = ("max", "min")
#: ``format`` besides a Python format spec: percent (0.928 shows as 92.80%), raw.
PERCENT, RAW = "percent", "raw"
#: ``summary``: values of a history logged as ``<key>.<summary>`` at the run's end.
SUMMARIES = ("min", "max", "mean", "best", "first", "last")
#: The settings a declaration accepts.
SETTINGS = ("direction", "format", "summary")

#: Run tag holding the JSON ``{key: {direction, format, summary}}`` of a run's
#: declared keys, continued in ``MEANING_TAG.1``, ``.2``, ... past MLflow's tag length.
MEANING_TAG = "kedro_metrics.meaning"
#: Run tag holding the JSON list of the summary keys the hook logged.
SUMMARIES_TAG = "kedro_metrics.summaries"


@dataclass(frozen=True)
class Meaning:
    """The declaration that applies to one metric key."""

    direction: str | None = None
    format: str = RAW
    summary: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"direction": self.direction, "format": self.format, "summary": list(self.summary)}

    def better(self, change: float | None) -> bool | None:
        """Is a change of ``change`` better? None without a direction or a change."""
        if self.direction is None or change is None or change == 0 or math.isnan(change):
            return None
        return change > 0 if self.direction == "max" else change < 0

    def show(self, value: float | None) -> str:
        """The value as tables print it; "-" when missing."""
        if value is None:
            return "-"
        if self.format == PERCENT:
            return f"{value * 100:.2f}%"
        if self.format == RAW:
            return f"{value:.6g}"
        return format(value, self.format)

    def show_change(self, change: float | None) -> str:
        """A signed change in the value's format (``+12.80%``); "-" when missing."""
        if change is None:
            return "-"
        if self.format == PERCENT:
            return f"{change * 100:+.2f}%"
        if self.format == RAW:
            return f"{change:+.6g}"
        return format(change, _signed_spec(self.format))


#: The meaning of a key nothing declares.
UNDECLARED = Meaning()


@dataclass(frozen=True)
class Declarations:
    """Globs and their meanings, in precedence order (the first match wins)."""

    entries: tuple[tuple[str, Meaning], ...] = ()

    @classmethod
    def parse(cls, data: Any, *, source: str) -> Declarations:
        """A ``metrics:`` mapping of glob to settings.

        Raises:
            ConfigError: naming the setting, its glob and ``source``.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"'metrics' in {source} must map metric key globs to settings such as "
                f"{{'*loss*': {{'direction': 'min'}}}}, got {data!r}.",
                key="metrics",
            )
        entries = []
        for glob, settings in data.items():
            if not isinstance(glob, str) or not glob:
                raise ConfigError(
                    f"'metrics' in {source} has the glob {glob!r}: globs are non-empty strings.",
                    key="metrics",
                )
            meaning = parse_meaning(settings, glob=glob, source=source)
            entries.append((glob, meaning))
        return cls(tuple(entries))

    def under(self, prefix: str) -> Declarations:
        """These globs as names relative to ``prefix`` (a metrics dataset's)."""
        if not prefix:
            return self
        return Declarations(tuple((f"{prefix}.{glob}", m) for glob, m in self.entries))

    def then(self, later: Declarations) -> Declarations:
        """These declarations first, ``later`` where none of these matches."""
        return Declarations(self.entries + later.entries)

    def for_key(self, key: str) -> Meaning | None:
        """The meaning of the first glob matching ``key``; None when none does."""
        for glob, meaning in self.entries:
            if fnmatch.fnmatchcase(key, glob):
                return meaning
        return None

    def as_json(self) -> dict[str, dict[str, Any]]:
        """The ``metrics:`` mapping these were parsed from, in order: ``parse`` reads
        it back (a spooled run keeps its declarations for ``sync``)."""
        return {glob: meaning.as_json() for glob, meaning in self.entries}

    def __bool__(self) -> bool:
        return bool(self.entries)


def parse_meaning(settings: Any, *, glob: str, source: str) -> Meaning:
    """One glob's settings (``direction``, ``format``, ``summary``).

    Raises:
        ConfigError: an unknown setting or a bad value, naming the setting, the
            glob and ``source``.
    """
    where = f"for {glob!r} in {source}"
    if not isinstance(settings, Mapping):
        raise ConfigError(
            f"The settings {where} must be a mapping of {', '.join(SETTINGS)}, got {settings!r}.",
            key="metrics",
        )
    for name in settings:
        if name not in SETTINGS:
            raise ConfigError(
                f"Unknown setting {name!r} {where}; a metric accepts: {', '.join(SETTINGS)}.",
                key="metrics",
            )
    direction = settings.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise ConfigError(
            f"'direction' {where} must be max (higher is better) or min, got {direction!r}.",
            key="metrics",
        )
    shown = settings.get("format", RAW)
    if not _valid_format(shown):
        raise ConfigError(
            f"'format' {where} must be percent, raw or a Python format spec such as '.4f', "
            f"got {shown!r}.",
            key="metrics",
        )
    summary = _parse_summary(settings.get("summary"), where)
    if "best" in summary and direction is None:
        raise ConfigError(
            f"'summary: best' {where} needs a 'direction' (max or min) to know what best is.",
            key="metrics",
        )
    return Meaning(direction=direction, format=shown, summary=summary)


def _parse_summary(summary: Any, where: str) -> tuple[str, ...]:
    if summary is None:
        return ()
    names = [summary] if isinstance(summary, str) else summary
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"'summary' {where} must be a list of {', '.join(SUMMARIES)}, got {summary!r}.",
            key="metrics",
        )
    for name in names:
        if name not in SUMMARIES:
            raise ConfigError(
                f"Unknown summary {name!r} {where}; summaries are: {', '.join(SUMMARIES)}.",
                key="metrics",
            )
    return tuple(dict.fromkeys(names))


def _valid_format(shown: Any) -> bool:
    if not isinstance(shown, str):
        return False
    if shown in (PERCENT, RAW):
        return True
    try:
        format(0.5, shown)
        format(0.5, _signed_spec(shown))
    except (ValueError, TypeError):
        return False
    return True


def _signed_spec(spec: str) -> str:
    """``spec`` with a ``+`` sign: after its fill and alignment, replacing its sign."""
    align = 2 if len(spec) > 1 and spec[1] in "<>=^" else 1 if spec[:1] in "<>=^" else 0
    rest = spec[align:]
    if rest[:1] in "+- ":
        rest = rest[1:]
    return f"{spec[:align]}+{rest}"


# Summary keys ----------------------------------------------------------------------


def summary_key(key: str, summary: str) -> str:
    """The MLflow key a summary is logged under: ``model_metrics.loss.min``."""
    return f"{key}.{summary}"


def summary_keys(tags: Mapping[str, str]) -> frozenset[str]:
    """The summary keys a run's ``SUMMARIES_TAG`` lists (none when absent or unreadable)."""
    try:
        listed = json.loads(tags.get(SUMMARIES_TAG) or "[]")
    except ValueError:
        return frozenset()
    return (
        frozenset(k for k in listed if isinstance(k, str))
        if isinstance(listed, list)
        else frozenset()
    )


def summary_base(key: str, summaries: Iterable[str]) -> str | None:
    """The key a summary key summarises, when ``key`` is one of ``summaries``."""
    if key not in summaries:
        return None
    base, _, name = key.rpartition(".")
    return base if name in SUMMARIES and base else None


# Recorded meaning --------------------------------------------------------------------


def meaning_tags(meanings: Mapping[str, Meaning], *, limit: int) -> dict[str, str]:
    """The run tags recording ``meanings``: ``MEANING_TAG`` holds the JSON text up to
    ``limit`` characters (MLflow's tag length), ``MEANING_TAG.1``, ``.2`` ... the rest."""
    text = json.dumps(
        {key: meanings[key].as_json() for key in sorted(meanings)}, separators=(",", ":")
    )
    chunks = [text[start : start + limit] for start in range(0, len(text), limit)] or ["{}"]
    return {_chunk_tag(index): chunk for index, chunk in enumerate(chunks)}


def recorded_meanings(tags: Mapping[str, str]) -> dict[str, Meaning]:
    """The meanings a run recorded (``meaning_tags``); empty when none or unreadable."""
    text = "".join(_chunks(tags))
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(data, Mapping):
        return {}
    found = {}
    for key, settings in data.items():
        try:
            meaning = parse_meaning(
                {k: v for k, v in settings.items() if v is not None}, glob=key, source="the run"
            )
        except (ConfigError, AttributeError):
            continue
        found[key] = meaning
    return found


def _chunk_tag(index: int) -> str:
    return MEANING_TAG if index == 0 else f"{MEANING_TAG}.{index}"


def _chunks(tags: Mapping[str, str]) -> Iterator[str]:
    index = 0
    while _chunk_tag(index) in tags:
        yield tags[_chunk_tag(index)]
        index += 1


# Meaning as readers see it -------------------------------------------------------------


@dataclass(frozen=True)
class RunMeaning:
    """The meaning of a run's keys: what the run recorded, then the current
    declarations; a summary key takes its base key's direction and format."""

    recorded: Mapping[str, Meaning]
    current: Declarations
    summaries: frozenset[str] = frozenset()

    @classmethod
    def of(cls, tags: Mapping[str, str], current: Declarations) -> RunMeaning:
        return cls(recorded_meanings(tags), current, summary_keys(tags))

    def __call__(self, key: str) -> Meaning:
        base = summary_base(key, self.summaries)
        if base is not None:
            found = self._declared(base)
            return Meaning(direction=found.direction, format=found.format)
        return self._declared(key)

    def _declared(self, key: str) -> Meaning:
        return self.recorded.get(key) or self.current.for_key(key) or UNDECLARED


def newest_meaning(meanings: Sequence[RunMeaning], key: str) -> Meaning:
    """Where one answer spans runs (newest last), the newest run's meaning decides."""
    return meanings[-1](key) if meanings else UNDECLARED
