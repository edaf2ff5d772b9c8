"""What one save's points link to in MLflow 3 (``links``), resolved once before the
save writes anything: the data its dataset was evaluated on, and the LoggedModel by
MLflow's own rule (the dataset's ``model:``, else the saving thread's active model,
else the run's model outputs at each point's step). ``store.models`` says what each
costs: nothing unless a model is in play.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from kedro_metrics import store
from kedro_metrics.errors import NoModelError, StoreUnavailableError
from kedro_metrics.links import NO_LINK, PointLink, link_for
from kedro_metrics.process import state
from kedro_metrics.run_source import WORKERS_RUN_VARIABLE

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class LinkRequest:
    """What a metrics dataset asks its points to link to: ``dataset`` = (catalog name,
    digest) of the first data its ``evaluated_on`` names; ``model_dataset`` = the
    catalog name its ``model:`` gives."""

    dataset: tuple[str, str] | None = None
    model_dataset: str | None = None


def link_of(
    request: LinkRequest | None, tracking_uri: str | None, run_id: str | None, label: str
) -> PointLink:
    """The link of a save of ``label`` to ``run_id`` (None: a run spooled offline,
    not in the store yet: no model of it to link).

    Raises:
        NoModelError: ``model:`` names a dataset whose save logged no model in the run
            (a store that cannot answer is one warning: no model link).
    """
    request = request or LinkRequest()
    model_id = None
    if request.model_dataset is not None and run_id is not None:
        named = request.model_dataset
        model_id = _looked_up(
            label, f"the model {named!r}",
            lambda: store.model_logged_by(tracking_uri, run_id, named) or _no_model(named, run_id),
        )  # fmt: skip
    active = store.active_model_id()
    outputs = []
    if model_id is None and active is None and run_id is not None:
        outputs = _looked_up(
            label, f"the models of run {run_id}",
            lambda: store.model_outputs(tracking_uri, run_id, shared=shared_run(run_id)),
        ) or []  # fmt: skip
    if request.dataset is None and model_id is None and active is None and not outputs:
        return NO_LINK
    return link_for(
        dataset=request.dataset, model_id=model_id, active_model_id=active, outputs=outputs
    )


def _no_model(named: str, run_id: str) -> NoReturn:
    raise NoModelError(
        f"its metrics link to the model {named!r} (`model:`), but no save of {named!r} "
        f"logged an MLflow model in run {run_id}. Save the model first: make the node "
        "that computes these metrics take the model as an input, or drop `model:`."
    )


def _looked_up(label: str, what: str, look_up: Callable[[], T]) -> T | None:
    """``look_up()``; None when the store could not answer (one warning per lookup
    and run, the next ones at DEBUG): the points
    then go, spooled if need be, without that link. Links are context: an
    unavailable store must not cost the metrics."""
    try:
        return look_up()
    except StoreUnavailableError as exc:
        with state.lock:  # one warning per lookup, the others at DEBUG
            first = f"links:{what}" not in state.warned_spools
            state.warned_spools.add(f"links:{what}")
        logger.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: %s could not be looked up, so its points go without that link: %s",
            label, what, exc,
        )  # fmt: skip
        return None


def shared_run(run_id: str) -> bool:
    """Do other processes log models to ``run_id`` too? In a ParallelRunner worker
    (the hook names the run in ``WORKERS_RUN_VARIABLE``), and for a run the hook
    resumed (``MLFLOW_RUN_ID``: a task of a pipeline spread over containers): then a
    save reads the run's model outputs every time. Any other process (a script's
    multiprocessing pool) reads them only after it logged a model itself."""
    in_a_worker = multiprocessing.parent_process() is not None
    return (in_a_worker and os.environ.get(WORKERS_RUN_VARIABLE) == run_id) or (
        run_id in state.shared_runs
    )
