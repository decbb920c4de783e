"""An imbalanced medical classification task: a procedural stand-in for prostate MRI slices.

S0.Q5 asks for a binary classifier of clinically significant prostate cancer (csPCa) from a
private spreadsheet of MRI slices. That data is not public, so ``cohort`` draws a stand-in that
keeps what makes the real task hard, and the rest of the module runs the chapter's studies on it.

Guarantees of the generator (checked in ``tests/test_prostate.py``):

- deterministic given ``seed``; images ``N×1×S×S`` (uint8), a gland mask and a lesion mask for
  every image, the lesion always inside the gland and both inside the image;
- grouped like MRI: ``slices`` consecutive slices per synthetic patient, one label per patient
  (every slice of a positive patient shows its lesion), exactly ``round(patients / ratio)``
  positive patients, so about one positive in ``ratio``;
- every patient has its own gland shape, brightness and texture (what makes slices of one patient
  alike, and a split by slice leak), and benign bright nodules that both classes show;
- ``Cohort.table`` is the per-slice metadata a spreadsheet would hold (patient, slice, csPCa label)
  plus what the masks measure; ``grouped_split`` never puts one patient on two sides.

The studies (``leakage``, ``pretrained_pair``, ``remedy_runs``, ``mask_runs``, ``lesion_attention``)
train through ``train_arm`` and ``training.fit``, so every run is cached and a page that asks twice
trains once (the plain model of seed 0 serves the metrics, leakage, model, remedy and mask sections).
``settings(profile)`` sizes them: on the quick profile the networks see the slices at 64×64.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import data, losses, metrics, training
from cnnbook.profiles import Profile

SIZE = 128  # the native side of a slice (S3.Q4's 128×128 grayscale input)
RATIO = 7  # about one positive patient in seven (the real task's order of imbalance)
CLASSES = ("no csPCa", "csPCa")


# ------------------------------------------------------------------------------------ the stand-in
@dataclass(frozen=True)
class Cohort:
    """Slices of synthetic patients: images, gland and lesion masks, and the metadata table."""

    images: np.ndarray  # N×1×S×S uint8
    glands: np.ndarray  # N×S×S bool
    lesions: np.ndarray  # N×S×S bool (empty for negative patients)
    table: pd.DataFrame  # one row per slice: patient, slice, csPCa, gland_pixels, lesion_pixels, contrast
    seed: int = 0
    ratio: float = RATIO

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labels(self) -> np.ndarray:
        return self.table["csPCa"].to_numpy(dtype=np.int64)

    @property
    def patients(self) -> np.ndarray:
        return self.table["patient"].to_numpy()

    def subset(self, index: np.ndarray) -> "Cohort":
        """The slices at ``index`` (an index array), table rows kept with their patient ids."""
        return replace(self, images=self.images[index], glands=self.glands[index], lesions=self.lesions[index],
                       table=self.table.iloc[index].reset_index(drop=True))

    def patient_table(self) -> pd.DataFrame:
        """One row per patient: label and number of slices."""
        return self.table.groupby("patient").agg(csPCa=("csPCa", "first"), slices=("slice", "size")).reset_index()


def _smooth_noise(rng: np.random.Generator, size: int, scale: float) -> np.ndarray:
    """Low-frequency texture: white noise blurred by a Gaussian of ``scale`` pixels, unit spread."""
    from scipy.ndimage import gaussian_filter

    field_ = gaussian_filter(rng.normal(size=(size, size)), scale)
    return field_ / (field_.std() + 1e-12)


def cohort(patients: int = 224, slices: int = 6, size: int = SIZE, ratio: float = RATIO, seed: int = 0) -> Cohort:
    """Draw ``patients`` synthetic patients with ``slices`` slices each (``size×size``).

    A gland (an ellipse that grows and shrinks over the slices) sits near the centre of a textured
    background; ``round(patients / ratio)`` patients, chosen at random, have a dark lesion inside the
    gland whose size (radius 3–7 % of the side) and contrast vary from patient to patient. Every
    patient has its own gland shape, brightness, texture and one or two benign bright nodules.
    """
    if slices < 1 or patients < 2:
        raise ValueError("a cohort needs at least two patients and one slice per patient")
    rng = np.random.default_rng(seed)
    positive = np.zeros(patients, dtype=bool)
    positive[rng.choice(patients, size=max(1, round(patients / ratio)), replace=False)] = True
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    images = np.empty((patients * slices, 1, size, size), dtype=np.uint8)
    glands = np.empty((patients * slices, size, size), dtype=bool)
    lesions = np.zeros((patients * slices, size, size), dtype=bool)
    rows = []
    for p in range(patients):
        cx, cy = size / 2 + rng.uniform(-0.06, 0.06, size=2) * size
        a, b = rng.uniform(0.20, 0.27) * size, rng.uniform(0.15, 0.21) * size
        angle = rng.uniform(-0.4, 0.4)
        brightness = rng.uniform(0.8, 1.2)  # scanner gain of this patient
        tissue = _smooth_noise(rng, size, 6.0)  # this patient's texture, shared by its slices
        inner = _smooth_noise(rng, size, 2.5)
        nodules = [(rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.05, 0.09) * size)
                   for _ in range(rng.integers(1, 3))]
        if positive[p]:
            radius = rng.uniform(0.035, 0.075) * size
            contrast = rng.uniform(0.08, 0.28)
            lu, lv = rng.uniform(-0.45, 0.45, size=2)
        else:
            radius = contrast = 0.0
        for s in range(slices):
            z = -0.6 + 1.2 * s / max(1, slices - 1)  # position through the gland
            shrink = np.sqrt(1 - 0.6 * z * z)
            c, si = np.cos(angle), np.sin(angle)
            u = (c * (xx - cx) + si * (yy - cy)) / (a * shrink)
            v = (-si * (xx - cx) + c * (yy - cy)) / (b * shrink)
            gland = u * u + v * v <= 1
            image = 0.28 + 0.05 * tissue + 0.015 * _smooth_noise(rng, size, 1.0)
            image = np.where(gland, 0.52 + 0.04 * inner, image)
            for nu, nv, nr in nodules:  # benign bright nodules inside the gland (both classes)
                d = np.hypot(u - nu, v - nv) * a * shrink
                image = image + 0.10 * np.exp(-(d / nr) ** 2) * gland
            lesion = np.zeros_like(gland)
            if positive[p]:
                r = radius * (0.75 + 0.25 * shrink)
                d = np.hypot((u - lu) * a * shrink, (v - lv) * b * shrink)
                lesion = (d <= r) & gland
                image = image - contrast * np.exp(-(d / r) ** 4) * gland
            image = brightness * image + rng.normal(0, 0.02, size=(size, size))
            n = p * slices + s
            images[n, 0] = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
            glands[n], lesions[n] = gland, lesion
            rows.append({"patient": f"P{p:03d}", "slice": s, "csPCa": int(positive[p]),
                         "gland_pixels": int(gland.sum()), "lesion_pixels": int(lesion.sum()),
                         "contrast": float(contrast), "brightness": float(brightness)})
    return Cohort(images, glands, lesions, pd.DataFrame(rows), seed, ratio)


def grouped_split(groups: np.ndarray, labels: np.ndarray, fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """Split indices into parts of about ``fractions`` of the *groups* (patients), stratified by the
    group's label: every group lies in exactly one part. Returns one sorted index array per fraction
    (the first part takes what is left, so ``fractions`` need not sum to one)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"group": groups, "label": labels})
    per_group = frame.groupby("group", sort=True)["label"].first()
    parts: list[list] = [[] for _ in fractions]
    for label in sorted(per_group.unique()):
        members = rng.permutation(per_group.index[per_group == label].to_numpy())
        counts = [int(round(f * len(members))) for f in fractions[1:]]
        start = 0
        for i, count in enumerate(counts, start=1):
            parts[i] += list(members[start:start + count])
            start += count
        parts[0] += list(members[start:])
    chosen = [set(p) for p in parts]
    return [np.flatnonzero(np.isin(groups, list(c))) for c in chosen]


