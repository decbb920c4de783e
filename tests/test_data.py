"""The data registry: offline data sets, stand-ins named as such, and the torchvision loaders read
from tiny files written in each data set's real on-disk format."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest

from cnnbook import data
from cnnbook.profiles import get_profile

CNNBOOK = str(Path(sys.executable).with_name("cnnbook"))


# --- offline data sets ---------------------------------------------------------------------------------

def test_digits_keep_their_range_and_classes_and_split_per_class():
    raw = data.digits()
    assert raw.image_shape == (1, 8, 8) and raw.train.max_value == 16
    assert raw.train.images.max() == 16 and raw.classes == tuple("0123456789")
    assert sum(raw.sizes().values()) == 1797
    train_counts = np.bincount(raw.train.labels, minlength=10)
    test_counts = np.bincount(raw.test.labels, minlength=10)
    assert np.allclose(test_counts / (train_counts + test_counts), 0.2, atol=0.02)


def test_digits_in_mnist_layout_sit_in_a_centred_box_scaled_to_255():
    digits = data.digits(size=28)
    images = digits.train.images
    assert images.dtype == np.uint8 and digits.image_shape == (1, 28, 28) and digits.train.max_value == 255
    assert images.max() == 255
    assert not images[:, :, :4].any() and not images[:, :, -4:].any()  # a 20×20 box in a 28×28 frame
    assert not images[:, :, :, :4].any() and not images[:, :, :, -4:].any()
    raw = data.digits()  # same split, same digits
    assert np.array_equal(raw.train.labels, digits.train.labels)
    with pytest.raises(data.DataError, match="too small"):
        data.digits(size=8)


def test_shapes_are_reproducible_with_masks_on_the_object():
    first, second = data.shapes(32, 5, 2, seed=3), data.shapes(32, 5, 2, seed=3)
    assert np.array_equal(first.train.images, second.train.images)
    assert not np.array_equal(first.train.images, data.shapes(32, 5, 2, seed=4).train.images)
    assert first.sizes() == {"train": 50, "test": 20} and first.image_shape == (3, 32, 32)
    assert np.bincount(first.train.labels).tolist() == [5] * 10
    masks = first.train.masks
    assert masks.shape == (50, 32, 32) and masks.any(axis=(1, 2)).all()
    assert (masks.mean(axis=(1, 2)) < 0.5).all()
    # the object is drawn where its mask is: its pixels differ from the background around it
    image = first.train.images[0].astype(float)
    inside = image[:, masks[0]].mean(axis=1)
    outside = image[:, ~masks[0]].mean(axis=1)
    assert np.abs(inside - outside).max() > 30
    assert first.train.cues is None and not first.real and first.source().real is False


def test_shapes_at_96_pixels():
    shapes = data.shapes(96, 2, 1)
    assert shapes.image_shape == (3, 96, 96) and shapes.train.masks.shape == (20, 96, 96)


def test_the_spurious_cue_agrees_with_the_label_as_often_as_asked_and_is_never_in_the_mask():
    shapes = data.shapes(32, 40, 40, cue=data.Cue(train=1.0, test=0.0))
    assert np.array_equal(shapes.train.cues, shapes.train.labels)
    assert abs((shapes.test.cues == shapes.test.labels).mean() - 0.1) < 0.06  # independent: chance level
    region = data.cue_region(32)
    for split in (shapes.train, shapes.test):
        assert not (split.masks & region).any()
        patch = split.images[:, :, region]  # N×3×patch pixels
        assert np.array_equal(patch, np.repeat(data.CUE_COLOURS[split.cues][:, :, None], region.sum(), axis=2))
    half = data.shapes(32, 100, 1, cue=data.Cue(0.5, 1.0))
    assert 0.45 < (half.train.cues == half.train.labels).mean() < 0.65
    with pytest.raises(data.DataError, match=r"\[0, 1\]"):
        data.Cue(1.5, 0.0)


def test_photos_are_cropped_without_distortion():
    photos = data.photos(64)
    assert photos.train.images.shape == (len(data.PHOTOS), 3, 64, 64) and photos.train.names == data.PHOTOS
    assert data.photo("chelsea", 224, 112).shape == (3, 224, 112)
    with pytest.raises(data.DataError, match="available: chelsea"):
        data.photo("dog")


def test_grey_photos_have_one_channel_and_a_subset_is_named():
    camera = data.load("photos", size=32, names=("camera",))
    assert camera.train.images.shape == (1, 1, 32, 32) and camera.train.names == ("camera",)
    assert "camera" in camera.source().name and camera.source().real
    assert data.photos(32).title == "scikit-image photos (32×32)"
    with pytest.raises(data.DataError, match="grey and colour"):
        data.photos(32, ("camera", "chelsea"))


def test_split_helpers():
    split = data.digits().train
    shuffled = split.shuffled(1)
    assert sorted(shuffled.labels.tolist()) == sorted(split.labels.tolist())
    assert not np.array_equal(shuffled.labels, split.labels)
    rest, held = split.split(0.1, seed=0)
    assert len(rest) + len(held) == len(split)
    assert set(np.bincount(held.labels, minlength=10)) <= set(range(12, 17))
    images, labels = split.tensors().tensors
    assert images.dtype.is_floating_point and float(images.max()) == 1.0 and float(images.min()) == 0.0
    assert labels.dtype.is_floating_point is False


def test_registry_names_every_data_set_and_refuses_unknown_ones():
    assert set(data.REGISTRY) >= {"digits", "shapes32", "shapes96", "photos", "mnist", "cifar10", "cifar100", "stl10"}
    with pytest.raises(data.DataError, match="registered: digits"):
        data.load("imagenet")
    assert data.load("shapes32", train_per_class=1, test_per_class=1).image_shape == (3, 32, 32)


@pytest.mark.parametrize(("name", "stand_in", "shape"), [
    ("cifar10", "shapes32", (3, 32, 32)), ("stl10", "shapes96", (3, 96, 96))])
def test_quick_profile_gives_a_stand_in_that_says_so(name, stand_in, shape):
    dataset = data.for_profile(name, "quick", train_per_class=1, test_per_class=1)
    assert dataset.name == stand_in and dataset.image_shape == shape
    source = dataset.source()
    assert source.real is False and source.stands_in_for == data.TITLES[name]


def test_quick_mnist_is_the_real_5000_image_subset_and_says_so():
    mnist = data.for_profile("mnist", "quick")
    assert mnist.name == "mnist_subset" and mnist.image_shape == (1, 28, 28) and mnist.train.max_value == 255
    assert len(mnist.train) + len(mnist.test) == 5000 and mnist.test.images.dtype == np.uint8
    assert np.bincount(mnist.test.labels).tolist() == [100] * 10  # 500 per digit, a fifth held out per class
    assert 0 < mnist.train.images.mean() < 60 and mnist.train.images.max() == 255  # dark background, white ink
    source = mnist.source()
    assert source.real and source.stands_in_for == "" and "5,000" in source.name


def test_full_profile_reads_the_real_data_set(tmp_path):
    write_mnist(tmp_path, *fake_images(10, 1, 28, seed=0), *fake_images(4, 1, 28, seed=1))
    dataset = data.for_profile("mnist", get_profile("full"), root=tmp_path, download=False)
    assert dataset.title == "MNIST" and dataset.source().real and dataset.source().stands_in_for == ""


# --- torchvision loaders on tiny files in the real formats -------------------------------------------------

def fake_images(n: int, channels: int, size: int, seed: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, channels, size, size), dtype=np.uint8),
            rng.integers(0, classes, n).astype(np.int64))


def write_idx(path: Path, array: np.ndarray) -> None:
    """LeCun's IDX format: magic (0, 0, type 0x08 = ubyte, number of dimensions), big-endian sizes, data."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(root: Path, train_x, train_y, test_x, test_y) -> None:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, x, y in (("train", train_x, train_y), ("t10k", test_x, test_y)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x[:, 0])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)


