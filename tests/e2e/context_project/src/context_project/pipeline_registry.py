"""The pipelines of the run-context e2e project."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from context_project import nodes


def register_pipelines() -> dict[str, Pipeline]:
    """__default__ appends, saves every shape and text values; "bad" fails validation."""
    appends = [
        node(
            nodes.append,
            [f"params:index_{i}", *([f"token_{i - 1}"] if i else [])],
            [f"append_{i}", f"token_{i}"],
            name=f"append_{i}",
        )
        for i in range(3)
    ]
    default = pipeline(
        [
            *appends,
            node(nodes.shapes, None, "shape_metrics", name="shapes"),
            node(nodes.texts, None, "tag_metrics", name="tags"),
            node(nodes.texts, None, "param_metrics", name="params"),
        ]
    )
    return {
        "__default__": default,
        "bad": pipeline([node(nodes.bad, None, "bad_metrics", name="bad")]),
    }
