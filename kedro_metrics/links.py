"""What MLflow 3 links each point of one save to: the data its metrics were computed
on (``dataset_name``, ``dataset_digest``) and the LoggedModel (``model_id``). Pure:
no I/O.

MLflow's own rule (``mlflow.log_metrics``), followed here: a point's model is the
one given, else the saving thread's active model (``mlflow.set_active_model``,
``MLFLOW_ACTIVE_MODEL_ID``), else each LoggedModel the run output at the point's
step; with several of those, the point is written once per model. MLflow keeps the
links only for points that carry a ``model_id`` (on the LoggedModel's metrics);
the run's plain metric history drops them.

A save's link travels with its points through the spool (``as_record`` /
``from_record``), so ``kedro metrics sync`` delivers them linked as the save
would have.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_NO_MODEL: tuple[str | None, ...] = (None,)


@dataclass(frozen=True)
class PointLink:
    """The links of every point of one save.

    ``model_id`` links every point; without it, ``step_models`` gives the models
    the run output at each step (a point at another step links to no model).
    """

    dataset_name: str | None = None
    dataset_digest: str | None = None
    model_id: str | None = None
    step_models: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.dataset_name or self.model_id or self.step_models)

    def models_at(self, step: int) -> tuple[str | None, ...]:
        """The model ids a point at ``step`` is written with (None: no model)."""
        if self.model_id is not None:
            return (self.model_id,)
        return self.step_models.get(step) or _NO_MODEL

    def as_record(self) -> dict[str, Any]:
        """The link as JSON for the spool (only the fields that are set)."""
        record: dict[str, Any] = {}
        if self.dataset_name is not None:
            record["dataset_name"] = self.dataset_name
            record["dataset_digest"] = self.dataset_digest
        if self.model_id is not None:
            record["model_id"] = self.model_id
        if self.step_models:
            record["step_models"] = [[step, list(ids)] for step, ids in self.step_models.items()]
        return record

    @classmethod
    def from_record(cls, record: Any) -> PointLink | None:
        """The link ``as_record`` wrote; None when ``record`` is not one."""
        if not isinstance(record, dict) or set(record) - _RECORD_FIELDS:
            return None
        name, digest, model = (
            record.get("dataset_name"),
            record.get("dataset_digest"),
            record.get("model_id"),
        )
        if not all(v is None or isinstance(v, str) for v in (name, digest, model)):
            return None
        step_models = _step_models(record.get("step_models", []))
        if step_models is None:
            return None
        return cls(name, digest, model, step_models)


_RECORD_FIELDS = frozenset({"dataset_name", "dataset_digest", "model_id", "step_models"})


def _step_models(rows: Any) -> dict[int, tuple[str, ...]] | None:
    if not isinstance(rows, list):
        return None
    found: dict[int, tuple[str, ...]] = {}
    for row in rows:
        if not (
            isinstance(row, list)
            and len(row) == 2  # noqa: PLR2004 - [step, [model ids]]
            and isinstance(row[0], int)
            and not isinstance(row[0], bool)
            and isinstance(row[1], list)
            and row[1]
            and all(isinstance(i, str) for i in row[1])
        ):
            return None
        found[row[0]] = tuple(row[1])
    return found


def link_for(
    *,
    dataset: tuple[str, str] | None = None,
    model_id: str | None = None,
    active_model_id: str | None = None,
    outputs: Iterable[tuple[str, int]] = (),
) -> PointLink:
    """One save's link by MLflow's rule: ``dataset`` = (name, digest) of the data,
    ``model_id`` the model named for the dataset (``model:``), ``active_model_id``
    the saving thread's, ``outputs`` the run's LoggedModel outputs as (id, step)."""
    name, digest = dataset if dataset is not None else (None, None)
    chosen = model_id or active_model_id
    if chosen is not None:
        return PointLink(name, digest, chosen)
    by_step: dict[int, list[str]] = {}
    for output_id, step in outputs:
        ids = by_step.setdefault(step, [])
        if output_id not in ids:
            ids.append(output_id)
    return PointLink(name, digest, None, {step: tuple(ids) for step, ids in by_step.items()})


NO_LINK = PointLink()