def slice_split(n: int, labels: np.ndarray, fractions: Sequence[float], seed: int = 0) -> list[np.ndarray]:
    """The same proportions drawn slice by slice (stratified by label), ignoring patients: the leaky split."""
    return grouped_split(np.arange(n), labels, fractions, seed)


@dataclass(frozen=True)
class StandInDataSet(data.DataSet):
    """A ``DataSet`` with the per-slice metadata ``table`` and the ``cohort`` it was cut from."""

    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    cohort: Cohort | None = None


def load(patients: int = 224, slices: int = 6, size: int = SIZE, ratio: float = RATIO, seed: int = 0,
         test_fraction: float = 0.3):
    """The registry's loader (``data.load("prostate_standin")``): a ``DataSet`` whose train and test
    splits are grouped by patient (lesion masks as ``masks``), with the per-slice metadata table of
    all slices (column ``split``) as ``.table`` and the whole cohort as ``.cohort``."""
    pool = cohort(patients, slices, size, ratio, seed)
    train_index, test_index = grouped_split(pool.patients, pool.labels, (1 - test_fraction, test_fraction), seed)
    table = pool.table.copy()
    table["split"] = "train"
    table.loc[test_index, "split"] = "test"

    def as_split(index: np.ndarray) -> data.Split:
        return data.Split(pool.images[index], pool.labels[index], pool.lesions[index])

    base = data.DataSet("prostate_standin", f"procedural prostate-MRI stand-in ({size}×{size}, 1 in {ratio:g} positive)",
                        False, f"generated by cnnbook.prostate.cohort (seed {seed})", CLASSES,
                        as_split(train_index), as_split(test_index), stands_in_for="private prostate MRI slices (csPCa)",
                        notes=f"{patients} patients × {slices} slices, gland and lesion masks")
    return StandInDataSet(**{f: getattr(base, f) for f in base.__dataclass_fields__}, table=table, cohort=pool)


