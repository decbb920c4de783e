"""Evaluation: confusion matrix, per-class accuracy, ROC and AUC (scikit-learn), and their figures.

Functions take the true labels and the model's predicted classes or class probabilities
(``training.predict(...)`` gives both) and return plain arrays or tables; the ``*_figure``
functions draw them, and the learning curves of a ``training.Run``, in the book's style
(``cnnbook.plots``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from cnnbook.plots import COLOURS, figure


def confusion(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``n_classes×n_classes`` counts: row = true class, column = predicted class."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(labels, predicted, labels=np.arange(n_classes))


def per_class_accuracy(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Per true class, the share classified correctly (the class's recall); NaN for an absent class."""
    matrix = confusion(labels, predicted, n_classes)
    support = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(matrix) / support, np.nan)


def roc(labels: np.ndarray, probabilities: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
    """One-vs-rest ROC curve of every class present: ``{class: (false positive rate, true positive rate, AUC)}``.

    ``probabilities`` is ``N×K`` (for two classes, column 1 scores the positive class)."""
    from sklearn.metrics import auc, roc_curve

    curves = {}
    for cls in range(probabilities.shape[1]):
        positive = labels == cls
        if positive.all() or not positive.any():
            continue  # AUC is undefined without both positives and negatives
        fpr, tpr, _ = roc_curve(positive, probabilities[:, cls])
        curves[cls] = (fpr, tpr, float(auc(fpr, tpr)))
    return curves


def macro_auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean one-vs-rest AUC over classes (scikit-learn's ``roc_auc_score``; binary AUC for two classes)."""
    from sklearn.metrics import roc_auc_score

    if probabilities.shape[1] == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", average="macro",
                               labels=np.arange(probabilities.shape[1])))


def class_report(labels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Per class: name, number of test examples, accuracy (recall) and one-vs-rest AUC."""
    predicted = probabilities.argmax(axis=1)
    curves = roc(labels, probabilities)
    return pd.DataFrame({
        "class": list(classes),
        "support": np.bincount(labels, minlength=len(classes)),
        "accuracy": per_class_accuracy(labels, predicted, len(classes)),
        "auc": [curves[c][2] if c in curves else np.nan for c in range(len(classes))],
    })


def examples(labels: np.ndarray, predicted: np.ndarray, correct: bool, per_class: int = 1,
             classes: Sequence[int] | None = None) -> np.ndarray:
    """Indices of the first ``per_class`` correctly (or wrongly) classified examples of each true class."""
    chosen = []
    for cls in (range(int(labels.max()) + 1) if classes is None else classes):
        match = np.flatnonzero((labels == cls) & ((predicted == labels) == correct))
        chosen.extend(match[:per_class].tolist())
    return np.array(chosen, dtype=int)


# --- figures ----------------------------------------------------------------------------------------

def learning_curves(history: pd.DataFrame):
    """Loss and accuracy per epoch, training against validation (a ``Run.history``)."""
    fig, axes = figure(1, 2)
    for ax, metric in zip(axes[0], ("loss", "accuracy")):
        ax.plot(history.epoch, history[f"train_{metric}"], marker="o", markersize=3, color=COLOURS["train"],
                label="training")
        if history[f"val_{metric}"].notna().any():
            ax.plot(history.epoch, history[f"val_{metric}"], marker="o", markersize=3,
                    color=COLOURS["validation"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss" if metric == "loss" else "accuracy")
        ax.legend()
    return fig


def confusion_figure(matrix: np.ndarray, classes: Sequence[str], normalise: bool = True):
    """The confusion matrix as a heat map, rows normalised to shares of the true class by default."""
    fig, axes = figure(1, 1, panel=(4.2, 3.6))
    ax = axes[0, 0]
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalise else matrix
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalise else None)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=90 if max(map(len, classes)) > 2 else 0)
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.grid(False)
    if len(classes) <= 12:
        for (r, c), count in np.ndenumerate(matrix):
            if count:
                ax.text(c, r, str(count), ha="center", va="center", fontsize=7,
                        color="white" if shown[r, c] > 0.5 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of true class" if normalise else "count")
    return fig


def roc_figure(labels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]):
    """One-vs-rest ROC curves with their AUC, and the chance diagonal."""
    fig, axes = figure(1, 1, panel=(4.0, 3.6))
    ax = axes[0, 0]
    for cls, (fpr, tpr, area) in roc(labels, probabilities).items():
        ax.plot(fpr, tpr, linewidth=1.2, label=f"{classes[cls]} (AUC {area:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color=COLOURS["reference"], linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def per_class_figure(accuracy: np.ndarray, classes: Sequence[str]):
    """Per-class accuracy as bars."""
    fig, axes = figure(1, 1, panel=(4.5, 2.6))
    ax = axes[0, 0]
    ax.bar(np.arange(len(classes)), accuracy, color=COLOURS["test"])
    ax.set_xticks(np.arange(len(classes)), classes, rotation=90 if max(map(len, classes)) > 2 else 0)
    ax.set_ylim(0, 1)
    ax.set_xlabel("class")
    ax.set_ylabel("accuracy")
    return fig
