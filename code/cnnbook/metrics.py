"""Evaluation: confusion matrix, per-class accuracy, ROC and AUC (scikit-learn), and their figures.

Functions take the true labels and the model's predicted classes or class probabilities
(``training.predict(...)`` gives both) and return plain arrays or tables; the ``*_figure``
functions draw them, and the learning curves of a ``training.Run``, in the book's style
(``cnnbook.plots``). For several models and many classes: ``most_confused`` (the largest
off-diagonal cells by name), ``cluster_order`` (confused classes side by side),
``confusion_figures`` and ``compare_learning_curves``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

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

def _label_curve_axes(ax, metric: str) -> None:
    """Axis labels of a learning-curve panel; accuracy (stored as a fraction) is shown in percent like the tables."""
    ax.set_xlabel("epoch")
    if metric == "loss":
        ax.set_ylabel("cross-entropy loss")
    else:
        ax.set_ylabel("accuracy (%)")
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, symbol=""))


def learning_curves(history: pd.DataFrame):
    """Loss and accuracy per epoch, training against validation (a ``Run.history``)."""
    fig, axes = figure(1, 2)
    for ax, metric in zip(axes[0], ("loss", "accuracy")):
        ax.plot(history.epoch, history[f"train_{metric}"], marker="o", markersize=3, color=COLOURS["train"],
                label="training")
        if history[f"val_{metric}"].notna().any():
            ax.plot(history.epoch, history[f"val_{metric}"], marker="o", markersize=3,
                    color=COLOURS["validation"], label="validation")
        _label_curve_axes(ax, metric)
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


# --- several models, many classes ------------------------------------------------------------------------

def most_confused(matrix: np.ndarray, classes: Sequence[str], k: int = 10) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells of a confusion matrix: ``true``, ``predicted``, ``count`` and
    ``share`` (of the true class's examples), most frequent first; a readable summary for many classes."""
    support = np.maximum(matrix.sum(axis=1), 1)
    off = matrix.astype(float).copy()
    np.fill_diagonal(off, -1)
    order = np.argsort(-off, axis=None, kind="stable")[:k]
    rows, cols = np.unravel_index(order, matrix.shape)
    keep = matrix[rows, cols] > 0
    rows, cols = rows[keep], cols[keep]
    return pd.DataFrame({"true": [classes[r] for r in rows], "predicted": [classes[c] for c in cols],
                         "count": matrix[rows, cols], "share": matrix[rows, cols] / support[rows]})


def cluster_order(matrix: np.ndarray) -> np.ndarray:
    """An order of the classes that puts classes confused with each other next to each other: the leaves
    of an average-linkage clustering of the symmetrised, row-normalised confusion (optimal leaf order)."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    similarity = (shares + shares.T) / 2
    np.fill_diagonal(similarity, 0)
    distance = similarity.max() - similarity
    np.fill_diagonal(distance, 0)
    return leaves_list(linkage(squareform(distance, checks=False), "average", optimal_ordering=True))


def confusion_figures(matrices: Mapping[str, np.ndarray], classes: Sequence[str], order: np.ndarray | None = None):
    """One row-normalised confusion matrix per named model, side by side with one colour scale. The
    classes are in ``order`` (e.g. ``cluster_order``); up to 12 classes are named on the axes."""
    order = np.arange(len(classes)) if order is None else np.asarray(order)
    fig, axes = figure(1, len(matrices), panel=(3.2, 3.0))
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        shares = (matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1))[np.ix_(order, order)]
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name)
        ax.grid(False)
        if len(classes) <= 12:
            ticks = np.arange(len(classes))
            names = [classes[i] for i in order]
            ax.set_xticks(ticks, names, rotation=90)
            ax.set_yticks(ticks, names if ax is axes[0, 0] else [])
        else:  # too many names to read: the positions follow ``order``, not the class indices
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_xlabel("predicted class")
    axes[0, 0].set_ylabel("true class")
    fig.colorbar(image, ax=axes[0, -1], shrink=0.8, label="share of true class")
    return fig


def compare_learning_curves(histories: Mapping[str, pd.DataFrame]):
    """Loss and accuracy per epoch of several runs (``Run.history``): one colour per run, training
    solid and validation dashed."""
    fig, axes = figure(1, 2, panel=(4.2, 3.0))
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index}"  # matplotlib's default cycle: one colour per run
        for ax, metric in zip(axes[0], ("loss", "accuracy")):
            ax.plot(history.epoch, history[f"train_{metric}"], color=colour, label=f"{name} training")
            ax.plot(history.epoch, history[f"val_{metric}"], color=colour, linestyle="--", label=f"{name} validation")
    for ax, metric in zip(axes[0], ("loss", "accuracy")):
        _label_curve_axes(ax, metric)
    axes[0, 1].set_ylim(0, 1)
    axes[0, 1].legend(fontsize=7, ncol=1, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig
