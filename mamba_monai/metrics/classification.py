"""Classification report: accuracy, precision / recall / F1 / specificity per class and averaged, one-vs-rest ROC AUC
per class and averaged, confusion matrix; computed with numpy (scikit-learn is not a dependency) and checked against
scikit-learn's definitions.

Conventions (those of scikit-learn): the confusion matrix has one row per true class and one column per predicted
class; a precision or recall whose denominator is zero is 0.0; the macro average is the plain mean over all classes,
the weighted average weights each class by its support (number of true samples). AUC is one-vs-rest from the scores
of each class, with ties counted as half (the trapezoidal ROC area); it is undefined (NaN) for a class that is absent
from ``y_true`` (no positives) or that is the only class present (no negatives), and the AUC averages skip those
classes, with a note in the report saying so, where ``sklearn.metrics.roc_auc_score`` would raise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["classification_report", "confusion_matrix", "one_vs_rest_auc", "scores_to_probabilities", "to_jsonable"]


def _as_numpy(data: Any, name: str) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().double().numpy()
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"classification_report: {name} must be numeric, got {type(data).__name__}: {error}") from None


def _labels_and_scores(y_true: Any, y_prob: Any, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert to integer labels (N,) and scores (N, num_classes)."""
    scores = _as_numpy(y_prob, "y_prob")
    labels = _as_numpy(y_true, "y_true")
    if scores.ndim == 1 and num_classes == 2:
        scores = np.stack([1.0 - scores, scores], axis=1)  # probability of the second class only
    if scores.ndim != 2 or scores.shape[1] != num_classes:
        raise ValueError(
            f"classification_report: y_prob must be (N, {num_classes}) (one column per class name), or (N,) for "
            f"two classes, got shape {scores.shape}"
        )
    if labels.ndim == 2 and labels.shape[1] == num_classes:
        labels = labels.argmax(axis=1)  # one-hot labels
    elif labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"classification_report: y_true must be class indices (N,) or one-hot (N, {num_classes}), got shape "
            f"{labels.shape}"
        )
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(
            f"classification_report: y_true has {labels.shape[0]} samples but y_prob has {scores.shape[0]}"
        )
    if labels.shape[0] == 0:
        raise ValueError("classification_report: no samples (y_true and y_prob are empty)")
    if not np.all(np.isfinite(scores)):
        raise ValueError("classification_report: y_prob contains NaN or infinite values")
    invalid = (labels != np.round(labels)) | ~(labels >= 0) | ~(labels < num_classes)  # NaN is invalid too
    if invalid.any():
        bad = np.unique(labels[invalid])[:5].tolist()
        raise ValueError(
            f"classification_report: y_true must hold class indices in [0, {num_classes - 1}] "
            f"({num_classes} class names), got {bad}"
        )
    return labels.astype(np.int64), scores


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int
) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: entry ``[i, j]`` is the number of samples of true class ``i``
    predicted as class ``j``.

    Args:
        y_true: true class indices (N,).
        y_pred: predicted class indices (N,).
        num_classes: number of classes.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def one_vs_rest_auc(is_positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the binary labels ``is_positive`` (ties count half); NaN when
    there are no positives or no negatives.

    This is the Mann-Whitney statistic with mid-ranks, equal to the trapezoidal area under the ROC curve (as
    ``sklearn.metrics.roc_auc_score``).

    Args:
        is_positive: boolean (N,).
        scores: scores (N,), higher meaning more likely positive.
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(scores.size, dtype=np.float64)
    # mid-ranks (1-based) of tied scores
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], scores.size]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = 0.5 * (start + 1 + end)
    rank_sum = ranks[is_positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def classification_report(
    y_true: Sequence[int] | np.ndarray | torch.Tensor,
    y_prob: Sequence[Sequence[float]] | np.ndarray | torch.Tensor,
    class_names: Sequence[str],
) -> dict[str, Any]:
    """Report of a classifier's predictions as a JSON-friendly dict (python floats, ints, lists; NaN where a value is
    undefined: :func:`to_jsonable` turns NaN into ``None``).

    The predicted class of a sample is the argmax of its row of ``y_prob`` (the first class on ties). Keys:

    - ``num_samples``, ``class_names``, ``accuracy``;
    - ``macro_avg`` and ``weighted_avg``: ``precision``, ``recall``, ``f1``, ``specificity`` and ``auc``, the plain
      or support-weighted mean over the classes (AUC: over the classes where it is defined; with two classes both
      hold the binary AUC, that of the second class, as ``sklearn.metrics.roc_auc_score(y_true, y_prob[:, 1])``);
    - ``per_class``: for each class name ``precision``, ``recall`` (sensitivity), ``f1``, ``specificity``,
      ``support`` (true samples) and ``auc`` (one-vs-rest);
    - ``confusion_matrix``: counts, rows = true class, columns = predicted class, in ``class_names`` order;
    - ``notes``: human-readable remarks (classes without samples, undefined AUCs, ...); empty when there are none.

    Args:
        y_true: true class indices (N,) (or one-hot (N, C)), in ``class_names`` order.
        y_prob: class probabilities (N, C) in ``class_names`` order (any scores work: the argmax and the AUC ranks are
            all that is used); for two classes also (N,), the probability of the second class.
        class_names: one unique name per class (at least two).

    Raises:
        ValueError: shapes that do not match ``class_names``, labels out of range, non-finite scores, no samples,
            fewer than two or duplicate class names.
    """
    class_names = [str(name) for name in class_names]
    num_classes = len(class_names)
    if num_classes < 2:
        raise ValueError(f"classification_report: class_names needs at least two classes, got {class_names}")
    if len(set(class_names)) != num_classes:
        raise ValueError(f"classification_report: class_names must be unique, got {class_names}")
    labels, scores = _labels_and_scores(y_true, y_prob, num_classes)
    predictions = scores.argmax(axis=1)
    counts = confusion_matrix(labels, predictions, num_classes)

    true_positive = np.diag(counts).astype(np.float64)
    support = counts.sum(axis=1)  # true samples per class
    predicted = counts.sum(axis=0)
    total = int(counts.sum())
    precision = _safe_ratio(true_positive, predicted)
    recall = _safe_ratio(true_positive, support)
    f1 = _safe_ratio(2 * precision * recall, precision + recall)
    true_negative = total - support - predicted + true_positive
    specificity = _safe_ratio(true_negative, total - support)
    auc = np.array([one_vs_rest_auc(labels == k, scores[:, k]) for k in range(num_classes)])

    notes: list[str] = []
    absent = [name for name, n in zip(class_names, support) if n == 0]
    if absent:
        notes.append(
            f"classes without samples in y_true: {absent}; their recall and F1 are 0 and count in the macro averages, "
            "their AUC is undefined (NaN) and left out of the AUC averages"
        )
    never_predicted = [name for name, n in zip(class_names, predicted) if n == 0 and name not in absent]
    if never_predicted:
        notes.append(f"classes never predicted: {never_predicted}; their precision is 0")
    only = [name for name, n in zip(class_names, support) if n == total]
    if only:
        notes.append(f"all samples belong to {only[0]!r}: no negatives, so its AUC is undefined (NaN)")

    defined = ~np.isnan(auc)
    weights = support / total
    if num_classes == 2:  # the usual binary AUC, that of the second (positive) class, as roc_auc_score
        auc_macro = auc_weighted = float(auc[1])
    else:
        auc_macro = float(auc[defined].mean()) if defined.any() else math.nan
        auc_weighted = float(np.average(auc[defined], weights=weights[defined])) if defined.any() else math.nan
    if not defined.any():
        notes.append("AUC is undefined for every class (y_true holds a single class)")

    def averages(weighting: np.ndarray | None, auc_value: float) -> dict[str, float]:
        return {
            "precision": float(np.average(precision, weights=weighting)),
            "recall": float(np.average(recall, weights=weighting)),
            "f1": float(np.average(f1, weights=weighting)),
            "specificity": float(np.average(specificity, weights=weighting)),
            "auc": auc_value,
        }

    return {
        "num_samples": total,
        "class_names": class_names,
        "accuracy": float(true_positive.sum() / total),
        "macro_avg": averages(None, auc_macro),
        "weighted_avg": averages(weights, auc_weighted),
        "per_class": {
            name: {
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "specificity": float(specificity[k]),
                "support": int(support[k]),
                "auc": float(auc[k]),
            }
            for k, name in enumerate(class_names)
        },
        "confusion_matrix": counts.astype(int).tolist(),
        "notes": notes,
    }


def scores_to_probabilities(scores: Any, activation: str = "auto") -> np.ndarray:
    """Class probabilities ``(N, C)`` from a network's outputs ``(N, C)``.

    Args:
        scores: logits or probabilities (N, C) (a tensor or an array).
        activation: ``"softmax"`` always applies a softmax over the classes; ``"none"`` keeps the values;
            ``"auto"`` keeps rows that already are probabilities (non-negative, summing to 1 within 1e-3) and
            applies the softmax otherwise (decided for the whole array).
    """
    if activation not in ("auto", "softmax", "none"):
        raise ValueError(f"scores_to_probabilities: activation must be 'auto', 'softmax' or 'none', got {activation!r}")
    values = scores.detach().cpu().double().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores, float)
    if values.ndim != 2:
        raise ValueError(f"scores_to_probabilities: scores must be (N, C), got shape {values.shape}")
    if activation == "none" or values.size == 0:
        return values
    if activation == "auto" and np.all(values >= 0) and np.allclose(values.sum(axis=1), 1.0, atol=1e-3):
        return values
    shifted = np.exp(values - values.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def to_jsonable(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps`` writes as standard JSON: NaN and infinities become ``None``,
    numpy and torch scalars and arrays become python numbers and lists, tuples become lists.

    Args:
        value: e.g. the dict of :func:`classification_report`.
    """
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
