"""The procedural facial expressions, their augmentation and the image-folder loader."""

import numpy as np
import pytest
from PIL import Image

from cnnbook import data, faces


def test_faces_are_balanced_reproducible_and_have_expression_regions():
    a = data.load("faces", size=64, train_per_class=3, test_per_class=2, seed=5)
    b = faces.faces(64, 3, 2, seed=5)
    assert a.classes == faces.EXPRESSIONS and len(a.classes) == 8
    np.testing.assert_array_equal(a.train.images, b.train.images)
    assert np.bincount(a.train.labels).tolist() == [3] * 8 and np.bincount(a.test.labels).tolist() == [2] * 8
    assert a.train.images.shape == (24, 3, 64, 64) and a.train.images.dtype == np.uint8
    share = a.train.masks.mean(axis=(1, 2))
    assert (share > 0.02).all() and (share < 0.3).all()  # regions exist and are a small part of the image
    assert not np.array_equal(a.train.images, faces.faces(64, 3, 2, seed=6).train.images)
    with pytest.raises(data.DataError):
        faces.faces(16)


def test_only_the_expression_regions_depend_on_the_class():
    """The same random draws with another class: pixels change only inside the regions (dilated)."""
    changed = []
    for label in range(1, 8):
        base, region = faces.draw_face(0, 96, np.random.default_rng(3), intensity=1.0)
        other, other_region = faces.draw_face(label, 96, np.random.default_rng(3), intensity=1.0)
        differs = np.abs(base - other).max(axis=0) > 1e-6
        assert not (differs & ~(region | other_region)).any(), faces.EXPRESSIONS[label]
        changed.append(differs.sum())
    assert min(changed) > 20  # every expression changes a visible number of pixels


def test_augmentation_adds_labelled_copies_and_moves_masks_with_the_images():
    split = faces.faces(64, 2, 1, seed=0).train
    grown = faces.augment(split, copies=2, seed=1)
    assert len(grown) == 3 * len(split)
    np.testing.assert_array_equal(grown.images[:len(split)], split.images)
    np.testing.assert_array_equal(grown.labels, np.tile(split.labels, 3))
    assert grown.masks.sum() == pytest.approx(3 * split.masks.sum(), rel=0.05)  # shifts and flips keep the area
    assert not np.array_equal(grown.images[len(split):2 * len(split)], split.images)


def test_image_folder_reads_one_subfolder_per_class(tmp_path):
    rng = np.random.default_rng(0)
    for part, count in (("Train", 2), ("Validation", 1)):
        for name in ("happy", "anger"):
            folder = tmp_path / "affectnet" / part / name
            folder.mkdir(parents=True)
            for k in range(count):
                Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(folder / f"{k}.png")
            (folder / "notes.txt").write_text("not an image")
    dataset = data.load("affectnet", root=tmp_path / "affectnet", size=32)
    assert dataset.classes == ("anger", "happy")
    assert dataset.train.images.shape == (4, 3, 32, 32) and dataset.test.images.shape == (2, 3, 32, 32)
    assert dataset.train.labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(data.DataUnavailable, match="one sub-folder per class"):
        data.load("affectnet", root=tmp_path / "missing")


def test_the_quick_profile_stands_in_with_procedural_faces():
    stand_in = data.for_profile("affectnet", "quick", train_per_class=1, test_per_class=1, size=32)
    assert stand_in.stands_in_for == "AffectNet" and not stand_in.source().real