def test_mnist_loader_reads_idx_files(tmp_path):
    train, test = fake_images(12, 1, 28, seed=0), fake_images(5, 1, 28, seed=1)
    write_mnist(tmp_path, *train, *test)
    mnist = data.mnist(root=tmp_path, download=False)
    assert np.array_equal(mnist.train.images, train[0]) and np.array_equal(mnist.train.labels, train[1])
    assert np.array_equal(mnist.test.images, test[0]) and np.array_equal(mnist.test.labels, test[1])
    assert mnist.classes == tuple("0123456789") and mnist.sizes() == {"train": 12, "test": 5}


@pytest.fixture
def no_checksums(monkeypatch):
    """torchvision checks the MD5 sums of the real CIFAR and STL-10 files, which tiny files cannot match;
    only that check is relaxed to "the file exists"."""
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.stl10 as stl10

    def exists(path, md5=None):
        return Path(path).is_file()

    monkeypatch.setattr(cifar, "check_integrity", exists)
    monkeypatch.setattr(stl10, "check_integrity", exists)


def write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray, label_key: str) -> None:
    """A CIFAR python batch: a pickled dict, images as rows of 3072 bytes (R plane, G plane, B plane)."""
    entry = {"data": images.reshape(len(images), -1), label_key: labels.tolist(), "batch_label": "fake"}
    path.write_bytes(pickle.dumps(entry))


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_loaders_read_pickled_batches(tmp_path, no_checksums, name):
    classes = 10 if name == "cifar10" else 100
    train, test = fake_images(15, 3, 32, seed=2, classes=classes), fake_images(4, 3, 32, seed=3, classes=classes)
    if name == "cifar10":
        folder, key = tmp_path / "cifar-10-batches-py", "labels"
        folder.mkdir()
        for b in range(5):  # five training batches of 3 images
            write_cifar_batch(folder / f"data_batch_{b + 1}", train[0][3 * b:3 * b + 3], train[1][3 * b:3 * b + 3], key)
        write_cifar_batch(folder / "test_batch", *test, key)
        (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    else:
        folder, key = tmp_path / "cifar-100-python", "fine_labels"
        folder.mkdir()
        write_cifar_batch(folder / "train", *train, key)
        write_cifar_batch(folder / "test", *test, key)
        (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"class{i}" for i in range(100)]}))
    dataset = data.load(name, root=tmp_path, download=False)
    assert np.array_equal(dataset.train.images, train[0]) and np.array_equal(dataset.train.labels, train[1])
    assert np.array_equal(dataset.test.images, test[0]) and np.array_equal(dataset.test.labels, test[1])
    assert len(dataset.classes) == classes and dataset.classes[1] == "class1"


