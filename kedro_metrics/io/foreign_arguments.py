"""Arguments of kedro-mlflow's metrics datasets and of Kedro's removed
``tracking.MetricsDataset`` that kedro-metrics' datasets do not take: refused with
what to write instead (docs/migrating.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.io import DatasetError

_SEE_MIGRATING = "See docs/migrating.md in the kedro-metrics repository."


def refuse_foreign_arguments(cls: str, foreign: Mapping[str, Any]) -> None:
    """Arguments of kedro-mlflow's metrics datasets or of Kedro's removed
    ``tracking.MetricsDataset`` that these datasets do not take: a DatasetError naming
    what to write instead. Any other unknown argument: the TypeError Python gives."""
    for name in foreign:
        if name not in ("save_args", "filepath"):
            raise TypeError(f"{cls}.__init__() got an unexpected keyword argument {name!r}")
    if "save_args" in foreign:
        hints = "; ".join(_save_args_hints(foreign["save_args"]))
        raise DatasetError(
            f"{cls} takes no `save_args` (a kedro-mlflow argument): {hints}. {_SEE_MIGRATING}"
        )
    raise DatasetError(
        f"{cls} takes no `filepath` (Kedro's tracking.MetricsDataset wrote a JSON file): "
        "the metrics go to MLflow; remove `filepath`, the node's flat dict of numbers is "
        f"saved as it is. {_SEE_MIGRATING}"
    )


def _save_args_hints(save_args: Any) -> list[str]:
    """What each of kedro-mlflow's ``save_args`` is here."""
    if not isinstance(save_args, Mapping) or not save_args:
        return ["give steps with the values (a point: {value, step}) or `steps: continue`"]
    hints = []
    for key, value in save_args.items():
        given = f"`save_args: {{{key}: {value}}}`"
        if key == "mode" and value == "append":
            hints.append(f"{given} is `steps: continue` here")
        elif key == "mode" and value == "dict":
            hints.append(
                f'{given} ({{step: value}}) is a list of points here: save [{{"value": '
                '<number>, "step": <step>}, ...]'
            )
        elif key == "mode":  # overwrite (kedro-mlflow's default), list, history
            hints.append(
                f"{given} has no equivalent to write: values are logged at the steps they "
                "give (a number at step 0), so leave it out"
            )
        elif key in ("step", "timestamp"):
            hints.append(f'{given} is a point here: save {{"value": <number>, "{key}": {value}}}')
        else:
            hints.append(f"{given} has no equivalent here")
    return hints