# ------------------------------------------------------------------------------------ the studies
@dataclass(frozen=True)
class Settings:
    """How big the chapter's experiments are on a profile."""

    patients: int
    slices: int
    side: int  # the side the small networks train at (the stand-in is drawn at SIZE)
    epochs: int
    seeds: tuple[int, ...]
    lr: float = 3e-3
    batch_size: int = 32
    fractions: tuple[float, float, float] = (0.55, 0.15, 0.30)  # fit, validation, test (by patient)
    lite_side: int = 64  # EfficientNet-Lite0's input side
    lite_frozen: int = 15  # Lite0's blocks kept frozen (their features are computed once)


def settings(profile: Profile) -> Settings:
    """Quick: 224 patients, 64×64, 8 epochs, three seeds; full: 600 patients, 128×128, 20 epochs, five."""
    if profile.real_data:
        return Settings(patients=600, slices=8, side=SIZE, epochs=20, seeds=(0, 1, 2, 3, 4), lite_side=128,
                        lite_frozen=11)
    return Settings(patients=224, slices=6, side=64, epochs=8, seeds=(0, 1, 2))


INPUTS = ("image", "masked", "mask_channel", "cropped")  # what the network sees: the slice, the slice outside
# the gland set to zero, the slice with the gland mask as a second channel, or a window around the gland cut
# from the full-resolution slice (CROP pixels wide) and resampled to the training side
CROP = 80
ARMS = ("plain", "weighted", "focal", "oversampled")
FOCAL_GAMMA = 2.0
LITE_LR = 1e-3  # Adam's learning rate for fine-tuning EfficientNet-Lite0's top
LITE0_BLOCKS = 16  # MBConv blocks of EfficientNet-Lite0


@dataclass
class Task:
    """The cohort, its patient-level split (and the leaky slice-level one) and the tensors at the training side."""

    cohort: Cohort
    settings: Settings
    splits: dict[str, dict[str, np.ndarray]]  # {"patient": {"fit", "validation", "test"}, "slice": {...}}
    images: torch.Tensor  # N×1×side×side in [0, 1]
    glands: torch.Tensor  # N×1×side×side in {0, 1}
    dataset: StandInDataSet  # the registry's data set (its ``table`` is the per-slice metadata)
    corners: np.ndarray  # N×2: top and left of each slice's CROP×CROP window around its gland

    def crop(self, arrays: np.ndarray | torch.Tensor, index: np.ndarray | None = None) -> torch.Tensor:
        """Full-resolution arrays (``N×H×W`` or ``N×1×H×W``, of the slices ``index``, default all) cut to
        each slice's gland window and resampled (area) to the training side: ``N×1×side×side`` floats."""
        index = np.arange(len(self.corners)) if index is None else np.asarray(index)
        x = torch.as_tensor(np.asarray(arrays), dtype=torch.float32)
        x = x[:, None] if x.dim() == 3 else x
        windows = torch.stack([x[n, :, t:t + CROP, l:l + CROP] for n, (t, l) in enumerate(self.corners[index])])
        side = self.settings.side
        return nn.functional.interpolate(windows, size=(side, side), mode="area") if side != CROP else windows

    @property
    def labels(self) -> torch.Tensor:
        return torch.from_numpy(self.cohort.labels.copy())

    def inputs(self, kind: str = "image") -> torch.Tensor:
        """The network input of every slice for ``kind`` in ``INPUTS``."""
        if kind == "image":
            return self.images
        if kind == "masked":
            return self.images * self.glands
        if kind == "mask_channel":
            return torch.cat([self.images, self.glands], dim=1)
        if kind == "cropped":
            if self._cropped is None:
                self._cropped = self.crop(self.cohort.images) / 255
            return self._cropped
        raise ValueError(f"inputs must be one of {INPUTS}, not {kind!r}")

    _cropped: torch.Tensor | None = None

    def lesion_masks(self, index: np.ndarray, kind: str = "image") -> np.ndarray:
        """The lesion masks of the slices ``index`` as the network of ``kind`` sees them (any pixel of
        lesion in a downsampled pixel counts)."""
        lesions = self.cohort.lesions[index]
        if kind == "cropped":
            return (self.crop(lesions, index) > 0).numpy()[:, 0]
        side = self.settings.side
        x = torch.from_numpy(lesions[:, None]).float()
        return (nn.functional.interpolate(x, size=(side, side), mode="area") > 0).numpy()[:, 0]

    def tensors(self, part: str, kind: str = "image", split: str = "patient") -> TensorDataset:
        index = torch.from_numpy(self.splits[split][part])
        return TensorDataset(self.inputs(kind)[index], self.labels[index])

    def part_table(self, split: str = "patient") -> pd.DataFrame:
        """Slices and patients (all, positive) per part of a split."""
        rows = []
        for part, index in self.splits[split].items():
            t = self.cohort.table.iloc[index]
            rows.append({"key": part, "slices": len(t), "positive_slices": int(t.csPCa.sum()),
                         "patients": t.patient.nunique(), "positive_patients": t[t.csPCa == 1].patient.nunique()})
        return pd.DataFrame(rows)