def test_stl10_loader_reads_column_major_binaries(tmp_path, no_checksums):
    train, test = fake_images(6, 3, 96, seed=4), fake_images(3, 3, 96, seed=5)
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    for split, (x, y) in (("train", train), ("test", test)):
        (folder / f"{split}_X.bin").write_bytes(x.transpose(0, 1, 3, 2).tobytes())  # stored column by column
        (folder / f"{split}_y.bin").write_bytes((y + 1).astype(np.uint8).tobytes())  # labels are 1-based
    (folder / "unlabeled_X.bin").write_bytes(b"")
    (folder / "class_names.txt").write_text("\n".join(f"class{i}" for i in range(10)))
    dataset = data.stl10(root=tmp_path, download=False)
    assert np.array_equal(dataset.train.images, train[0]) and np.array_equal(dataset.train.labels, train[1])
    assert np.array_equal(dataset.test.images, test[0]) and np.array_equal(dataset.test.labels, test[1])
    assert dataset.classes[9] == "class9"


# --- offline without data: one clear message ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["mnist", "cifar10", "cifar100", "stl10"])
def test_missing_data_with_downloads_disabled_says_how_to_get_it(tmp_path, name):
    with pytest.raises(data.DataUnavailable) as caught:
        data.load(name, root=tmp_path, download=False)
    message = str(caught.value)
    assert str(tmp_path) in message and f"cnnbook data {name}" in message and "quick profile" in message
    assert caught.value._render_traceback_() == [f"DataUnavailable: {message}"]


def test_download_failure_offline_becomes_the_same_message(tmp_path, monkeypatch):
    import torchvision.datasets.mnist as mnist

    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(mnist, "download_and_extract_archive", offline)
    with pytest.raises(data.DataUnavailable, match="download failed: RuntimeError"):
        data.mnist(root=tmp_path)  # torchvision tries every mirror, then gives up with a RuntimeError


def test_downloads_can_be_forbidden_by_the_environment(monkeypatch):
    monkeypatch.setenv(data.DOWNLOAD_ENV, "0")
    assert data.download_allowed(None) is False and data.download_allowed(True) is True
    monkeypatch.delenv(data.DOWNLOAD_ENV)
    assert data.download_allowed(None) is True


def test_a_notebook_shows_the_message_without_a_traceback(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.run_cell(f"from cnnbook import data\ndata.mnist(root={str(tmp_path)!r}, download=False)")
    output = captured.stdout + captured.stderr
    assert "DataUnavailable: MNIST is not in" in output
    assert "Traceback" not in output and "File " not in output


def test_the_data_command_prints_one_line_and_fails_cleanly(tmp_path):
    result = subprocess.run([CNNBOOK, "data", "cifar10", "--root", str(tmp_path), "--no-download"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnbook: error: CIFAR-10 is not in")
    unknown = subprocess.run([CNNBOOK, "data", "imagenet", "--no-download"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "full profile's data sets are: mnist, cifar10, cifar100, stl10" in unknown.stderr


def test_the_data_command_reports_a_data_set_that_is_present(tmp_path):
    write_mnist(tmp_path, *fake_images(3, 1, 28, seed=0), *fake_images(2, 1, 28, seed=1))
    result = subprocess.run([CNNBOOK, "data", "mnist", "--root", str(tmp_path), "--no-download"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "mnist: ready (train 3, test 2; images 1×28×28)"
