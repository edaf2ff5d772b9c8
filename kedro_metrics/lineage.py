"""Where a metric came from: the node that saved its dataset, that node's namespace
and its inputs, recorded in one run tag per metrics dataset, and read back to group
a run's keys by node, namespace or dataset. Pure: no I/O.

The tags (docs/lineage.md):
- ``kedro_metrics.source.<dataset>``: ``{"node", "namespace", "inputs"}`` as JSON,
  inputs in the node's order, parameters left out; when too long for a tag value,
  ``inputs`` is cut and ends with ``"...(+N more)"``;
- ``kedro_metrics.inputs.<n>.<dataset>``: only when ``inputs`` was cut, the whole
  list as JSON in pieces (n = 0, 1, ...), so that ``export`` gives every input;
- ``kedro_metrics.evaluated_on.<dataset>``: for a dataset with ``evaluated_on``, the
  data its metrics were computed on, ``[{"name", "digest"}, ...]`` as JSON;
- ``kedro_metrics.keys.<dataset>``: only when the dataset's keys do not start with
  its catalog name (an explicit ``prefix`` or ``key``): the prefix or key they do;
  empty for ``prefix: ""``, whose keys are then attributed to no dataset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SOURCE_TAG = "kedro_metrics.source"
INPUTS_TAG = "kedro_metrics.inputs"
KEYS_TAG = "kedro_metrics.keys"
EVALUATED_TAG = "kedro_metrics.evaluated_on"
#: How many hex characters of the sha256 a data digest keeps.
DIGEST_LENGTH = 16
#: What ``--by`` groups rows by.
GROUPINGS = ("node", "namespace", "dataset")


@dataclass(frozen=True)
class Source:
    """The node that saved a metrics dataset: its full (namespaced) name, its
    namespace (None outside one) and its input datasets, parameters left out."""

    node: str
    namespace: str | None
    inputs: tuple[str, ...]

    @classmethod
    def of_node(cls, name: str, namespace: str | None, inputs: Iterable[str]) -> Source:
        return cls(name, namespace or None, tuple(i for i in inputs if not is_parameter(i)))

    def as_json(self) -> dict[str, Any]:
        return {"node": self.node, "namespace": self.namespace, "inputs": list(self.inputs)}


def is_parameter(dataset: str) -> bool:
    """Kedro's parameter inputs: ``parameters`` and ``params:<name>``."""
    return dataset == "parameters" or dataset.startswith("params:")