def prepare(profile: Profile, seed: int = 0, sizes: Settings | None = None) -> Task:
    """Draw the cohort of the profile (or of ``sizes``), split it by patient and by slice, and resample
    to the training side."""
    s = sizes or settings(profile)
    dataset = data.load("prostate_standin", patients=s.patients, slices=s.slices, size=SIZE, ratio=RATIO, seed=seed)
    pool = dataset.cohort
    names = ("fit", "validation", "test")
    by_patient = grouped_split(pool.patients, pool.labels, s.fractions, seed)
    by_slice = slice_split(len(pool), pool.labels, s.fractions, seed)
    images = torch.from_numpy(pool.images).float() / 255
    glands = torch.from_numpy(pool.glands[:, None]).float()
    if s.side != SIZE:
        images = nn.functional.interpolate(images, size=(s.side, s.side), mode="area")
        glands = (nn.functional.interpolate(glands, size=(s.side, s.side), mode="area") >= 0.5).float()
    centres = np.array([np.argwhere(g).mean(axis=0) for g in pool.glands])  # row, column of each gland
    corners = np.clip(np.rint(centres - CROP / 2), 0, SIZE - CROP).astype(int)
    return Task(pool, s, {"patient": dict(zip(names, by_patient)), "slice": dict(zip(names, by_slice))}, images, glands,
                dataset, corners)


def data_checks(task: Task) -> dict[str, float | int]:
    """What a careful reader checks before training: class shares, lesion sizes at the training side,
    contrasts, whether brightness differs between the classes (a shortcut), exact duplicates, and how
    many positive patients the test part holds."""
    table = task.cohort.table
    side_scale = (task.settings.side / SIZE) ** 2
    positive = table[table.csPCa == 1]
    mean_intensity = task.cohort.images.reshape(len(table), -1).mean(axis=1) / 255
    flat = task.cohort.images.reshape(len(table), -1)
    duplicates = len(table) - len({row.tobytes() for row in flat})
    test = task.splits["patient"]["test"]
    return {"positive_share": 100 * float(table.csPCa.mean()),
            "negatives_per_positive": float((table.csPCa == 0).sum() / (table.csPCa == 1).sum()),
            "lesion_min": float(positive.lesion_pixels.min() * side_scale),
            "lesion_median": float(positive.lesion_pixels.median() * side_scale),
            "lesion_share": 100 * float((positive.lesion_pixels / positive.gland_pixels).median()),
            "contrast_min": float(positive.contrast.min()), "contrast_max": float(positive.contrast.max()),
            "intensity_negative": float(mean_intensity[table.csPCa == 0].mean()),
            "intensity_positive": float(mean_intensity[table.csPCa == 1].mean()),
            "duplicates": int(duplicates),
            "test_positive_patients": int(table.iloc[test].query("csPCa == 1").patient.nunique()),
            "test_positive_slices": int(table.iloc[test].csPCa.sum()), "test_slices": len(test)}


