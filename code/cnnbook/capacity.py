"""Underfitting, overfitting and a balanced fit (S0.Q7): the data, the training of the three models,
and the measures that tell them apart.

The three networks of ``models.S0_Q7_DESIGNS`` are trained with identical settings on CIFAR-100
(full profile) or, offline, on its stand-in: procedural shapes whose top-left patch names the class
in most training images and a random class in every validation and test image (``STAND_IN``).
Validation and test images are the two halves of the test split, so both follow the test
distribution. Because the stand-in knows each object's mask and the patch's place, a network that
leans on the patch is exposed three ways: by its validation accuracy, by where its explanations
lie (``attention``, ``projection_shares``), and by what its answers do when only the patch changes
(``patch_test``), against a control: the same repainting of a region of the same size in another corner,
away from the object (``control_region``).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import data, interpretation, models, training
from cnnbook.arithmetic import analyze
from cnnbook.profiles import PROFILES, Profile

STAND_IN_CUE = data.Cue(train=0.8, test=0.0)  # the patch agrees with the label in 80 % of training images
STAND_IN = {"cue": STAND_IN_CUE, "test_per_class": 200}  # 300 training images per class; 100 + 100 for validation, test
SETTINGS = {"optimizer": "adam", "lr": 2e-3, "schedule": "cosine", "batch_size": 64}  # the same for A, B and C
EPOCHS = {"quick": 12, "full": 30}
INVERTER_EPOCHS = 8
DEPTHS = {"shallow": 0, "deep": -1}  # the blocks looked at: each model's first and its last


def load(profile: Profile) -> data.DataSet:
    """CIFAR-100 on a profile with real data; otherwise its stand-in with the spurious patch, labelled as one."""
    return data.for_profile("cifar100", profile, **({} if profile.real_data else STAND_IN))


def stand_in(dataset: data.DataSet) -> data.DataSet:
    """The data set with object masks and the patch: ``dataset`` itself if it has them, else the stand-in."""
    return dataset if dataset.train.masks is not None else load(PROFILES["quick"])


def splits(dataset: data.DataSet, seed: int = 0) -> tuple[data.Split, data.Split, data.Split]:
    """``(train, validation, test)``: the training split, and the two stratified halves of the test split."""
    test, validation = dataset.test.split(0.5, seed=seed)
    return dataset.train, validation, test


def on_stand_in(experiment: data.DataSet, experiment_splits: tuple[data.Split, data.Split, data.Split],
                runs: dict[str, training.Run], seed: int = 0
                ) -> tuple[data.DataSet, tuple[data.Split, data.Split, data.Split], dict[str, training.Run]]:
    """The data set with object masks and the patch, its splits, and A, B and C trained on it: ``experiment``'s
    own splits and runs when it is the stand-in (quick profile), else the stand-in's (``EPOCHS['quick']``)."""
    scored = stand_in(experiment)
    if scored is experiment:
        return scored, experiment_splits, runs
    scored_splits = splits(scored, seed)
    return scored, scored_splits, train(*scored_splits[:2], len(scored.classes), EPOCHS["quick"], seed=seed)


def designs(image_shape: tuple[int, int, int], n_classes: int) -> pd.DataFrame:
    """Per model: its block widths, head (``gap`` or ``dense <units>``), batch norm, parameters (all, in the head,
    and the head's share in percent), the output of its last block (``C×h×w``) and the receptive field of a
    unit there (``cnnbook.arithmetic``)."""
    rows = []
    for name, design in models.S0_Q7_DESIGNS.items():
        model = models.s0_q7_model(name, image_shape[0], image_shape[-1], n_classes)
        report = analyze(model, image_shape).frame()
        last = report.iloc[sum(1 for m in model.features.modules() if next(m.children(), None) is None) - 1]
        rows.append({"key": name, "widths": ", ".join(map(str, design["widths"])),
                     "head": f"{design['head']} {design['hidden']}" if design["head"] == "dense" else design["head"],
                     "batch_norm": bool(design.get("batch_norm", False)), "params": models.count_parameters(model),
                     "head_params": models.count_parameters(model.classifier),
                     "head_share": 100 * models.count_parameters(model.classifier) / models.count_parameters(model),
                     "final_map": last.output,
                     "rf_last": last.rf, "rf_side": int(last.rf.split("×")[0])})
    return pd.DataFrame(rows)


