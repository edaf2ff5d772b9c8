"""The catalog name a dataset is being created under, read from Kedro's own factory.

Kedro's catalog creates every dataset of a catalog entry through
``AbstractDataset.from_config(name, config, ...)``, which calls the dataset's class
with ``config`` only: the name stays in that call. A metrics dataset needs its name
(it is the prefix, or key, of its metrics) also where no hook gives it: Kedro-Viz
without ``--include-hooks``, a ``DataCatalog.from_config`` in a script. So its
constructor asks here for the ``name`` argument of the ``from_config`` call it runs
inside, if any. The frame is recognised by its code object, so no other function's
``name`` is ever taken; outside ``from_config`` (a dataset built in Python) there is
no name. Nor is there one under a name that begins with ``_``: Kedro's config loader
drops such catalog keys (they hold YAML anchors), and Kedro gives that kind of name
to a dataset it wraps (``CachedDataset`` creates its inner dataset as ``"_cached"``).
"""

from __future__ import annotations

import sys

from kedro.io import AbstractDataset

#: ``from_config`` -> the class's ``__init__`` as Kedro wraps it -> our ``__init__``s:
#: a few frames; looking further would only find a ``from_config`` of someone else's.
_MAX_FRAMES = 8


def name_being_created() -> str | None:
    """The catalog name of the ``AbstractDataset.from_config`` call the caller's
    constructor runs inside; None outside one."""
    factory = AbstractDataset.from_config.__func__.__code__  # type: ignore[attr-defined]
    frame = sys._getframe(1)  # the caller's frame, read only
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return None
        if frame.f_code is factory:
            name = frame.f_locals.get("name")
            entry = isinstance(name, str) and name and not name.startswith("_")
            return name if entry else None
        frame = frame.f_back
    return None
