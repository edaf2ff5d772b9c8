"""A logistic regression trained by gradient descent in plain numpy.

The node functions return plain Python objects; the ones whose outputs are
metrics datasets in conf/base/catalog.yml return a dict of metric name to a
number or a list of numbers (a history, logged at steps 0..n-1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Each class takes half the samples; a probability of at least a half predicts 1.
HALF = 0.5


def make_data(params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds of points, one per class (labels 0 and 1)."""
    rng = np.random.default_rng(params["seed"])
    n_samples, n_features = params["n_samples"], params["n_features"]
    direction = rng.normal(size=n_features)
    direction /= np.linalg.norm(direction)
    labels = (rng.random(n_samples) < HALF).astype(float)
    centres = np.outer(2 * labels - 1, direction) * params["separation"] / 2
    features = centres + rng.normal(scale=params["noise"], size=(n_samples, n_features))
    return features, labels


def split_data(
    features: np.ndarray, labels: np.ndarray, params: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random train/test split: X_train, X_test, y_train, y_test."""
    order = np.random.default_rng(params["seed"]).permutation(len(labels))
    n_test = round(len(labels) * params["test_fraction"])
    test, train = order[:n_test], order[n_test:]
    return features[train], features[test], labels[train], labels[test]


def train_model(
    features: np.ndarray, labels: np.ndarray, params: dict[str, Any]
) -> tuple[dict[str, Any], list[float]]:
    """Full-batch gradient descent on the L2-regularised mean log-loss.

    Returns the model and its training loss after each epoch.
    """
    n_samples, n_features = features.shape
    weights, bias = np.zeros(n_features), 0.0
    losses = []
    for _ in range(params["epochs"]):
        error = _sigmoid(features @ weights + bias) - labels
        weights -= params["learning_rate"] * (
            features.T @ error / n_samples + params["l2"] * weights
        )
        bias -= params["learning_rate"] * float(error.mean())
        model = {"weights": weights.copy(), "bias": bias}
        losses.append(log_loss(labels, predict_proba(model, features)))
    return {"weights": weights, "bias": bias}, losses


def evaluate_model(
    model: dict[str, Any], features: np.ndarray, labels: np.ndarray, loss_curve: list[float]
) -> dict[str, Any]:
    """model_metrics: the training loss curve and the final test-set scores."""
    return {"loss": loss_curve, **classification_scores(labels, predict(model, features))}


def score_split(
    model: dict[str, Any], features: np.ndarray, labels: np.ndarray
) -> dict[str, float]:
    """train_scores / test_scores: accuracy and log-loss on one split."""
    return {
        "accuracy": classification_scores(labels, predict(model, features))["accuracy"],
        "log_loss": log_loss(labels, predict_proba(model, features)),
    }


def predict_proba(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """P(label = 1) for each row."""
    return _sigmoid(features @ model["weights"] + model["bias"])


def predict(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """The predicted label (0 or 1) of each row."""
    return (predict_proba(model, features) >= HALF).astype(float)


def classification_scores(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, precision and recall of the positive class (0 when undefined)."""
    true_positives = float(np.sum((predicted == 1) & (labels == 1)))
    predicted_positives = float(np.sum(predicted == 1))
    actual_positives = float(np.sum(labels == 1))
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "precision": true_positives / predicted_positives if predicted_positives else 0.0,
        "recall": true_positives / actual_positives if actual_positives else 0.0,
    }


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The mean negative log-likelihood of the labels."""
    p = np.clip(probabilities, 1e-12, 1 - 1e-12)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
