"""Metrics against scikit-learn and hand counts; figures in the book's style."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cnnbook import metrics

LABELS = np.array([0, 0, 1, 1, 2, 2, 2])
PREDICTED = np.array([0, 1, 1, 1, 2, 0, 2])


def test_confusion_and_per_class_accuracy_by_hand():
    matrix = metrics.confusion(LABELS, PREDICTED, 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    accuracy = metrics.per_class_accuracy(LABELS, PREDICTED, 4)
    assert accuracy[:3].tolist() == [0.5, 1.0, pytest.approx(2 / 3)] and np.isnan(accuracy[3])


def test_roc_and_auc_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    scores = rng.random((200, 3)) + np.eye(3)[labels] * 0.5
    probabilities = scores / scores.sum(axis=1, keepdims=True)
    curves = metrics.roc(labels, probabilities)
    for cls, (fpr, tpr, area) in curves.items():
        assert area == pytest.approx(roc_auc_score(labels == cls, probabilities[:, cls]))
        assert fpr[0] == 0 and tpr[-1] == 1
    assert metrics.macro_auc(labels, probabilities) == pytest.approx(np.mean([c[2] for c in curves.values()]))
    binary = np.stack([1 - probabilities[:, 0], probabilities[:, 0]], axis=1)
    assert metrics.macro_auc(labels == 0, binary) == pytest.approx(roc_auc_score(labels == 0, probabilities[:, 0]))


def test_a_class_without_positives_has_no_roc_curve():
    probabilities = np.full((4, 3), 1 / 3)
    assert set(metrics.roc(np.array([0, 1, 0, 1]), probabilities)) == {0, 1}
    report = metrics.class_report(np.array([0, 1, 0, 1]), probabilities, ["a", "b", "c"])
    assert report["support"].tolist() == [2, 2, 0] and np.isnan(report.auc[2])


def test_examples_pick_right_and_wrong_cases_per_class():
    assert metrics.examples(LABELS, PREDICTED, correct=True).tolist() == [0, 2, 4]
    assert metrics.examples(LABELS, PREDICTED, correct=False).tolist() == [1, 5]
    assert metrics.examples(LABELS, PREDICTED, correct=True, per_class=2, classes=[2]).tolist() == [4, 6]


def test_figures_have_labelled_axes():
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_accuracy": [0.5, 0.8],
                            "val_loss": [1.1, 0.7], "val_accuracy": [0.4, 0.7], "seconds": [1, 1]})
    curves = metrics.learning_curves(history)
    assert [ax.get_xlabel() for ax in curves.axes] == ["epoch", "epoch"]
    assert [len(ax.get_lines()) for ax in curves.axes] == [2, 2]
    assert curves.axes[1].get_ylabel() == "accuracy (%)"   # stored as fractions, shown in percent like the tables
    assert curves.axes[1].yaxis.get_major_formatter()(0.5).rstrip("0").rstrip(".") == "50"
    confusion = metrics.confusion_figure(metrics.confusion(LABELS, PREDICTED, 3), ["0", "1", "2"])
    assert confusion.axes[0].get_ylabel() == "true class"
    probabilities = np.eye(3)[PREDICTED] * 0.8 + 0.2 / 3
    assert metrics.roc_figure(LABELS, probabilities, ["0", "1", "2"]).axes[0].get_xlabel() == "false positive rate"
    assert metrics.per_class_figure(np.array([0.5, 1.0, 0.7]), ["0", "1", "2"]).axes[0].get_ylim() == (0, 1)


def test_most_confused_lists_the_largest_off_diagonal_cells_by_name():
    matrix = np.array([[5, 3, 0], [1, 6, 0], [4, 0, 2]])
    pairs = metrics.most_confused(matrix, ["a", "b", "c"], k=5)
    assert pairs[["true", "predicted", "count"]].values.tolist() == [["c", "a", 4], ["a", "b", 3], ["b", "a", 1]]
    assert pairs.share.tolist() == [pytest.approx(4 / 6), pytest.approx(3 / 8), pytest.approx(1 / 7)]
    assert len(metrics.most_confused(matrix, ["a", "b", "c"], k=1)) == 1


def test_cluster_order_puts_confused_classes_next_to_each_other():
    rng = np.random.default_rng(0)
    groups = [[0, 5, 9], [1, 3, 7], [2, 4, 6, 8]]  # classes confused only within their group
    matrix = np.diag(rng.integers(50, 60, 10))
    for group in groups:
        for a in group:
            for b in group:
                if a != b:
                    matrix[a, b] = rng.integers(5, 15)
    order = metrics.cluster_order(matrix).tolist()
    assert sorted(order) == list(range(10))
    for group in groups:
        positions = sorted(order.index(c) for c in group)
        assert positions[-1] - positions[0] == len(group) - 1  # contiguous in the order


def test_figures_for_several_models():
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_accuracy": [0.5, 0.8],
                            "val_loss": [1.1, 0.7], "val_accuracy": [0.4, 0.7], "seconds": [1, 1]})
    curves = metrics.compare_learning_curves({"A": history, "B": history})
    assert [len(ax.get_lines()) for ax in curves.axes] == [4, 4] and curves.axes[1].get_ylabel() == "accuracy (%)"
    matrix = metrics.confusion(LABELS, PREDICTED, 3)
    figure = metrics.confusion_figures({"A": matrix, "B": matrix}, ["0", "1", "2"], order=np.array([2, 0, 1]))
    assert figure.axes[0].get_title() == "A" and figure.axes[0].get_ylabel() == "true class"
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["2", "0", "1"]
    shown = figure.axes[0].get_images()[0].get_array()
    assert shown[0, 0] == pytest.approx(2 / 3)  # class 2 first: its row, normalised
    many = metrics.confusion_figures({"A": np.eye(40, dtype=int)}, [str(i) for i in range(40)])
    assert many.axes[0].get_xticklabels() == []  # 40 classes: no names on the axes
