"""Run references resolved against a scope: a run id, a unique prefix, ``latest~N``
(top-level runs), and the searches ``branch:``, ``tag:`` and ``best:``; and the
baseline runs a check compares with."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from kedro_metrics import filters, records, run_references, store
from kedro_metrics.errors import FilterError, RunReferenceError
from kedro_metrics.reading.scope import Scope, experiment_ids, experiment_names, sort_direction
from kedro_metrics.records import Run


def resolve_runs(
    references: str | Sequence[str], *, tracking_uri: str | None, experiment: str | None
) -> list[Run]:
    """The runs the references name, in the order given.

    ``latest`` and ``latest~N`` count top-level runs (no parent run) of
    ``experiment`` (all experiments when None) newest first by start time, whatever
    their status; a prefix must be
    unique there; a full id is found in any experiment.

    Raises:
        RunReferenceError: for an unknown reference (saying where it looked) or an
            ambiguous prefix (listing the candidates).
    """
    return resolve(Scope(store.resolve_uri(tracking_uri), experiment), references)


def resolve(scope: Scope, references: str | Sequence[str]) -> list[Run]:
    """The runs the references name, in the order given: every reference parsed (and
    each search's filter checked) before the first request; the newest runs read once
    for every ``latest~N``, one request per prefix and per full id, one search per
    ``branch:``, ``tag:`` and ``best:`` reference (``best:`` one more for the key's
    direction when the project declares none)."""
    texts = [references] if isinstance(references, str) else list(references)
    parsed = [run_references.parse_reference(text) for text in texts]
    for reference in parsed:
        if reference.is_search:
            _tag_clause(reference)  # a value MLflow's filter cannot hold fails here
    return _resolve_parsed(scope, parsed)


def _resolve_parsed(scope: Scope, parsed: Sequence[run_references.RunReference]) -> list[Run]:
    ids_once = functools.cache(lambda: experiment_ids(scope))
    newest: list[Run] = []
    depth = run_references.deepest_latest(parsed)
    if depth:
        ids = ids_once()
        newest = (
            store.search_runs(
                scope.tracking_uri, ids, limit=depth, top_level=True,
                experiment_names=experiment_names(scope, ids),
            )
            if ids
            else []
        )  # fmt: skip
    resolved = []
    for reference in parsed:
        if reference.is_latest:
            resolved.append(run_references.resolve_reference(reference, newest, where=scope.where))
        elif reference.is_search:
            resolved.append(_searched(scope, ids_once(), reference, count=1)[0])
        elif reference.is_full_id:
            found = store.get_run(scope.tracking_uri, reference.text)
            if found is None:
                where = f"any experiment at {store.redact(scope.tracking_uri)}"
                found = run_references.resolve_reference(reference, [], where=where)
            resolved.append(found)
        else:
            ids = ids_once()
            candidates = (
                store.search_runs(
                    scope.tracking_uri, ids, run_id_prefix=reference.text,
                    experiment_names=experiment_names(scope, ids),
                )
                if ids
                else []
            )  # fmt: skip
            resolved.append(
                run_references.resolve_reference(reference, candidates, where=scope.where)
            )
    return resolved


# Search references: branch:, tag:, best: ------------------------------------------


_FINISHED = filters.parse_condition(f"status = {run_references.SEARCHED_STATUS}")


def _searched(
    scope: Scope,
    ids: list[str],
    reference: run_references.RunReference,
    *,
    count: int,
    excluded: Run | None = None,
) -> list[Run]:
    """Up to ``count`` runs of a search reference's search, from the one it names on
    (at least that one), in one request of ``back + count`` runs; ``excluded`` (the
    checked run) is no candidate. ``best:`` orders by the metric, best first by its
    direction (``_best_direction``), ties newest first; a run lacking the metric (or
    whose last value is NaN, which MLflow sorts after the numbers) is no candidate.

    Raises:
        RunReferenceError: the search found no such run (saying what was searched and
            where), or fewer than the reference counts back (saying how many), or
            ``best:`` of a key without a direction.
    """
    clause, searched = _tag_clause(reference)
    conditions = [clause] if clause else []
    if excluded is not None:
        conditions.append(f"attributes.run_id != '{excluded.run_id}'")
        searched += f", other than the checked run {excluded.run_id}"
    found: list[Run] = []
    if ids:
        order_by = None
        if reference.search == run_references.BEST:
            sort = filters.Sort(str(reference.key))
            order_by = filters.order_by(sort, _best_direction(scope, ids, reference))
        found = store.search_runs(
            scope.tracking_uri, ids, status=run_references.SEARCHED_STATUS,
            limit=(reference.back or 0) + count, filter_string=" AND ".join(conditions),
            order_by=order_by, experiment_names=experiment_names(scope, ids),
        )  # fmt: skip
        if reference.search == run_references.BEST:
            found = [run for run in found if _holds_number(run, str(reference.key))]
    matched = run_references.resolve_search(reference, found, searched=searched, where=scope.where)
    return matched[:count]


def _tag_clause(reference: run_references.RunReference) -> tuple[str, str]:
    """(MLflow filter, what it looks for, for messages) of a search reference: the
    tag's condition for ``branch:`` (the git branch tag the hook sets) and ``tag:``,
    quoted as ``filters`` quotes a ``--where`` value; no filter for ``best:``."""
    if reference.search == run_references.BEST:
        return "", f"metric {reference.key!r}"
    key = (
        store.STANDARD_TAG_NAMES.git_branch
        if reference.search == run_references.BRANCH
        else reference.key
    )
    condition = filters.Condition(reference.text, filters.TAG, str(key), "=", str(reference.value))
    try:
        clause = filters.to_filter_string([condition])
    except FilterError as exc:
        raise RunReferenceError(f"{exc} Name the run by its id instead.") from None
    return clause, f"tag {key} = {clause.partition('` = ')[2]}"


def _best_direction(scope: Scope, ids: list[str], reference: run_references.RunReference) -> str:
    """The direction of a ``best:`` key: the project's declarations', else what the
    newest FINISHED run recorded (one request, as ``--sort`` finds it).

    Raises:
        RunReferenceError: neither gives one.
    """
    key = str(reference.key)
    direction = scope.meaning_of_none()(key).direction
    if direction is None:
        direction = sort_direction(scope, ids, filters.Sort(key), [_FINISHED])
    if direction is None:
        raise RunReferenceError(
            f"Run reference {reference.text!r} needs the direction of {key!r}: declare it "
            f"under 'metrics:' in metrics.yml (metrics: {{{key!r}: {{direction: max}}}} or "
            "min, docs/meaning.md), or name the run another way."
        )
    return direction


def _holds_number(run: Run, key: str) -> bool:
    point = run.latest.get(key)
    return point is not None and not math.isnan(point.value)


# Baselines -------------------------------------------------------------------------


def baseline_runs(
    scope: Scope, reference: str | None, *, checked: Run, count: int = 1
) -> list[Run]:
    """The runs ``checked`` is compared with (``kedro metrics check``), newest or
    best first, up to ``count`` of them (noise samples), in one or two requests:

    - ``reference`` None (the default, ``latest~1`` of the checked run): the newest
      runs of the scope's experiment started before ``checked``, whatever their status;
    - a search reference (``branch:``, ``tag:``, ``best:``): the runs of its search
      from the one it names on, the checked run left out of the search (so
      ``branch:main`` checking the newest run of main is the run of main before it);
    - any other reference (id, prefix, ``latest~N``): the one run it names.

    Fewer than ``count`` runs come back when there are no more; never none.

    Raises:
        RunReferenceError: no baseline run (saying what was searched and where, the
            check exits 2), or a single-run reference naming the checked run itself.
        ValueError: ``count`` below 1.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}.")
    if reference is None:
        return _runs_before(scope, checked, count)
    parsed = run_references.parse_reference(reference)
    if parsed.is_search:
        _tag_clause(parsed)  # a value MLflow's filter cannot hold fails before any request
        return _searched(scope, experiment_ids(scope), parsed, count=count, excluded=checked)
    (found,) = _resolve_parsed(scope, [parsed])
    if found.run_id == checked.run_id:
        raise RunReferenceError(
            f"The baseline {parsed.text!r} is the checked run {checked.run_id} itself: name "
            "another run (e.g. 'latest~1', 'branch:main' or a run id)."
        )
    return [found]


def _runs_before(scope: Scope, checked: Run, count: int) -> list[Run]:
    """The ``count`` newest runs (any status) of the scope started before ``checked``
    (one search); RunReferenceError when there is none."""
    ids = experiment_ids(scope)
    conditions = [f"attributes.run_id != '{checked.run_id}'"]
    if checked.start_time is not None:
        conditions.append(f"attributes.start_time < {checked.start_time}")
    found = (
        store.search_runs(
            scope.tracking_uri,
            ids,
            limit=count,
            filter_string=" AND ".join(conditions),
            experiment_names=experiment_names(scope, ids),
        )  # fmt: skip
        if ids
        else []
    )
    if not found:
        started = records.iso_utc(checked.start_time) or "an unknown time"
        raise RunReferenceError(
            f"No baseline for run {checked.run_id}: {scope.where} has no run started before "
            f"it ({started}). Name the baseline (a run id, 'branch:main', 'tag:KEY=VALUE', "
            "'best:KEY')."
        )
    return found