def oversampled(train: TensorDataset) -> TensorDataset:
    """The minority class repeated (whole copies, then the first few) until both classes are equally many."""
    images, labels = train.tensors
    minority = torch.nonzero(labels == 1).flatten()
    extra = int((labels == 0).sum() - len(minority))
    repeat = minority.repeat(extra // len(minority) + 1)[:extra]
    index = torch.cat([torch.arange(len(labels)), repeat])
    return TensorDataset(images[index], labels[index])


def arm_loss(arm: str, labels: np.ndarray) -> nn.Module:
    """The loss of a remedy: cross-entropy, inverse-frequency weighted cross-entropy, or focal loss
    (γ = 2, with the class weights as α so that it also balances the classes)."""
    if arm in ("plain", "oversampled"):
        return nn.CrossEntropyLoss()
    if arm == "weighted":
        return nn.CrossEntropyLoss(weight=losses.class_weights(labels))
    if arm == "focal":
        weights = losses.class_weights(labels)
        return losses.FocalLoss(FOCAL_GAMMA, alpha=(weights / weights.sum()).tolist())
    raise ValueError(f"arm must be one of {ARMS}, not {arm!r}")


def train_arm(task: Task, arm: str = "plain", seed: int = 0, kind: str = "image", split: str = "patient",
              build: Callable[[int], nn.Module] | None = None, epochs: int | None = None,
              name: str | None = None) -> training.Run:
    """Train one network (default: S3.Q4's ``ModuleCNN``) with one remedy on one input kind and split."""
    from cnnbook.models import medical

    s = task.settings
    fit_part, validation = task.tensors("fit", kind, split), task.tensors("validation", kind, split)
    loss = arm_loss(arm, fit_part.tensors[1].numpy())
    if arm == "oversampled":
        fit_part = oversampled(fit_part)
    channels = fit_part.tensors[0].shape[1]
    training.seed_everything(seed)
    model = build(channels) if build is not None else medical.ModuleCNN(channels)
    with training.threads(1):
        return training.fit(model, fit_part, validation, epochs=epochs or s.epochs, batch_size=s.batch_size, lr=s.lr,
                            schedule="cosine", loss=loss, seed=seed, name=name or f"ch09-{arm}-{kind}-{split}")


_WORKER_TASK: "Task | None" = None


def _worker_start(task: "Task") -> None:
    global _WORKER_TASK
    _WORKER_TASK = task
    torch.set_num_threads(1)


def _worker_run(job: tuple[str, int, str, str]) -> float:
    return train_arm(_WORKER_TASK, *job).seconds  # type: ignore[arg-type]


def workers() -> int:
    """How many training processes this kernel may use: its share of the cores (``OMP_NUM_THREADS``,
    which the book's executor sets per chapter), at most the cores it may run on."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = os.environ.get("OMP_NUM_THREADS")
    return max(1, min(cores, int(share) if share and share.isdigit() else torch.get_num_threads()))


def train_in_parallel(task: Task, jobs: Sequence[tuple[str, int, str, str]], processes: int | None = None) -> None:
    """Train the runs ``(arm, seed, kind, split)`` of ``train_arm`` in ``processes`` worker processes
    (default ``workers()``), one thread each, so that the caller's ``train_arm`` then finds them in the
    cache. Each run is deterministic and keyed by its whole configuration, so a run trained here is
    the run the caller would have trained; with one process nothing is done here."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    processes = workers() if processes is None else processes
    if processes < 2 or len(jobs) < 2:
        return
    context = multiprocessing.get_context("spawn")  # never fork a process whose thread pools are running
    with ProcessPoolExecutor(min(processes, len(jobs)), mp_context=context, initializer=_worker_start,
                             initargs=(task,)) as pool:
        list(pool.map(_worker_run, jobs))


def positive_probability(model: nn.Module, data_: TensorDataset) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, p(csPCa))`` of a model on a data set."""
    with training.threads(1):
        predictions = training.predict(model, data_)
    return predictions.labels, predictions.probabilities[:, 1]


def scores(labels: np.ndarray, probability: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Every metric of the chapter at one decision threshold (percent, except the counts):
    accuracy, sensitivity (recall of csPCa), specificity (recall of no csPCa), balanced accuracy,
    precision, ROC AUC, PR AUC (average precision), and the confusion counts."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels)
    predicted = (np.asarray(probability) >= threshold).astype(int)
    matrix = metrics.confusion(labels, predicted, 2)
    tn, fp, fn, tp = matrix.ravel()
    per_class = metrics.per_class_accuracy(labels, predicted, 2)
    return {"accuracy": 100 * (tp + tn) / len(labels), "sensitivity": 100 * per_class[1],
            "specificity": 100 * per_class[0], "balanced_accuracy": 50 * (per_class[0] + per_class[1]),
            "precision": 100 * tp / (tp + fp) if tp + fp else float("nan"),
            "roc_auc": 100 * roc_auc_score(labels, probability), "pr_auc": 100 * average_precision_score(labels, probability),
            "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp), "threshold": float(threshold)}


def validation_threshold(labels: np.ndarray, probability: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy (Youden's J) on *validation* data; ties go to
    the midpoint between neighbouring scores, so the test set never influences it."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(labels, probability)
    best = int(np.argmax(tpr - fpr))
    below = np.max(probability[probability < thresholds[best]], initial=0.0)
    return float((thresholds[best] + below) / 2) if np.isfinite(thresholds[best]) else 0.5


def always_negative(labels: np.ndarray) -> dict[str, float]:
    """The trivial classifier that answers "no csPCa" for every slice (its score is constant)."""
    return scores(labels, np.zeros(len(labels)))


def remedy_runs(task: Task) -> pd.DataFrame:
    """Every remedy on every seed, scored on the patient-level test set: one row per (remedy, seed).
    The plain runs are also scored with a threshold chosen on validation data (``threshold``)."""
    train_in_parallel(task, [(arm, seed, "image", "patient") for arm in ARMS for seed in task.settings.seeds])
    rows = []
    test = task.tensors("test")
    validation = task.tensors("validation")
    for arm in ARMS:
        for seed in task.settings.seeds:
            run = train_arm(task, arm, seed)
            labels, p = positive_probability(run.model, test)
            rows.append({"key": f"remedy_{arm}", "seed": seed, **scores(labels, p), "seconds": run.seconds})
            if arm == "plain":
                cut = validation_threshold(*positive_probability(run.model, validation))
                rows.append({"key": "remedy_threshold", "seed": seed, **scores(labels, p, cut), "seconds": run.seconds})
    return pd.DataFrame(rows)


SUMMARY_METRICS = ("accuracy", "sensitivity", "specificity", "balanced_accuracy", "roc_auc", "pr_auc")


def summary(runs: pd.DataFrame, columns: Sequence[str] = SUMMARY_METRICS) -> pd.DataFrame:
    """Mean and sample standard deviation over seeds per key, as ``<metric>`` (mean), ``<metric>_sd``
    and a text column ``<metric>_text`` ("mean ± sd"); keys in their first order."""
    order = list(dict.fromkeys(runs.key))
    grouped = runs.groupby("key", sort=False)
    out = grouped[list(columns)].mean().join(grouped[list(columns)].std(ddof=1).add_suffix("_sd")).loc[order]
    for c in columns:
        out[f"{c}_text"] = [f"{m:.1f} ± {s:.1f}" for m, s in zip(out[c], out[f"{c}_sd"])]
    out["seeds"] = grouped.size().loc[order]
    return out.reset_index()


def remedy_facts(runs: pd.DataFrame, metric: str = "balanced_accuracy") -> dict[str, float | int]:
    """For each remedy, its mean gain in ``metric`` over the plain model across seeds (paired by
    seed), the spread of that gain, and on how many seeds it beat the plain model."""
    plain = runs[runs.key == "remedy_plain"].set_index("seed")[metric]
    facts: dict[str, float | int] = {}
    for key in dict.fromkeys(runs.key):
        if key == "remedy_plain":
            continue
        mine = runs[runs.key == key].set_index("seed")[metric]
        gain = (mine - plain.loc[mine.index]).to_numpy()
        name = key.removeprefix("remedy_")
        facts[f"{name}_gain"] = float(gain.mean())
        facts[f"{name}_gain_sd"] = float(gain.std(ddof=1)) if len(gain) > 1 else float("nan")
        facts[f"{name}_wins"] = int((gain > 0).sum())
    facts["seeds"] = int(len(plain))
    return facts


def leakage(task: Task, seed: int = 0) -> pd.DataFrame:
    """The same network, seed and epochs trained and tested on the patient-level and the slice-level
    split: test scores of each, and how many test patients also have slices in the training part."""
    train_in_parallel(task, [("plain", seed, "image", split) for split in ("patient", "slice")])
    rows = []
    for split in ("patient", "slice"):
        run = train_arm(task, "plain", seed, split=split)
        labels, p = positive_probability(run.model, task.tensors("test", split=split))
        patients = task.cohort.patients
        seen = set(patients[task.splits[split]["fit"]])
        test_patients = set(patients[task.splits[split]["test"]])
        rows.append({"key": f"split_{split}", **scores(labels, p), "shared_patients": len(test_patients & seen),
                     "test_patients": len(test_patients)})
    return pd.DataFrame(rows)


MASK_WAYS = ("image", "mask_channel", "cropped")  # the baseline and the two uses of the gland mask the chapter measures


def mask_runs(task: Task, kinds: Sequence[str] = MASK_WAYS) -> pd.DataFrame:
    """The plain network on each input kind (default ``MASK_WAYS``), every seed, scored on the test set."""
    train_in_parallel(task, [("plain", seed, kind, "patient") for kind in kinds for seed in task.settings.seeds])
    rows = []
    for kind in kinds:
        for seed in task.settings.seeds:
            run = train_arm(task, "plain", seed, kind=kind)
            labels, p = positive_probability(run.model, task.tensors("test", kind))
            rows.append({"key": f"input_{kind}", "seed": seed, **scores(labels, p)})
    return pd.DataFrame(rows)


def lesion_attention(task: Task, kinds: Sequence[str] = ("image", "cropped"), seed: int = 0) -> pd.DataFrame:
    """Grad-CAM for csPCa on the positive test slices of each kind's seed-``seed`` run, upsampled to the
    training side: share of the map's mass inside the lesion and inside the gland, and the shares of the
    image the lesion and the gland cover (what an evenly spread map would score)."""
    from cnnbook import interpretation

    test = task.splits["patient"]["test"]
    positive = test[task.cohort.labels[test] == 1]
    rows = []
    for kind in kinds:
        lesions = task.lesion_masks(positive, kind)
        glands = (task.crop(task.cohort.glands[positive], positive) >= 0.5).numpy()[:, 0] if kind == "cropped" \
            else task.glands[positive].numpy()[:, 0] > 0
        run = train_arm(task, "plain", seed, kind=kind)
        x = task.inputs(kind)[torch.from_numpy(positive)]
        with training.threads(1):
            scored = interpretation.localisation(run.model, run.model.last_conv, x, {"lesion": lesions, "gland": glands},
                                                 classes=np.ones(len(x), dtype=np.int64))
        rows.append({"key": f"input_{kind}", "mass_lesion": 100 * float(np.nanmean(scored.mass_lesion)),
                     "mass_gland": 100 * float(np.nanmean(scored.mass_gland)),
                     "pointing_lesion": 100 * float(scored.pointing_lesion.mean()),
                     "area_lesion": 100 * float(lesions.mean()), "area_gland": 100 * float(glands.mean()),
                     "enrichment": float(np.nanmean(scored.mass_lesion)) / float(lesions.mean()),
                     "slices": len(x)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------- Xception and EfficientNet
class LiteTop(nn.Module):
    """EfficientNet-Lite0's blocks from ``frozen`` on, its head and a new two-class linear layer: the
    part that is fine-tuned, fed with the features of the frozen blocks (computed once)."""

    def __init__(self, net: nn.Module, frozen: int, n_classes: int = 2):
        super().__init__()
        self.blocks = nn.ModuleList(net._blocks[frozen:])
        self.offset, self.total = frozen, len(net._blocks)
        self.drop_connect = net._global_params.drop_connect_rate
        self.conv_head, self.bn1, self.act = net._conv_head, net._bn1, net._swish
        self.fc = nn.Linear(net._fc.in_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks, start=self.offset):
            x = block(x, drop_connect_rate=self.drop_connect * i / self.total)
        return self.fc(self.act(self.bn1(self.conv_head(x))).mean(dim=(2, 3)))


@torch.no_grad()
def lite_features(images: torch.Tensor, frozen: int, side: int, batch_size: int = 128) -> torch.Tensor:
    """Grayscale slices (``N×1×H×W`` in [0, 1]) resized to ``side``, repeated to RGB, normalised as
    Lite0 expects, through its stem and first ``frozen`` blocks (ImageNet weights, eval mode)."""
    from cnnbook import models

    classifier = models.efficientnet_lite0().eval()
    net = classifier.net
    out = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        if x.shape[-1] != side:
            x = nn.functional.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        x = (x.repeat(1, 3, 1, 1) * 255 - classifier.mean) / classifier.std
        x = net._swish(net._bn0(net._conv_stem(x)))
        for i, block in enumerate(net._blocks[:frozen]):
            x = block(x)
        out.append(x)
    return torch.cat(out)


def pretrained_pair(task: Task, seed: int = 0) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Small Xception (from scratch) and EfficientNet-Lite0 (ImageNet weights, its last blocks and head
    fine-tuned) on the same patient-level split, seed and epochs as the plain CNN: test scores of the three
    (one row each, with the trained parameters) and their ``(labels, p(csPCa))`` on the test part."""
    from cnnbook import models
    from cnnbook.models import medical

    s = task.settings
    runs = {"cnn": train_arm(task, "plain", seed),
            "xception": train_arm(task, "plain", seed, build=lambda c: medical.small_xception(c), name="ch09-xception")}
    originals = task.cohort.images
    frozen = s.lite_frozen
    source = torch.from_numpy(originals).float() / 255
    features = lite_features(source, frozen, s.lite_side)
    labels = task.labels
    parts = {p: TensorDataset(features[torch.from_numpy(i)], labels[torch.from_numpy(i)])
             for p, i in task.splits["patient"].items()}
    training.seed_everything(seed)
    top = LiteTop(models.efficientnet_lite0().net, frozen)
    with training.threads(1):
        runs["lite0"] = training.fit(top, parts["fit"], parts["validation"], epochs=s.epochs, batch_size=s.batch_size,
                                     lr=LITE_LR, schedule="cosine", seed=seed, name="ch09-lite0")
    rows, curves = [], {}
    for key, run in runs.items():
        data_ = parts["test"] if key == "lite0" else task.tensors("test")
        curves[key] = positive_probability(run.model, data_)
        trainable = sum(q.numel() for q in run.model.parameters())
        rows.append({"key": f"net_{key}_trained", **scores(*curves[key]), "params": trainable, "seconds": run.seconds})
    return pd.DataFrame(rows), curves