def train(train_split: data.Split, validation: data.Split, n_classes: int, epochs: int,
          seed: int = 0) -> dict[str, training.Run]:
    """Models A, B and C trained with ``SETTINGS`` (cached runs ``s0q7-A`` …), from initial weights fixed by
    ``seed``."""
    train_data, validation_data = train_split.tensors(), validation.tensors()
    return {name: training.fit(untrained(name, train_split, n_classes, seed), train_data, validation_data,
                               epochs=epochs, seed=seed, name=f"s0q7-{name}", **SETTINGS)
            for name in models.S0_Q7_DESIGNS}


def untrained(name: str, split: data.Split, n_classes: int, seed: int = 0) -> nn.Module:
    """Model ``name`` with the initial weights ``train`` starts from (the network before training), in eval mode."""
    training.seed_everything(seed)
    return models.s0_q7_model(name, split.images.shape[1], split.images.shape[-1], n_classes).eval()


def summary(runs: Mapping[str, training.Run], train_split: data.Split, validation: data.Split,
            test: data.Split) -> pd.DataFrame:
    """Per model, in percent: accuracy on the training, validation and test images (the trained model in eval
    mode), the gap between training and validation, and the number of parameters; plus the epochs."""
    rows = []
    for name, run in runs.items():
        accuracy = {split: 100 * training.predict(run.model, part.tensors()).accuracy
                    for split, part in (("train", train_split), ("validation", validation), ("test", test))}
        rows.append({"key": name, "params": models.count_parameters(run.model), "train_accuracy": accuracy["train"],
                     "val_accuracy": accuracy["validation"], "test_accuracy": accuracy["test"],
                     "gap": accuracy["train"] - accuracy["validation"], "epochs": len(run.history),
                     "seconds": run.seconds})
    return pd.DataFrame(rows)