def source_tags(
    sources: Mapping[str, Source], *, limit: int, keys: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The run tags recording ``sources`` (dataset -> the node that saves it), each
    value at most ``limit`` characters; ``keys``: dataset -> the prefix or key its
    metrics are logged under, recorded where it is not the dataset's name ("" for
    no prefix)."""
    tags: dict[str, str] = {}
    for dataset, source in sources.items():
        text, cut = _fitted(source, limit)
        tags[f"{SOURCE_TAG}.{dataset}"] = text
        if cut:
            whole = _compact(list(source.inputs))
            for number, start in enumerate(range(0, len(whole), limit)):
                tags[f"{INPUTS_TAG}.{number}.{dataset}"] = whole[start : start + limit]
    for dataset, name in (keys or {}).items():
        if dataset in sources and name != dataset:
            tags[f"{KEYS_TAG}.{dataset}"] = name
    return tags


def _fitted(source: Source, limit: int) -> tuple[str, bool]:
    """The source as JSON within ``limit`` characters, and whether inputs were cut."""
    text = _compact(source.as_json())
    if len(text) <= limit:
        return text, False
    inputs = list(source.inputs)
    low, high = 0, len(inputs)  # the most inputs kept that still fit, by bisection
    while low < high:
        kept = (low + high + 1) // 2
        if len(_cut(source, inputs, kept)) <= limit:
            low = kept
        else:
            high = kept - 1
    text = _cut(source, inputs, low)
    if len(text) > limit:  # a node name longer than a tag: the name is cut as well
        marker = "..."
        room = max(0, len(source.node) - (len(text) - limit) - len(marker))
        text = _cut(Source(source.node[:room] + marker, source.namespace, ()), inputs, 0)
    return text, True


def _cut(source: Source, inputs: list[str], kept: int) -> str:
    shown = [*inputs[:kept], f"...(+{len(inputs) - kept} more)"]
    return _compact({**source.as_json(), "inputs": shown})


def _compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def recorded_sources(tags: Mapping[str, str], *, whole: bool = False) -> dict[str, Source]:
    """The sources a run's tags record, by dataset; a tag that does not parse is left
    out. ``whole``: inputs that were cut come back whole from their pieces."""
    found: dict[str, Source] = {}
    prefix = f"{SOURCE_TAG}."
    for name, value in tags.items():
        if not name.startswith(prefix):
            continue
        dataset = name[len(prefix) :]
        source = _parsed(value)
        if source is None:
            continue
        if whole and source.inputs and source.inputs[-1].startswith("...(+"):
            inputs = _whole_inputs(tags, dataset)
            source = Source(source.node, source.namespace, inputs or source.inputs)
        found[dataset] = source
    return dict(sorted(found.items()))


def _parsed(value: str) -> Source | None:
    try:
        document = json.loads(value)
        node, namespace, inputs = document["node"], document["namespace"], document["inputs"]
    except (ValueError, TypeError, KeyError):
        return None
    if not (isinstance(node, str) and isinstance(inputs, list)):
        return None
    if namespace is not None and not isinstance(namespace, str):
        return None
    return Source(node, namespace, tuple(str(i) for i in inputs))


def _whole_inputs(tags: Mapping[str, str], dataset: str) -> tuple[str, ...] | None:
    pieces = []
    number = 0
    while (piece := tags.get(f"{INPUTS_TAG}.{number}.{dataset}")) is not None:
        pieces.append(piece)
        number += 1
    try:
        inputs = json.loads("".join(pieces)) if pieces else None
    except ValueError:
        return None
    return tuple(str(i) for i in inputs) if isinstance(inputs, list) else None


def key_names(tags: Mapping[str, str]) -> dict[str, str]:
    """Dataset -> the name its keys start with (its catalog name unless recorded)."""
    datasets = recorded_sources(tags)
    names = {dataset: dataset for dataset in datasets}
    prefix = f"{KEYS_TAG}."
    for name, value in tags.items():
        dataset = name[len(prefix) :]
        if name.startswith(prefix) and dataset in names:
            if value:
                names[dataset] = value
            else:  # ``prefix: ""``: its keys cannot be told from others'
                del names[dataset]
    return names


def dataset_of(key: str, names: Mapping[str, str]) -> str | None:
    """The dataset that logged ``key``: the one whose name is the key or the longest
    ``name.`` the key starts with; None when no recorded dataset's is."""
    best: tuple[int, str] | None = None
    for dataset, name in names.items():
        if key == name or key.startswith(f"{name}."):
            if best is None or len(name) > best[0]:
                best = (len(name), dataset)
    return best[1] if best else None


# The data metrics were computed on -----------------------------------------------


def data_digest(
    description: Mapping[str, Any], *, version: str | None = None, content: Iterable[bytes] = ()
) -> str:
    """The first ``DIGEST_LENGTH`` hex characters of a sha256 over a dataset's
    ``description`` (type, filepath or table, load args) and either its resolved
    load ``version`` or its ``content`` (a file's bytes, a folder's files in sorted
    relative-path order), whichever the caller has."""
    canonical = json.dumps(description, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode())
    if version is not None:
        digest.update(f"\0version:{version}".encode())
    for chunk in content:
        digest.update(chunk)
    return digest.hexdigest()[:DIGEST_LENGTH]


