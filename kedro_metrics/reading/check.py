"""A run held to metrics.yml's gates: ``kedro metrics check`` and
``kedro_metrics.check()``.

The run and its baseline runs come from the run search (``query``), so their last
values cost nothing more; a history is read only for a gate key ``<key>.<summary>``
that a run does not store (one request per run and key, in flight), and for the
baseline runs only where a rule compares with them. The verdict itself is
``verdict.evaluate``; where it is written down, the run's tags ``kedro_metrics.check``
and ``kedro_metrics.check.baseline``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kedro_metrics import gates as gate_rules
from kedro_metrics import project, store
from kedro_metrics.config import MetricsConfig
from kedro_metrics.errors import CheckError, RunReferenceError
from kedro_metrics.meaning import RunMeaning
from kedro_metrics.points import ordered
from kedro_metrics.process import state
from kedro_metrics.reading import query
from kedro_metrics.records import Run
from kedro_metrics.run_source import RUN_ID_VARIABLE
from kedro_metrics.summaries import summary_point
from kedro_metrics.verdict import Entry, evaluate, verdict_document
from kedro_metrics.verdict import Verdict as _Verdict

#: The run tag holding the verdict: passed, failed or undecided.
CHECK_TAG = "kedro_metrics.check"
#: The run tag holding the id of the baseline run the verdict compared with.
BASELINE_TAG = "kedro_metrics.check.baseline"
#: What ``CHECK_TAG`` says for each ``Verdict.passed``.
OUTCOMES = {True: "passed", False: "failed", None: "undecided"}


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one run: ``passed`` (True, False, or None when the check could
    not decide), ``gates`` (one ``Entry`` per gate, key and rule), ``to_dict()`` (the
    document ``kedro metrics check --format json`` prints)."""

    run: Run
    baseline: Run | None
    verdict: _Verdict
    #: What the run's keys mean (their formats, for tables and reports).
    meaning: RunMeaning
    #: Why there is no baseline run, when there is none.
    no_baseline: str | None = None

    @property
    def passed(self) -> bool | None:
        return self.verdict.passed

    @property
    def gates(self) -> tuple[Entry, ...]:
        return self.verdict.entries

    @property
    def outcome(self) -> str:
        """passed, failed or undecided (the run's ``kedro_metrics.check`` tag)."""
        return OUTCOMES[self.passed]

    @property
    def why_undecided(self) -> str | None:
        """One line saying why the check could not decide; None when it did."""
        if self.passed is not None:
            return None
        first = self.verdict.undecided[0]
        count = len(self.verdict.undecided)
        told = "1 gate check" if count == 1 else f"{count} gate checks"
        return f"{told} could not decide; first: {first.name} ({first.rule}): {first.reason}"

    def to_dict(self) -> dict[str, Any]:
        return verdict_document(
            self.verdict, run_ref=run_ref(self.run), baseline_ref=run_ref(self.baseline)
        )


def run_ref(run: Run | None) -> dict[str, str] | None:
    return None if run is None else {"run_id": run.run_id, "run_name": run.run_name}


def check(
    run: str | None = None,
    baseline: str | None = None,
    project_path: str | os.PathLike[str] | None = None,
    *,
    record: bool = False,
    env: str | None = None,
) -> CheckResult:
    """Hold a run to the project's metrics.yml ``gates`` (docs/check.md).

    Args:
        run: A run reference (id, prefix, ``latest``, ``branch:NAME`` ...). Default:
            inside ``kedro run``, the run it writes to; else ``latest``.
        baseline: The run reference to compare with. Default: metrics.yml
            ``baseline``, else the newest run started before the checked one.
        project_path: The Kedro project whose metrics.yml holds the gates. Default:
            the project this process runs in.
        record: Tag the run with the verdict (``kedro_metrics.check``,
            ``kedro_metrics.check.baseline``), as the CLI does.
        env: The configuration environment of metrics.yml (with ``project_path``).

    Returns:
        A ``CheckResult``: ``passed`` is None where ``kedro metrics check`` exits 2
        after finding the run.

    Raises:
        CheckError: metrics.yml declares no gates, or no Kedro project was found.
        RunReferenceError: ``run`` names no run.
        ConfigError, TrackingError: as every reading function.
    """
    settings = project.current_settings(project_path, env)
    if settings is None:
        raise CheckError(
            "kedro_metrics.check() needs a Kedro project, whose metrics.yml holds the gates: "
            "call it inside one, or pass project_path."
        )
    current = state.current_run if run is None else None
    if current is not None and "kedro_metrics.store.write" in sys.modules:
        store.flush()  # what earlier nodes saved asynchronously is in the store first
    uri = current[0] if current is not None else None
    scope = query.scope_for(tracking_uri=uri, settings=settings)
    chosen = run or (current[1] if current else None) or os.environ.get(RUN_ID_VARIABLE)
    return run_check(scope, settings.config, chosen or "latest", baseline, record=record)