def examples(predictions: Mapping[str, np.ndarray], labels: np.ndarray,
             count: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The same test images for every model, each of a different class: ``count`` that the models classify
    correctly (those right for all models first, in order, then those right for fewer), and the first
    ``count`` that most of them get wrong."""
    right = np.stack([p == labels for p in predictions.values()]).sum(axis=0)

    def first(candidates: np.ndarray) -> np.ndarray:
        picked: list[int] = []
        for index in candidates:
            if labels[index] not in labels[picked]:
                picked.append(int(index))
            if len(picked) == count:
                break
        return np.array(picked, dtype=int)

    by_agreement = np.lexsort((np.arange(len(labels)), -right))  # most models right first, then in order
    return first(by_agreement[right[by_agreement] > 0]), first(np.flatnonzero(right < len(predictions) / 2))


def answers(predicted: Mapping[str, np.ndarray], split: data.Split, shown: np.ndarray,
            classes: Sequence[str]) -> pd.DataFrame:
    """The ``shown`` images of ``split``, numbered from 1: the true class, each model's answer and, where the
    images carry the patch, the class it names; columns named by their table labels."""
    table = pd.DataFrame({"image_name": np.arange(1, len(shown) + 1),
                          "true_class": [classes[y] for y in split.labels[shown]],
                          **{f"answer_{name}": [classes[p] for p in answer[shown]] for name, answer in predicted.items()}})
    if split.cues is not None:
        table["answer_patch"] = [classes[c] for c in split.cues[shown]]
    return table


def strongest(runs: Mapping[str, training.Run], split: data.Split, depth: str,
              k: int = 6) -> dict[str, tuple[np.ndarray, interpretation.Projection]]:
    """Following Zeiler and Fergus, per model (``<model> <block>``) the ``k`` channels of the block at ``depth``
    (``DEPTHS``) whose strongest activation over ``split`` is largest: the images that produced them and the
    DeconvNet projections of those activations (for ``interpretation.show_projections``)."""
    images = torch.from_numpy(split.scaled())
    groups = {}
    for name, run in runs.items():
        layer = run.model.features[DEPTHS[depth]]
        top = interpretation.top_activations(run.model.features, layer, images, k=k)
        chosen = top.image.tolist()
        projection = interpretation.deconvnet(run.model.features, layer, images[chosen],
                                              units=top[["channel", "row", "column"]].to_numpy())
        groups[f"{name} {list(blocks(run.model))[DEPTHS[depth]]}"] = (split.images[chosen], projection)
    return groups


def blocks(model: models.ConvNet) -> dict[str, nn.Module]:
    """The model's blocks by name (``block1`` … ): their outputs are its feature maps at increasing depth."""
    return dict(model.features.named_children())


def explained(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per column of ``values`` (``N×K``), the share of its variance explained by ``groups`` (η², the
    between-group variance over the total); NaN for a constant column."""
    mean = values.mean(axis=0)
    between = np.zeros_like(mean)
    for group in np.unique(groups):
        members = values[groups == group]
        between += len(members) * (members.mean(axis=0) - mean) ** 2
    total = ((values - mean) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, between / total, np.nan)


def selectivity(model: models.ConvNet, split: data.Split) -> pd.DataFrame:
    """Per block of the model, over the images of ``split``: the output's shape, the share of zero activations,
    and how class-specific its channels are: the mean over channels of the η² of a channel's spatial mean
    by the true class (``class_eta``) and, where the split has a patch, by the patch's class (``patch_eta``);
    in percent. A channel that fires the same for every class scores 0; one that only tells classes apart, 100."""
    maps = interpretation.feature_maps(model, blocks(model), torch.from_numpy(split.scaled()))
    rows = []
    for name, stack in maps.items():
        means = stack.mean(dim=(2, 3)).numpy()
        rows.append({"block": name, "output": "×".join(map(str, stack.shape[1:])),
                     "zeros": 100 * float((stack == 0).float().mean()),
                     "class_eta": 100 * float(np.nanmean(explained(means, split.labels))),
                     "patch_eta": (100 * float(np.nanmean(explained(means, split.cues)))
                                   if split.cues is not None else np.nan)})
    return pd.DataFrame(rows)


# --- the stand-in: masks, the patch, and where each model looks ----------------------------------------

def cue_facts(dataset: data.DataSet, train_split: data.Split, test: data.Split) -> dict[str, float]:
    """The patch: its ``side`` in pixels, the share of training images it was made to agree with (``train``),
    the number of ``classes`` it can name, and how often it names the true class in ``train_split`` and in
    ``test`` (``agree_train``, ``agree_test``); shares in percent."""
    return {"side": int(data.cue_region(dataset.image_shape[-1])[0].sum()), "train": 100 * STAND_IN_CUE.train,
            "classes": len(dataset.classes), "agree_train": 100 * float((train_split.cues == train_split.labels).mean()),
            "agree_test": 100 * float((test.cues == test.labels).mean())}


def object_facts(split: data.Split) -> dict[str, float]:
    """The objects' mean area in ``pixels`` and the ``diameter`` of a disc of that area."""
    pixels = float(split.masks.sum(axis=(1, 2)).mean())
    return {"pixels": pixels, "diameter": 2 * float(np.sqrt(pixels / np.pi))}


def regions(split: data.Split) -> dict[str, np.ndarray]:
    """Per image (``N×H×W``, disjoint): the object's pixels, the patch, and everything else (background)."""
    patch = np.broadcast_to(data.cue_region(split.images.shape[-1]), split.masks.shape)
    return {"object": split.masks & ~patch, "cue": patch, "background": ~split.masks & ~patch}


def patch_reliance(model: nn.Module, train_split: data.Split, test: data.Split) -> dict[str, float]:
    """How much a model's answers follow the patch, in percent: ``memorised``, its accuracy on the training
    images whose patch names another class (the patch cannot explain those); ``follows``, the share of
    test images on which it names the patch's class where that is not the true class."""
    train_predicted = training.predict(model, train_split.tensors()).predicted
    disagree = train_split.cues != train_split.labels
    predicted = training.predict(model, test.tensors()).predicted
    return {"memorised": 100 * float((train_predicted == train_split.labels)[disagree].mean()),
            "follows": 100 * float(((predicted == test.cues) & (test.cues != test.labels)).mean())}


def control_region(split: data.Split) -> np.ndarray:
    """Per image (``N×H×W``), a region of the patch's size and shape in another corner of the image, the one
    that overlaps the object least (ties: top right, bottom left, bottom right): the control of
    ``patch_test``. Like the patch it lies on the image's border, so it differs from the patch only in being
    where no label was ever painted."""
    size = split.images.shape[-1]
    patch = data.cue_region(size)
    corners = [patch[:, ::-1], patch[::-1, :], patch[::-1, ::-1]]
    if split.masks is None:
        return np.broadcast_to(corners[0], (len(split), size, size)).copy()
    overlap = np.stack([(split.masks & corner).sum(axis=(1, 2)) for corner in corners])  # corners × N
    return np.stack(corners)[overlap.argmin(axis=0)]


@torch.no_grad()
def patch_test(model: nn.Module, split: data.Split, region: np.ndarray | None = None) -> dict[str, float]:
    """Repaint only the patch (or ``region``: one ``H×W`` mask, or one per image), in each class's colour in
    turn, and watch the answers (in percent): ``follows`` is the share of (image, colour) pairs answered with
    the colour's class (a model blind to the region scores exactly 100/K: whatever its answer, one colour in
    K matches it), ``changed`` the share of images whose answer changes with the colour."""
    mask = np.broadcast_to(data.cue_region(split.images.shape[-1]) if region is None else region,
                           (len(split), *split.images.shape[-2:]))[:, None]
    answers = []
    for colour in data.CUE_COLOURS:
        images = np.where(mask, colour[None, :, None, None], split.images).astype(split.images.dtype)
        answers.append(training.predict(model, data.Split(images, split.labels, max_value=split.max_value).tensors())
                       .predicted)
    answers = np.stack(answers)
    return {"follows": 100 * float((answers == np.arange(len(answers))[:, None]).mean()),
            "changed": 100 * float((answers != answers[0]).any(axis=0).mean()), "chance": 100 / len(answers)}


def projection_shares(features: nn.Module, layer: nn.Module, split: data.Split) -> dict[str, float]:
    """The DeconvNet projection of each image's strongest activation at ``layer``: the mean share of its
    energy (``Projection.energy``) on each of ``regions``, in percent."""
    projection = interpretation.deconvnet(features, layer, torch.from_numpy(split.scaled()))
    energy = projection.energy().numpy()
    return {name: 100 * float(np.nanmean(interpretation.mass_inside(energy, mask)))
            for name, mask in regions(split).items()}


def attention(model: models.ConvNet, split: data.Split,
              extra: Mapping[str, np.ndarray] | None = None) -> dict[str, float]:
    """Where Grad-CAM at the last convolution, for the model's own answers, puts its mass (``mass_<region>``)
    and its peak (``pointing_<region>``) among ``regions`` (and the ``extra`` ones), and each region's share
    of the image (``area_<region>``, the score of an even map); in percent (``interpretation.score_maps``)."""
    return interpretation.score_maps(model, model.last_conv, torch.from_numpy(split.scaled()), None,
                                     {**regions(split), **(extra or {})})


def looking(runs: Mapping[str, training.Run], train_split: data.Split, test: data.Split) -> pd.DataFrame:
    """One row per model (``key``): ``attention`` (with ``control_region`` as a region: ``mass_control``, ``pointing_control``,
    ``area_control``) and ``patch_reliance`` on ``test``; ``patch_test`` on the patch with its keys prefixed
    ``test_`` and on the control region prefixed ``control_``; the share of images whose control region
    touches the object (``control_on_object``); and what repainting the patch does beyond
    repainting the control (``excess_changed``, ``excess_follows``: the differences, in points)."""
    control = control_region(test)
    rows = []
    for name, run in runs.items():
        on_patch, on_control = patch_test(run.model, test), patch_test(run.model, test, control)
        rows.append({"key": name, **attention(run.model, test, {"control": control}),
                     **patch_reliance(run.model, train_split, test),
                     **{f"test_{k}": v for k, v in on_patch.items()},
                     **{f"control_{k}": v for k, v in on_control.items()},
                     "control_on_object": 100 * float((control & test.masks).any(axis=(1, 2)).mean()),
                     "excess_changed": on_patch["changed"] - on_control["changed"],
                     "excess_follows": on_patch["follows"] - on_control["follows"]})
    return pd.DataFrame(rows)


def projections(runs: Mapping[str, training.Run], split: data.Split, n_classes: int, seed: int = 0) -> pd.DataFrame:
    """One row per model and depth (``shallow``: its first block, ``deep``: its last; ``key`` is
    ``<model>_<depth>``): ``projection_shares`` of the trained model, and of the same network before
    training with the keys prefixed ``untrained_``."""
    rows = []
    for name, run in runs.items():
        before = untrained(name, split, n_classes, seed)
        for depth, pick in DEPTHS.items():
            trained_shares = projection_shares(run.model.features, run.model.features[pick], split)
            untrained_shares = projection_shares(before.features, before.features[pick], split)
            rows.append({"key": f"{name}_{depth}", "model": name, "depth": depth, **trained_shares,
                         **{f"untrained_{k}": v for k, v in untrained_shares.items()}})
    return pd.DataFrame(rows)


# --- an up-convolutional network per model (S2.Q2) -------------------------------------------------------

def invert(runs: Mapping[str, training.Run], train_split: data.Split, validation: data.Split,
           epochs: int = INVERTER_EPOCHS, seed: int = 0) -> dict[str, training.Run]:
    """For each model, an ``UpConvInverter`` trained (mean squared error, ``SETTINGS``) to rebuild the images
    from the output of the model's last block. Only the loss columns of the runs' histories mean something:
    ``fit`` counts an 'accuracy' by the brightest pixel, which is not a measure of a reconstruction."""
    pixels = torch.from_numpy(train_split.scaled())
    held = torch.from_numpy(validation.scaled())
    pairs, held_pairs = TensorDataset(pixels, pixels.flatten(1)), TensorDataset(held, held.flatten(1))
    inverters = {}
    for name, run in runs.items():
        training.seed_everything(seed)
        inverter = models.UpConvInverter(run.model.features, train_split.images.shape[1:])
        inverters[name] = training.fit(inverter, pairs, held_pairs, epochs=epochs, seed=seed, loss=nn.MSELoss(),
                                       name=f"s0q7-invert-{name}", **SETTINGS)
    return inverters


@torch.no_grad()
def reconstruction_errors(inverter: models.UpConvInverter, split: data.Split) -> dict[str, float]:
    """Mean squared error (pixel values in [0, 1], averaged over colour channels) of the inverter's reconstructions
    of ``split``, over all pixels and on each of ``regions``; multiplied by 1000 for reading."""
    images = torch.from_numpy(split.scaled())
    error = ((inverter.eval().reconstruct(images) - images) ** 2).mean(dim=1).numpy()
    result = {"all": 1000 * float(error.mean())}
    for name, mask in regions(split).items():
        result[name] = 1000 * float(error[mask].mean())
    return result