def clean_source(uri: str) -> str:
    """A path or URL without credentials, query and fragment."""
    parts = urlsplit(uri)
    if not parts.scheme or len(parts.scheme) == 1:  # a path (C: is a drive)
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def evaluated_tags(evaluated: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """One tag per metrics dataset: the data (name -> digest) it was evaluated on."""
    return {
        f"{EVALUATED_TAG}.{dataset}": _compact([{"name": n, "digest": d} for n, d in data.items()])
        for dataset, data in evaluated.items()
    }


def recorded_evaluations(tags: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Dataset -> {data name: digest}, from a run's tags (a tag that does not parse
    is left out)."""
    found: dict[str, dict[str, str]] = {}
    prefix = f"{EVALUATED_TAG}."
    for name, value in tags.items():
        if not name.startswith(prefix):
            continue
        try:
            entries = json.loads(value)
            found[name[len(prefix) :]] = {str(e["name"]): str(e["digest"]) for e in entries}
        except (ValueError, TypeError, KeyError):
            continue
    return found


@dataclass(frozen=True)
class SameData:
    """Were the runs compared evaluated on the same data? ``same``: True, False, or
    None (a run has no record, or they share no name); ``differs``: the first
    shared name whose digests differ, with the two digests."""

    same: bool | None
    differs: tuple[str, str, str] | None = None


def same_data(evaluations: Sequence[Mapping[str, str] | None]) -> SameData:
    """``same_data`` of one key over the runs compared (each run's data name ->
    digest for the key's dataset, None where the run records none)."""
    if len(evaluations) < 2 or any(not e for e in evaluations):  # noqa: PLR2004
        return SameData(None)
    shared = set.intersection(*(set(e) for e in evaluations if e))
    if not shared:
        return SameData(None)
    first = evaluations[0] or {}
    for name in sorted(shared):
        for other in evaluations[1:]:
            if (other or {})[name] != first[name]:
                return SameData(False, (name, first[name], (other or {})[name]))
    return SameData(True)


@dataclass(frozen=True)
class Attribution:
    """Which dataset and node every key of a run came from (from its tags), and the
    data each dataset was evaluated on."""

    names: Mapping[str, str]
    sources: Mapping[str, Source]
    evaluations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def of_tags(cls, tags: Mapping[str, str]) -> Attribution:
        evaluations = recorded_evaluations(tags)
        names = key_names(tags)
        for dataset in evaluations:  # a dataset with evaluated_on but no source tag
            names.setdefault(dataset, dataset)
        return cls(names, recorded_sources(tags), evaluations)

    def merged(self, newer: Attribution) -> Attribution:
        """This run's attribution with a newer run's over it (compare: the newest wins)."""
        return Attribution(
            {**self.names, **newer.names},
            {**self.sources, **newer.sources},
            {**self.evaluations, **newer.evaluations},
        )

    def evaluated_on(self, key: str) -> Mapping[str, str] | None:
        """The data (name -> digest) the dataset of ``key`` was evaluated on."""
        dataset = self.dataset(key)
        return self.evaluations.get(dataset) if dataset else None

    def dataset(self, key: str) -> str | None:
        return dataset_of(key, self.names)

    def source(self, key: str) -> Source | None:
        dataset = self.dataset(key)
        return self.sources.get(dataset) if dataset else None

    def group(self, key: str, by: str) -> str | None:
        """The value of ``--by`` (node, namespace, dataset) for ``key``, None unknown."""
        if by == "dataset":
            return self.dataset(key)
        source = self.source(key)
        if source is None:
            return None
        return source.node if by == "node" else source.namespace

    def matches(self, key: str, *, node: str | None, namespace: str | None) -> bool:
        """``get_metrics(node=..., namespace=...)``: each filter given holds exactly."""
        source = self.source(key)
        if source is None:
            return node is None and namespace is None
        return (node is None or source.node == node) and (
            namespace is None or source.namespace == namespace
        )


def grouped(
    rows: Sequence[Mapping[str, Any]], by: str, group_of: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """``rows`` (each with a ``name``) with a field named ``by`` holding the group of
    the row's key (``group_of``), ordered by group (sorted, unknown last), the rows'
    order kept inside a group."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}; got {by!r}.")
    with_group = [{**row, by: group_of.get(row["name"])} for row in rows]
    return sorted(with_group, key=lambda row: (row[by] is None, row[by] or ""))
