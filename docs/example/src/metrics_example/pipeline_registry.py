"""The example's one pipeline: make data, split, train, evaluate, score each split."""

from __future__ import annotations

from kedro.pipeline import Pipeline, node, pipeline

from metrics_example import nodes


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines."""
    training = pipeline(
        [
            node(nodes.make_data, "params:data", ["features", "labels"], name="make_data"),
            node(
                nodes.split_data,
                ["features", "labels", "params:split"],
                ["X_train", "X_test", "y_train", "y_test"],
                name="split_data",
            ),
            node(
                nodes.train_model,
                ["X_train", "y_train", "params:model"],
                ["model", "loss_curve"],
                name="train_model",
            ),
            # model_metrics: loss curve + final accuracy/precision/recall on the test set
            node(
                nodes.evaluate_model,
                ["model", "X_test", "y_test", "loss_curve"],
                "model_metrics",
                name="evaluate_model",
            ),
            # train_scores and test_scores both come from the "{split}_scores" factory
            node(
                nodes.score_split,
                ["model", "X_train", "y_train"],
                "train_scores",
                name="score_train",
            ),
            node(
                nodes.score_split, ["model", "X_test", "y_test"], "test_scores", name="score_test"
            ),
        ]
    )
    return {"__default__": training, "training": training}
