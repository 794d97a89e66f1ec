"""classification_report: hand-checked values, AUC against its pairwise definition, missing classes, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from mamba_monai.metrics.classification import (
    classification_report,
    confusion_matrix,
    one_vs_rest_auc,
    scores_to_probabilities,
    to_jsonable,
)

NAMES = ["benign", "malignant", "normal"]


def pairwise_auc(is_positive, scores):
    """AUC by its definition: P(score of a positive > score of a negative), ties counting half."""
    positives, negatives = scores[is_positive], scores[~is_positive]
    wins = (positives[:, None] > negatives[None, :]).sum() + 0.5 * (positives[:, None] == negatives[None, :]).sum()
    return wins / (positives.size * negatives.size)


def test_perfect_predictions():
    y_true = [0, 1, 2, 2, 1]
    y_prob = np.eye(3)[y_true] * 0.8 + 0.2 / 3
    report = classification_report(y_true, y_prob, NAMES)
    assert report["accuracy"] == 1.0
    assert report["num_samples"] == 5
    assert report["macro_avg"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "specificity": 1.0, "auc": 1.0}
    assert report["weighted_avg"]["auc"] == 1.0
    assert report["confusion_matrix"] == [[1, 0, 0], [0, 2, 0], [0, 0, 2]]
    assert [report["per_class"][name]["support"] for name in NAMES] == [1, 2, 2]
    assert report["notes"] == []


def test_known_confusion_matrix_by_hand():
    y_true = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 2]
    y_prob = np.full((6, 3), 0.1)
    y_prob[np.arange(6), predicted] = 0.8
    report = classification_report(y_true, y_prob, NAMES)
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report["accuracy"] == pytest.approx(4 / 6)
    precision, recall = [1.0, 0.5, 0.5], [2 / 3, 0.5, 1.0]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall)]
    specificity = [3 / 3, 3 / 4, 4 / 5]  # true negatives / negatives of each class
    for k, name in enumerate(NAMES):
        values = report["per_class"][name]
        assert values["precision"] == pytest.approx(precision[k])
        assert values["recall"] == pytest.approx(recall[k])
        assert values["f1"] == pytest.approx(f1[k])
        assert values["specificity"] == pytest.approx(specificity[k])
    support = np.array([3, 2, 1])
    assert report["macro_avg"]["f1"] == pytest.approx(np.mean(f1))
    assert report["weighted_avg"]["precision"] == pytest.approx(np.dot(precision, support) / 6)
    assert report["weighted_avg"]["recall"] == pytest.approx(report["accuracy"])  # weighted recall is accuracy
    # class 0 scores: positives 0.8, 0.8, 0.1; negatives 0.1, 0.1, 0.1 -> (3 + 3 + 1.5) / 9
    assert report["per_class"]["benign"]["auc"] == pytest.approx(7.5 / 9)


def test_binary_auc_with_two_columns_and_one_column():
    y_true = [0, 0, 1, 1]
    p1 = np.array([0.1, 0.4, 0.35, 0.8])
    two_columns = classification_report(y_true, np.stack([1 - p1, p1], axis=1), ["neg", "pos"])
    one_column = classification_report(y_true, p1, ["neg", "pos"])
    assert two_columns["macro_avg"]["auc"] == pytest.approx(0.75)
    assert two_columns["per_class"]["pos"]["auc"] == pytest.approx(0.75)
    assert two_columns["per_class"]["neg"]["auc"] == pytest.approx(0.75)
    assert one_column == two_columns
    assert two_columns["confusion_matrix"] == [[2, 0], [1, 1]]  # 0.4 and 0.35 are predicted "neg"


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 200)
    y_prob = np.round(rng.dirichlet(np.ones(4), 200), 1)  # many ties
    report = classification_report(y_true, y_prob, list("abcd"))
    expected = [pairwise_auc(y_true == k, y_prob[:, k]) for k in range(4)]
    assert [report["per_class"][name]["auc"] for name in "abcd"] == pytest.approx(expected)
    assert report["macro_avg"]["auc"] == pytest.approx(np.mean(expected))
    support = np.bincount(y_true, minlength=4)
    assert report["weighted_avg"]["auc"] == pytest.approx(np.dot(expected, support) / support.sum())
    assert one_vs_rest_auc(np.array([False, True]), np.array([0.5, 0.5])) == 0.5


def test_class_missing_from_y_true_gives_nan_auc_and_a_note():
    y_true = torch.tensor([0, 0, 1, 1, 0])
    y_prob = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1]])
    report = classification_report(y_true, y_prob, NAMES)
    assert math.isnan(report["per_class"]["normal"]["auc"])
    assert report["per_class"]["normal"]["support"] == 0
    defined = [report["per_class"][name]["auc"] for name in NAMES[:2]]
    assert defined == [pytest.approx(pairwise_auc(y_true.numpy() == k, y_prob[:, k].numpy())) for k in range(2)]
    assert report["macro_avg"]["auc"] == pytest.approx(np.mean(defined))
    assert any("normal" in note and "AUC" in note for note in report["notes"])
    assert report["confusion_matrix"][2] == [0, 0, 0]
    assert report["confusion_matrix"][0] == [2, 0, 1]
    # standard JSON: NaN becomes null
    text = json.dumps(to_jsonable(report), allow_nan=False)
    assert json.loads(text)["per_class"]["normal"]["auc"] is None


def test_single_class_in_y_true():
    report = classification_report([1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.1, 0.9]], ["neg", "pos"])
    assert math.isnan(report["macro_avg"]["auc"]) and math.isnan(report["per_class"]["pos"]["auc"])
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert report["notes"]


def test_one_hot_labels_and_logits():
    logits = torch.tensor([[2.0, -1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0]])
    from_indices = classification_report([0, 1, 2], logits, NAMES)
    from_one_hot = classification_report(torch.eye(3), logits, NAMES)
    assert from_indices == from_one_hot
    assert from_indices["accuracy"] == 1.0


@pytest.mark.parametrize(
    "y_true, y_prob, names, message",
    [
        ([0, 1], np.ones((2, 2)) / 2, NAMES, "y_prob must be"),
        ([0, 3], np.ones((2, 3)) / 3, NAMES, "class indices"),
        ([0, 0.5], np.ones((2, 3)) / 3, NAMES, "class indices"),
        ([0, 1, 1], np.ones((2, 3)) / 3, NAMES, "3 samples"),
        ([], np.ones((0, 3)), NAMES, "no samples"),
        ([0, 1], [[0.5, np.nan], [0.5, 0.5]], ["a", "b"], "NaN"),
        ([0, 1], np.ones((2, 2)) / 2, ["a", "a"], "unique"),
        ([0, 0], np.ones((2, 1)), ["a"], "at least two"),
    ],
)
def test_errors(y_true, y_prob, names, message):
    with pytest.raises(ValueError, match=message):
        classification_report(y_true, y_prob, names)


def test_confusion_matrix_orientation():
    assert confusion_matrix([0, 1, 1], [1, 1, 0], 2).tolist() == [[0, 1], [1, 1]]


def test_scores_to_probabilities():
    probabilities = np.array([[0.2, 0.8], [1.0, 0.0]])
    np.testing.assert_allclose(scores_to_probabilities(probabilities, "auto"), probabilities)
    logits = torch.tensor([[0.0, math.log(3.0)], [1.0, 1.0]])
    np.testing.assert_allclose(scores_to_probabilities(logits, "auto"), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(scores_to_probabilities(probabilities, "softmax").sum(axis=1), 1.0)
    assert not np.allclose(scores_to_probabilities(probabilities, "softmax"), probabilities)
    np.testing.assert_allclose(scores_to_probabilities(logits, "none"), logits.numpy())
    with pytest.raises(ValueError, match="activation"):
        scores_to_probabilities(logits, "sigmoid")
