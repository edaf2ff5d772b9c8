"""The pipelines of the e2e project; each e2e test runs one of them."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from e2e_project import nodes

#: Outputs of the runner pipeline: four explicit catalog entries, four from a pattern.
HISTORY_OUTPUTS = [f"hist_{i}" for i in range(4)] + [f"f{i}_hist" for i in range(4, 8)]


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines."""
    prefixes = pipeline(
        [
            node(nodes.model_scores, None, "model_metrics", name="model_scores"),
            node(nodes.eval_scores, None, "eval_metrics", name="eval_scores"),
            node(nodes.flat_scores, None, "flat_metrics", name="flat_scores"),
            *[
                node(
                    nodes.factory_scores,
                    f"params:factory_index.{letter}",
                    f"{letter}_metrics",
                    name=f"{letter}_scores",
                )
                for letter in "abcd"
            ],
            node(nodes.holdout_accuracy, None, "holdout_accuracy", name="holdout_accuracy"),
        ]
    )
    runners = pipeline(
        [
            node(
                nodes.history,
                [f"params:history_index.{output}", "params:steps"],
                output,
                name=f"history_{output}",
            )
            for output in HISTORY_OUTPUTS
        ]
    )
    failing = pipeline(
        [
            node(nodes.record_progress, None, ["partial_metrics", "token"], name="record_progress"),
            node(nodes.explode, "token", None, name="explode"),
        ]
    )
    interruptible = pipeline(
        [
            node(nodes.progress, None, ["progress_metrics", "go_token"], name="progress"),
            node(
                nodes.wait_for_signal,
                ["go_token", "params:long_node_seconds"],
                None,
                name="wait_for_signal",
            ),
        ]
    )
    outage = pipeline(
        [
            node(
                nodes.before_outage, None, ["before_metrics", "outage_token"], name="before_outage"
            ),
            node(nodes.wait_for_resume, "outage_token", "resumed_token", name="wait_for_resume"),
            node(nodes.after_outage, "resumed_token", "after_metrics", name="after_outage"),
        ]
    )
    small = pipeline([node(nodes.answer, None, "small_metrics", name="answer")])
    large = pipeline(
        [
            node(nodes.answer, None, "small_metrics", name="answer"),
            node(nodes.large_history, "params:large_points", "large_metrics", name="large"),
        ]
    )
    labelled = pipeline([node(nodes.labelled, None, "labelled_metrics", name="labelled")])
    meaning = pipeline(
        [node(nodes.quality_scores, "params:quality", "scored_metrics", name="quality_scores")]
    )
    gated = pipeline(
        [
            node(nodes.quality_scores, "params:quality", "scored_metrics", name="quality_scores"),
            node(nodes.register_when_passed, "scored_metrics", "gate_metrics", name="gate"),
        ]
    )
    evaluation = pipeline(
        [
            node(nodes.split_test, ["features", "params:test_share"], "X_test", name="split"),
            node(
                nodes.evaluate,
                ["X_test", "features", "params:threshold"],
                "scores",
                name="evaluate",
            ),
        ]
    )
    lineage = pipeline([node(nodes.make_features, None, "features", name="make_features")])
    for namespace in ("candidate", "champion"):
        lineage += pipeline(evaluation, namespace=namespace, inputs={"features"})
    evaluated = pipeline(
        [
            node(
                nodes.score_on,
                ["test_split", "reference_table"],
                "evaluated_metrics",
                name="score_on",
            )
        ]
    )
    models = pipeline(
        [
            node(nodes.train, None, "model", name="train"),
            node(nodes.score_model, ["model", "test_split"], "model_scores", name="score_model"),
            node(nodes.train_and_score, None, "inline_scores", name="inline"),
        ]
    )
    return {
        "__default__": prefixes,
        "prefixes": prefixes,
        "runners": runners,
        "failing": failing,
        "small": small,
        "labelled": labelled,
        "interruptible": interruptible,
        "outage": outage,
        "large": large,
        "meaning": meaning,
        "gated": gated,
        "lineage": lineage,
        "evaluated": evaluated,
        "models": models,
    }