# ----------------------------------------------------------------------------------------- figures
def samples_figure(pool: Cohort, per_class: int = 4, seed: int = 0):
    """Slices of ``per_class`` different patients of each class (first slice drawn at random), gland
    outlined in yellow and lesion in red."""
    from cnnbook import plots

    rng = np.random.default_rng(seed)
    table = pool.table
    chosen = []
    for label in (1, 0):
        patients = rng.choice(table.patient[table.csPCa == label].unique(), size=per_class, replace=False)
        chosen += [int(table.index[(table.patient == p)][len(table.index[table.patient == p]) // 2]) for p in patients]
    fig, axes = plots.figure(2, per_class, panel=(1.6, 1.75))
    for ax, n in zip(axes.ravel(), chosen):
        plots.show_image(ax, pool.images[n])
        ax.contour(pool.glands[n], levels=[0.5], colors="yellow", linewidths=0.6)
        if pool.lesions[n].any():
            ax.contour(pool.lesions[n], levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(f"{table.patient[n]}, csPCa = {table.csPCa[n]}")
    return fig


def histogram_figure(table: pd.DataFrame):
    """The csPCa label's histogram, counted by slice and by patient, from the metadata table."""
    from cnnbook import plots

    fig, axes = plots.figure(1, 2, panel=(3.0, 2.4))
    per_patient = table.groupby("patient").csPCa.first()
    for ax, counts, unit in ((axes[0, 0], table.csPCa.value_counts(), "slices"),
                             (axes[0, 1], per_patient.value_counts(), "patients")):
        values = [int(counts.get(0, 0)), int(counts.get(1, 0))]
        bars = ax.bar(["0 (no csPCa)", "1 (csPCa)"], values, color=["#1f77b4", "#d62728"])
        ax.bar_label(bars, fontsize=8)
        ax.set_xlabel("csPCa label")
        ax.set_ylabel(f"number of {unit}")
        ax.set_title(f"by {unit[:-1]}")
    return fig


def curves_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]):
    """ROC and precision–recall curves of several models (``{name: (labels, p(csPCa))}``), with the
    chance line of each (the diagonal; the positive share)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    from cnnbook import plots

    fig, axes = plots.figure(1, 2, panel=(3.6, 3.2))
    roc_ax, pr_ax = axes[0]
    for name, (labels, p) in curves.items():
        fpr, tpr, _ = roc_curve(labels, p)
        roc_ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, p):.2f})")
        precision, recall, _ = precision_recall_curve(labels, p)
        pr_ax.step(recall, precision, where="post", label=f"{name} (AP {average_precision_score(labels, p):.2f})")
    labels = next(iter(curves.values()))[0]
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color=plots.COLOURS["reference"], linewidth=1, label="chance")
    pr_ax.axhline(float(np.mean(labels)), linestyle="--", color=plots.COLOURS["reference"], linewidth=1, label="chance")
    roc_ax.set_xlabel("false positive rate (1 − specificity)")
    roc_ax.set_ylabel("true positive rate (sensitivity)")
    pr_ax.set_xlabel("recall (sensitivity)")
    pr_ax.set_ylabel("precision")
    pr_ax.set_ylim(0, 1.02)
    for ax in (roc_ax, pr_ax):
        ax.legend(fontsize=7, loc="lower right" if ax is roc_ax else "upper right")
    return fig


def attention_figure(task: Task, kinds: Sequence[str] = ("image", "cropped"), count: int = 6, seed: int = 0):
    """Grad-CAM for csPCa on ``count`` positive test slices (one per patient) for each kind's run; the
    lesion outlined in white."""
    from cnnbook import interpretation

    test = task.splits["patient"]["test"]
    table = task.cohort.table.iloc[test]
    firsts = np.array(table[table.csPCa == 1].groupby("patient").head(1).index[:count])
    from cnnbook import plots

    fig, axes = plots.figure(len(kinds), count, panel=(1.3, 1.3))
    for r, kind in enumerate(kinds):
        run = train_arm(task, "plain", seed, kind=kind)
        x = task.inputs(kind)[torch.from_numpy(firsts)]
        cam = interpretation.grad_cam(run.model, run.model.last_conv, x, torch.ones(len(x), dtype=torch.long))
        heat = cam.upsampled(tuple(x.shape[-2:])).numpy()
        lesions = task.lesion_masks(firsts, kind)
        axes[r, 0].set_ylabel(kind)
        for n, ax in enumerate(axes[r]):
            plots.show_image(ax, x[n, :1].numpy())
            peak = float(heat[n].max())
            shown = heat[n] / peak if peak > 0 else heat[n]
            ax.imshow(shown, cmap=plots.HEAT_MAP, alpha=0.6 * shown, vmin=0, vmax=1)
            ax.contour(lesions[n], levels=[0.5], colors="white", linewidths=0.8)
            if r == 0:
                ax.set_title(str(task.cohort.table.patient[firsts[n]]))
    return fig