def run_check(
    scope: query.Scope,
    config: MetricsConfig,
    reference: str,
    baseline: str | None = None,
    *,
    record: bool,
) -> CheckResult:
    """Check the run ``reference`` names against ``baseline`` (else metrics.yml's),
    and tag it with the verdict when ``record``."""
    gates_declared(config)
    (run,) = query.find_runs(scope, run=reference)
    return check_run(scope, config, run, baseline, record=record)


def gates_declared(config: MetricsConfig) -> None:
    """Raise CheckError when metrics.yml declares no gates: nothing to decide."""
    if not config.gates:
        raise CheckError(
            "The project's metrics.yml declares no gates: add a 'gates:' mapping of metric "
            "keys to rules such as {min: 0.85} (docs/check.md)."
        )


def check_run(
    scope: query.Scope,
    config: MetricsConfig,
    run: Run,
    baseline: str | None = None,
    *,
    record: bool,
) -> CheckResult:
    """``run_check`` of a run already read."""
    recorded = scope.meaning(run)
    computed = gate_rules.computed_summaries(
        config.gates, stored=run.latest, summary_keys=recorded.summaries
    )
    # a computed summary takes its key's direction and format, as a stored one does
    meaning = replace(recorded, summaries=recorded.summaries | set(computed))
    found, no_baseline = _baselines(scope, config, run, baseline)
    verdict = _verdict(scope, config, run, found, meaning, computed)
    result = CheckResult(run, found[0] if found else None, verdict, meaning, no_baseline)
    if record:
        store.log_values(scope.tracking_uri, run.run_id, tags=verdict_tags(result))
        if result.baseline is None and BASELINE_TAG in run.tags:  # an earlier check's
            store.delete_tags(scope.tracking_uri, run.run_id, [BASELINE_TAG])
    return result


def _baselines(
    scope: query.Scope, config: MetricsConfig, run: Run, reference: str | None
) -> tuple[list[Run], str | None]:
    """The baseline runs (as many as the noise rules need), or none and why."""
    count = max(1, gate_rules.sample_size(config.gates))
    try:
        return query.baseline_runs(
            scope, reference or config.baseline, checked=run, count=count
        ), None
    except RunReferenceError as exc:
        return [], str(exc)


def _verdict(  # noqa: PLR0913 - the runs and what they mean
    scope: query.Scope,
    config: MetricsConfig,
    run: Run,
    baselines: Sequence[Run],
    meaning: RunMeaning,
    computed: Mapping[str, tuple[str, str]],
) -> _Verdict:
    """``evaluate`` over the runs' values; ``computed``: the gate keys computed from
    a history (``gates.computed_summaries``)."""
    gates = config.gates
    summary_keys = meaning.summaries
    compared = set(gate_rules.baseline_keys(gates, stored=run.latest, summary_keys=summary_keys))
    wanted = gate_rules.needed_keys(gates, stored=run.latest, summary_keys=summary_keys)
    # a history per (run, key) a rule needs and the run does not store; values only shown
    # (a baseline run's, where no rule compares with it) are not fetched
    fetch = [(run, key) for key in computed]
    fetch += [
        (other, key)
        for other in baselines
        for key in computed
        if key in compared and key not in other.latest and computed[key][0] in other.latest
    ]
    histories = store.read_histories(
        scope.tracking_uri, [(owner.run_id, computed[key][0]) for owner, key in fetch]
    )

    def values(owner: Run) -> dict[str, float]:
        found = {key: owner.latest[key].value for key in wanted if key in owner.latest}
        for key, (base, summary) in computed.items():
            history = histories.get((owner.run_id, base))
            point = _summary(history, summary, meaning(base).direction)
            if key not in found and point is not None:
                found[key] = point
        return found

    sample = [values(other) for other in baselines]
    return evaluate(
        gates,
        run_values=values(run),
        run_summary_keys=summary_keys,
        baseline_values=sample[0] if sample else None,
        sample=sample,
        meaning=meaning,
    )


def _summary(history: Any, summary: str, direction: str | None) -> float | None:
    """A summary of a history read; None without one (or ``best`` without a
    direction: the key is then missing from the run, as its entry says)."""
    if not history or (summary == "best" and direction is None):
        return None
    return summary_point(ordered(history), summary, direction=direction).value


def verdict_tags(result: CheckResult) -> dict[str, str]:
    """The tags recording ``result`` on its run (what ``--no-record`` leaves out)."""
    tags = {CHECK_TAG: result.outcome}
    if result.baseline is not None:
        tags[BASELINE_TAG] = result.baseline.run_id
    return tags
