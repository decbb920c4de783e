"""Procedural facial expressions: drawn faces whose mouth, eyebrows and eyes encode one of eight
expressions, with the regions that carry the expression known for every image.

A stand-in for AffectNet's eight classes (neutral, happy, sad, surprise, fear, disgust, anger,
contempt; Mollahosseini et al. 2017), which is not public. Every image is drawn from a fixed seed:
a face (random skin tone, size, position, tilt) on a noisy shaded background, two eyes, two
eyebrows, a nose and a mouth. Only the mouth, the eyes and the eyebrows depend on the class, each
through an *intensity* drawn per image (weak expressions resemble the neutral face, as real ones
do), and every face also gets random identity variations of those same parts, so the classes
overlap. ``Split.masks`` holds the expression regions (mouth, eyes and eyebrows, slightly
dilated), so a class activation map can be scored by the share of its mass inside them, against
the share of the image area they cover (the score of a map spread evenly).

Guarantees: deterministic given ``seed``; balanced (the same number of images per class);
images ``N×3×H×W`` uint8 in 0..255 like every data set of ``cnnbook.data``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # cnnbook.data imports this module lazily (its registry), so no import at run time
    from cnnbook.data import DataSet, Split

EXPRESSIONS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")  # AffectNet's order
SKIN = np.array([[255, 224, 196], [241, 194, 125], [224, 172, 105], [198, 134, 66], [141, 85, 36],
                 [255, 205, 178]], dtype=np.float64) / 255


Window = tuple[slice, slice, np.ndarray]  # rows, columns and the soft coverage inside them


def _window(gx: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice]:
    size = gx.shape[0]
    clip = lambda v: int(min(max(v, 0), size))  # noqa: E731
    return slice(clip(np.floor(y0) - 1), clip(np.ceil(y1) + 2)), slice(clip(np.floor(x0) - 1), clip(np.ceil(x1) + 2))


def _ellipse(gx: np.ndarray, gy: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> Window:
    """Soft (anti-aliased) coverage of an axis-aligned ellipse, in [0, 1], in its bounding window."""
    rows, cols = _window(gx, cx - rx, cx + rx, cy - ry, cy + ry)
    r = np.hypot((gx[rows, cols] - cx) / rx, (gy[rows, cols] - cy) / ry)
    return rows, cols, np.clip((1 - r) * min(rx, ry) + 0.5, 0, 1)


def _stroke(gx: np.ndarray, gy: np.ndarray, xs: np.ndarray, ys: np.ndarray, width: float) -> Window:
    """Soft coverage of a polyline through the points ``(xs, ys)`` drawn ``width`` pixels wide."""
    rows, cols = _window(gx, xs.min() - width, xs.max() + width, ys.min() - width, ys.max() + width)
    px, py = gx[rows, cols], gy[rows, cols]
    distance = np.full(px.shape, np.inf)
    for x0, y0, x1, y1 in zip(xs[:-1], ys[:-1], xs[1:], ys[1:]):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy + 1e-12), 0, 1)
        distance = np.minimum(distance, np.hypot(px - x0 - t * dx, py - y0 - t * dy))
    return rows, cols, np.clip(width / 2 - distance + 0.5, 0, 1)


def _paint(image: np.ndarray, window: Window, colour: np.ndarray) -> None:
    rows, cols, cover = window
    image[:, rows, cols] *= 1 - cover[None]
    image[:, rows, cols] += cover[None] * colour[:, None, None]


def _parameters(label: int, intensity: float, rng: np.random.Generator) -> dict[str, float]:
    """Mouth, eye and eyebrow parameters of one expression at one intensity (plus identity jitter).

    mouth_curve > 0 smiles, < 0 frowns; mouth_open is the height of an open mouth; mouth_width
    scales its width; mouth_tilt raises one corner (contempt); eye_open scales the eye height;
    brow_raise lifts both eyebrows; brow_inner lifts (> 0) or lowers (< 0) their inner ends."""
    p = {"mouth_curve": rng.normal(0, 0.08), "mouth_open": 0.0, "mouth_width": 1 + rng.normal(0, 0.06),
         "mouth_tilt": 0.0, "eye_open": 1 + rng.normal(0, 0.08), "brow_raise": rng.normal(0, 0.1),
         "brow_inner": rng.normal(0, 0.08), "wrinkle": 0.0}
    side = rng.choice((-1.0, 1.0))  # drawn for every class, so the draws after it do not depend on the class
    s = intensity
    name = EXPRESSIONS[label]
    if name == "happy":
        p["mouth_curve"] += 0.6 * s
        p["mouth_width"] += 0.15 * s
        p["eye_open"] -= 0.3 * s
    elif name == "sad":
        p["mouth_curve"] -= 0.5 * s
        p["brow_inner"] += 0.5 * s
        p["eye_open"] -= 0.15 * s
    elif name == "surprise":
        p["mouth_open"] = 0.55 * s
        p["mouth_width"] -= 0.35 * s
        p["brow_raise"] += 0.6 * s
        p["eye_open"] += 0.5 * s
    elif name == "fear":
        p["mouth_open"] = 0.28 * s
        p["mouth_width"] += 0.2 * s
        p["brow_raise"] += 0.35 * s
        p["brow_inner"] += 0.45 * s
        p["eye_open"] += 0.45 * s
    elif name == "disgust":
        p["mouth_curve"] -= 0.3 * s
        p["brow_inner"] -= 0.3 * s
        p["eye_open"] -= 0.35 * s
        p["wrinkle"] = s
    elif name == "anger":
        p["brow_inner"] -= 0.7 * s
        p["brow_raise"] -= 0.2 * s
        p["eye_open"] -= 0.2 * s
        p["mouth_width"] -= 0.2 * s
        p["mouth_curve"] -= 0.15 * s
    elif name == "contempt":
        p["mouth_tilt"] = 0.55 * s * side  # one corner raised, either side
    return p


def draw_face(label: int, size: int, rng: np.random.Generator, intensity: float | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """One face of class ``label``: image ``3×size×size`` (float in [0, 1]) and its expression region
    (``size×size`` bool: mouth, eyes and eyebrows, dilated by a few pixels)."""
    intensity = rng.uniform(0.35, 1.0) if intensity is None else intensity
    p = _parameters(label, intensity, rng)
    grid = np.arange(size) + 0.5
    gx, gy = np.meshgrid(grid, grid)
    yy, xx = gy / size, gx / size
    hue_shift = rng.uniform(-0.15, 0.15, size=(3, 1, 1))
    image = (rng.uniform(0.25, 0.65) + hue_shift + rng.uniform(-0.15, 0.15) * (xx - yy)[None]
             + rng.normal(0, 0.03, size=(3, size, size)))
    cx, cy = size * (0.5 + rng.uniform(-0.06, 0.06)), size * (0.5 + rng.uniform(-0.05, 0.05))
    rx, ry = size * rng.uniform(0.27, 0.33), size * rng.uniform(0.35, 0.41)
    tilt = rng.uniform(-0.1, 0.1)  # radians; applied to the part positions (the face outline stays upright)
    skin = SKIN[rng.integers(len(SKIN))] * rng.uniform(0.9, 1.05)
    _paint(image, _ellipse(gx, gy, cx, cy, rx, ry), np.clip(skin, 0, 1))
    dark = np.clip(skin * 0.25, 0, 1)

    def place(u: float, v: float) -> tuple[float, float]:  # face coordinates (u right, v down, in radii) to pixels
        return (cx + rx * (u * np.cos(tilt) - v * np.sin(tilt)), cy + ry * (u * np.sin(tilt) + v * np.cos(tilt)))

    region = np.zeros((size, size), dtype=bool)
    pad = size / 40
    eye_w, eye_h = 0.17 * rx, max(0.05, 0.1 * ry * p["eye_open"])
    for side in (-1, 1):
        ex, ey = place(0.4 * side, -0.2)
        _paint(image, _ellipse(gx, gy, ex, ey, eye_w, eye_h), np.array([0.97, 0.97, 0.97]))
        _paint(image, _ellipse(gx, gy, ex, ey, 0.45 * eye_w, min(0.45 * eye_w, eye_h)), dark)
        brow_v = -0.38 - 0.12 * p["brow_raise"]
        inner = place(0.14 * side, brow_v - 0.1 * p["brow_inner"])
        outer = place(0.62 * side, brow_v + 0.04)
        xs, ys = np.array([inner[0], outer[0]]), np.array([inner[1], outer[1]])
        _paint(image, _stroke(gx, gy, xs, ys, size / 28), dark)
        box_x0, box_x1 = min(xs.min(), ex - eye_w) - pad, max(xs.max(), ex + eye_w) + pad
        box_y0, box_y1 = min(ys.min(), ey - eye_h) - pad, max(ys.max(), ey + eye_h) + pad
        region |= (gx >= box_x0) & (gx <= box_x1) & (gy >= box_y0) & (gy <= box_y1)
    nx, ny = place(0, 0.12)
    _paint(image, _stroke(gx, gy, np.array([nx, nx - 0.06 * rx]), np.array([ny - 0.12 * ry, ny]), size / 48),
           skin * 0.7)
    if p["wrinkle"] > 0:  # disgust: a wrinkled nose bridge, part of the expression region
        for k in (-1, 0, 1):
            wx, wy = place(0.1 * k, -0.05)
            _paint(image, _stroke(gx, gy, np.array([wx - 0.08 * rx, wx + 0.08 * rx]), np.array([wy, wy]),
                                  size / 70), skin * (1 - 0.35 * p["wrinkle"]))
        wx, wy = place(0, -0.05)
        region |= (np.abs(gx - wx) <= 0.2 * rx + pad) & (np.abs(gy - wy) <= 0.06 * ry + pad)
    mx, my = place(0, 0.5)
    half = 0.32 * rx * p["mouth_width"]
    t = np.linspace(-1, 1, 9)
    lip = np.array([0.62, 0.2, 0.25])
    if p["mouth_open"] > 0:
        _paint(image, _ellipse(gx, gy, mx, my, half, p["mouth_open"] * 0.45 * ry), np.array([0.3, 0.05, 0.08]))
        top, bottom = my - p["mouth_open"] * 0.45 * ry, my + p["mouth_open"] * 0.45 * ry
    else:
        xs = mx + half * t
        ys = my - p["mouth_curve"] * 0.18 * ry * (t ** 2 - 0.5) - p["mouth_tilt"] * 0.15 * ry * np.clip(t, 0, 1) ** 2
        _paint(image, _stroke(gx, gy, xs, ys, size / 30), lip)
        top, bottom = ys.min(), ys.max()
    region |= ((gx >= mx - half - pad) & (gx <= mx + half + pad) & (gy >= top - 2 * pad) & (gy <= bottom + 2 * pad))
    return np.clip(image, 0, 1), region


def faces(size: int = 96, train_per_class: int = 100, test_per_class: int = 40, seed: int = 0) -> DataSet:
    """The procedural expression data set: ``train_per_class`` and ``test_per_class`` faces of each of
    the eight classes (balanced, shuffled), with the expression regions as ``masks``."""
    from cnnbook.data import DataError, DataSet, Split

    if size < 32:
        raise DataError(f"faces: size {size} is too small to draw the parts of a face (needs >= 32)")
    rng = np.random.default_rng(seed)
    splits = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        labels = rng.permutation(np.repeat(np.arange(len(EXPRESSIONS)), per_class))
        images = np.empty((len(labels), 3, size, size), dtype=np.uint8)
        masks = np.empty((len(labels), size, size), dtype=bool)
        for n, label in enumerate(labels):
            image, region = draw_face(int(label), size, rng)
            images[n] = np.rint(image * 255).astype(np.uint8)
            masks[n] = region
        splits[split] = Split(images, labels.astype(np.int64), masks)
    return DataSet("faces", f"procedural facial expressions ({size}×{size})", False,
                   f"generated by cnnbook.faces (seed {seed})", EXPRESSIONS, splits["train"], splits["test"],
                   notes=f"8 expressions, {train_per_class} + {test_per_class} per class, expression regions as masks")


def augment(split: Split, copies: int = 1, seed: int = 0) -> Split:
    """``split`` followed by ``copies`` augmented copies of every image (labels and masks carried along):
    horizontal flip with probability ½ (every class here is symmetric or, for contempt, drawn on
    either side, so a flip keeps the label), a shift of up to 1/16 of the side, and brightness and
    contrast changes of up to ±15 %. Geometric changes are applied to the masks too."""
    rng = np.random.default_rng(seed)
    images, masks = [split.images], [split.masks]
    size = split.images.shape[-1]
    for _ in range(copies):
        out = split.images.astype(np.float64)
        region = split.masks.copy() if split.masks is not None else None
        for n in range(len(out)):
            if rng.uniform() < 0.5:
                out[n] = out[n, :, :, ::-1]
                if region is not None:
                    region[n] = region[n, :, ::-1]
            dy, dx = rng.integers(-size // 16, size // 16 + 1, size=2)
            out[n] = np.roll(out[n], (dy, dx), axis=(1, 2))
            if region is not None:
                region[n] = np.roll(region[n], (dy, dx), axis=(0, 1))
            mean = out[n].mean()
            out[n] = (out[n] - mean) * rng.uniform(0.85, 1.15) + mean * rng.uniform(0.85, 1.15)
        images.append(np.clip(np.rint(out), 0, split.max_value).astype(split.images.dtype))
        masks.append(region)
    labels = np.concatenate([split.labels] * (copies + 1))
    return replace(split, images=np.concatenate(images), labels=labels,
                   masks=None if split.masks is None else np.concatenate(masks))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def image_folder(root: str | Path | None = None, size: int = 96, train: str = "Train", test: str = "Validation",
                 title: str = "AffectNet (image folder)") -> DataSet:
    """A labelled image folder as a data set: ``root/<train>/<class>/*.png`` (or .jpg, .jpeg, .bmp)
    and ``root/<test>/<class>/*``, one sub-folder per class, classes in sorted order; every image
    is converted to RGB and resized to ``size×size``. This is how AffectNet, which is not public,
    plugs in: put the sheet's Train and Validation folders under ``$CNNBOOK_DATA/affectnet`` (or pass
    ``root``) and call ``data.load("affectnet")``. There are no expression regions (``masks`` is None)."""
    from PIL import Image

    from cnnbook.data import DataSet, DataUnavailable, Split, data_dir

    folder = Path(root) if root is not None else data_dir() / "affectnet"
    if not (folder / train).is_dir() or not (folder / test).is_dir():
        raise DataUnavailable(f"no image folder at {folder}: expected {folder / train}/<class>/*.png and "
                              f"{folder / test}/<class>/*.png (one sub-folder per class). AffectNet is not public: "
                              "request it from its authors, then copy the sheet's Train and Validation folders "
                              "there, or use the procedural stand-in data.load('faces').")
    classes = tuple(sorted(p.name for p in (folder / train).iterdir() if p.is_dir()))
    splits = []
    for part in (train, test):
        images, labels = [], []
        for index, name in enumerate(classes):
            for path in sorted((folder / part / name).glob("*")):
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    with Image.open(path) as picture:
                        resized = picture.convert("RGB").resize((size, size), Image.BILINEAR)
                    images.append(np.asarray(resized, dtype=np.uint8).transpose(2, 0, 1))
                    labels.append(index)
        if not images:
            raise DataUnavailable(f"no images under {folder / part}: expected one sub-folder per class with image files")
        splits.append(Split(np.stack(images), np.array(labels, dtype=np.int64)))
    return DataSet("affectnet", title, True, f"image folder {folder}", classes, splits[0], splits[1],
                   notes=f"{part} folders resized to {size}×{size}")


# --- the S2.Q5 study: transfer learning, class activation maps scored against the regions ----------------


@dataclass(frozen=True)
class ExpressionSettings:
    """What the S2.Q5 study uses per profile."""

    backbone: str  # the pretrained network (``transfer.BACKBONES``)
    size: int
    train_per_class: int
    test_per_class: int
    copies: int  # augmented copies of every training image
    head_epochs: int
    top_epochs: int
    top_lr: float


def expression_settings(profile) -> ExpressionSettings:  # profile: cnnbook.profiles.Profile
    """``full``: torchvision's VGG16 with ImageNet weights and the sheet's 1,200 images per class;
    ``quick``: EfficientNet-Lite0 (offline) and 100 training images per class."""
    if profile.real_data:
        return ExpressionSettings("vgg16", 96, 1200, 300, 1, 30, 10, 1e-4)
    return ExpressionSettings("lite0", 96, 100, 40, 1, 30, 3, 1e-4)


def class_counts(*splits: Split, classes: int = len(EXPRESSIONS)) -> np.ndarray:
    """Images per class of each split, ``len(splits)×classes``."""
    return np.stack([np.bincount(s.labels, minlength=classes) for s in splits])


@dataclass
class Expression:
    """A trained expression classifier: the whole network, its training run, its validation
    predictions, trainable parameters and training seconds (feature computation included)."""

    net: object  # transfer.TransferNet
    run: object  # training.Run
    predictions: object  # training.Predictions
    trainable: int
    seconds: float


def train_head(name: str, train: Split, test: Split, epochs: int, seed: int = 0) -> Expression:
    """Transfer with a frozen pretrained backbone: its pooled features are computed once (cached) and
    only the linear classifier is trained, with the validation split evaluated after every epoch."""
    import torch
    from torch.utils.data import TensorDataset

    from cnnbook import training, transfer

    base = transfer.backbone(name, True)
    x_train, x_test = (torch.from_numpy(s.scaled()) for s in (train, test))
    fit_features = transfer.pooled_features(base.features, x_train, f"faces-{name}-train")
    test_features = transfer.pooled_features(base.features, x_test, f"faces-{name}-test")
    training.seed_everything(seed)
    net = transfer.TransferNet(base.features, base.channels, len(EXPRESSIONS))
    trainable = transfer.freeze(net, ("classifier",))
    held = TensorDataset(torch.from_numpy(test_features.values), torch.from_numpy(test.labels))
    with training.threads(1):
        run = training.fit(net.classifier, TensorDataset(torch.from_numpy(fit_features.values),
                                                         torch.from_numpy(train.labels)),
                           held, epochs=epochs, lr=1e-2, seed=seed, name=f"ch10-faces-head-{name}")
    net.classifier.load_state_dict(run.model.state_dict())
    return Expression(net.eval(), run, training.predict(run.model, held), trainable,
                      fit_features.seconds + run.seconds)


def train_top(name: str, head: Expression, train: Split, test: Split, epochs: int, lr: float, seed: int = 0) -> Expression:
    """The improvement: also fine-tune the backbone's last stage (from ``transfer.TOP_STAGE`` on) with
    the classifier, starting from the frozen model. Its batch normalisation layers stay frozen (in
    training mode they would normalise with the faces' batch statistics instead of the ImageNet
    statistics the classifier was trained on). The frozen stages' outputs are computed once
    (cached) and the top is trained on them."""
    import copy

    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    from cnnbook import training, transfer

    cut = transfer.TOP_STAGE[name]
    net = copy.deepcopy(head.net)
    bottom, top = net.features[:cut], net.features[cut:]
    x_train, x_test = (torch.from_numpy(s.scaled()) for s in (train, test))
    maps_train = transfer.feature_maps(bottom, x_train, f"faces-{name}-bottom-train")
    maps_test = transfer.feature_maps(bottom, x_test, f"faces-{name}-bottom-test")
    upper = transfer.TransferNet(top, net.classifier.in_features, len(EXPRESSIONS))
    upper.classifier.load_state_dict(net.classifier.state_dict())
    trainable = transfer.freeze(upper, (), batch_norm=False)  # keep the statistics the classifier was trained with
    held = TensorDataset(torch.from_numpy(maps_test.values), torch.from_numpy(test.labels))
    training.seed_everything(seed)
    run = training.fit(upper, TensorDataset(torch.from_numpy(maps_train.values), torch.from_numpy(train.labels)),
                       held, epochs=epochs, lr=lr, seed=seed, schedule="cosine", name=f"ch10-faces-top-{name}")
    whole = transfer.TransferNet(nn.Sequential(*bottom, *run.model.features), upper.classifier.in_features,
                                 len(EXPRESSIONS))
    whole.classifier.load_state_dict(run.model.classifier.state_dict())
    return Expression(whole.eval(), run, training.predict(run.model, held), trainable,
                      maps_train.seconds + run.seconds)


def chosen_examples(labels: np.ndarray, predicted: np.ndarray, per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``per_class`` right and ``per_class`` wrong validation images of every class (a
    class with fewer errors gives fewer), each group ordered by class."""
    from cnnbook import metrics

    return (metrics.examples(labels, predicted, True, per_class),
            metrics.examples(labels, predicted, False, per_class))


def cams(model: Expression, split: Split, index: np.ndarray):
    """CAM (the classifier's weights on the last feature maps) of the predicted class for the images
    at ``index``, and the share of each upsampled positive map inside the expression regions."""
    import torch

    from cnnbook import interpretation

    x = torch.from_numpy(split.subset(index).scaled())
    cam = interpretation.class_activation_map(model.net, model.net.features, model.net.classifier, x)
    maps = cam.upsampled(tuple(x.shape[-2:])).numpy()
    return cam, interpretation.mass_inside(maps, split.masks[index])


def region_scores(model: Expression, split: Split, batch: int = 64) -> dict[str, float]:
    """Over the whole validation split, in percent: accuracy, the regions' share of the image area
    (what an even map scores), and the mean share of CAM mass inside the regions for right and for
    wrong predictions."""
    correct = model.predictions.predicted == model.predictions.labels
    shares = np.concatenate([cams(model, split, np.arange(i, min(i + batch, len(split))))[1]
                             for i in range(0, len(split), batch)])
    return {"accuracy": 100 * float(correct.mean()), "area": 100 * float(split.masks.mean()),
            "mass_right": 100 * float(np.nanmean(shares[correct])),
            "mass_wrong": 100 * float(np.nanmean(shares[~correct])) if (~correct).any() else float("nan"),
            "mass_all": 100 * float(np.nanmean(shares))}


def cam_figure(split: Split, right: np.ndarray, wrong: np.ndarray, model: Expression,
               classes: Sequence[str] = EXPRESSIONS):
    """One row per class: its right examples, then its wrong ones, each with the CAM of the predicted
    class over the image, the expression regions outlined, and above it the predicted class and the
    share of the map's mass inside the regions."""
    from cnnbook.plots import HEAT_MAP, figure, show_image

    per_class = {c: ([i for i in right if split.labels[i] == c], [i for i in wrong if split.labels[i] == c])
                 for c in range(len(classes))}
    columns = max(len(r) for r, _ in per_class.values()) + max(len(w) for _, w in per_class.values())
    split_at = max(len(r) for r, _ in per_class.values())
    fig, axes = figure(len(classes), columns, panel=(1.25, 1.35))
    for c, (rights, wrongs) in per_class.items():
        axes[c, 0].set_ylabel(classes[c])
        cells = [(k, i) for k, i in enumerate(rights)] + [(split_at + k, i) for k, i in enumerate(wrongs)]
        for ax in axes[c]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        if not cells:
            continue
        index = np.array([i for _, i in cells])
        cam, shares = cams(model, split, index)
        heat = cam.upsampled(tuple(split.images.shape[-2:])).numpy()
        for (column, i), h, share, predicted in zip(cells, heat, shares, cam.classes.tolist()):
            ax = axes[c, column]
            show_image(ax, split.images[i])
            peak = float(h.max())
            h = h / peak if peak > 0 else h
            ax.imshow(h, cmap=HEAT_MAP, alpha=0.7 * h, vmin=0, vmax=1)
            ax.contour(split.masks[i], levels=[0.5], colors="white", linewidths=0.6)
            ax.set_title(f"{'✓' if predicted == c else '✗'} {classes[predicted]}\n{100 * share:.0f}% in", fontsize=7)
    for c in range(len(classes)):
        axes[c, 0].set_ylabel(classes[c])
    fig.suptitle("class activation maps: right (left columns) and wrong (right columns)", fontsize=9)
    return fig


def sample_figure(original: Split, augmented: Split, per_class: int = 3, classes: Sequence[str] = EXPRESSIONS):
    """``per_class`` training images of every class and, beside them, augmented copies of the same images."""
    from cnnbook.plots import figure, show_image

    n = len(original)
    fig, axes = figure(len(classes), 2 * per_class, panel=(1.05, 1.1))
    for c in range(len(classes)):
        index = np.flatnonzero(original.labels == c)[:per_class]
        for k, i in enumerate(index):
            for column, image in ((k, original.images[i]), (per_class + k, augmented.images[n + i])):
                ax = axes[c, column]
                show_image(ax, image)
                if c == 0:
                    ax.set_title("original" if column < per_class else "augmented", fontsize=8)
        axes[c, 0].set_ylabel(classes[c])
    return fig
