"""S0.Q7's experiment: its data on both profiles, the splits, the model table, and the measures of where
a model looks and what its answers depend on, checked on hand-made models and data."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook import capacity, data, models, training
from cnnbook.arithmetic import analyze
from cnnbook.profiles import get_profile


@pytest.fixture(scope="module")
def small() -> data.DataSet:
    """A small stand-in with the same patch as the chapter's (6 training, 4 test images per class)."""
    return data.shapes(32, train_per_class=6, test_per_class=4, cue=capacity.STAND_IN_CUE, seed=1)


@pytest.fixture
def runs_in(tmp_path, monkeypatch) -> Path:
    """Finished runs go to a temporary cache, not the repository's."""
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    return tmp_path


def test_quick_profile_uses_the_stand_in_with_the_patch_and_says_so():
    stand_in = capacity.load(get_profile("quick"))
    source = stand_in.source()
    assert source.real is False and source.stands_in_for == "CIFAR-100"
    assert stand_in.image_shape == (3, 32, 32) and len(stand_in.classes) == 10
    assert stand_in.sizes() == {"train": 3000, "test": 2000}
    agree_train = (stand_in.train.cues == stand_in.train.labels).mean()
    agree_test = (stand_in.test.cues == stand_in.test.labels).mean()
    assert 0.8 <= agree_train <= 0.8 + 0.2 * 0.15 and abs(agree_test - 0.1) < 0.03  # 80 % + chance; chance only
    assert capacity.stand_in(stand_in) is stand_in


def test_full_profile_reads_cifar_100_and_scores_on_the_stand_in(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())  # tiny fake files
    monkeypatch.setenv("CNNBOOK_DATA", str(tmp_path))
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 2), ("test", 2)):
        labels = np.repeat(np.arange(100), per_class)
        images = rng.integers(0, 256, (len(labels), 3 * 32 * 32), dtype=np.uint8)
        (folder / split).write_bytes(pickle.dumps({"data": images, "fine_labels": labels.tolist()}))
    (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"class{i}" for i in range(100)]}))
    real = capacity.load(get_profile("full"))
    assert real.title == "CIFAR-100" and real.source().real and len(real.classes) == 100
    assert real.train.masks is None
    train, validation, test = capacity.splits(real)
    assert len(validation) == len(test) == 100 and sorted(validation.labels) == list(range(100))
    assert capacity.stand_in(real).train.masks is not None


def test_validation_and_test_are_the_stratified_halves_of_the_test_split(small):
    train, validation, test = capacity.splits(small, seed=0)
    assert train is small.train
    assert len(validation) + len(test) == len(small.test)
    assert np.bincount(validation.labels).tolist() == np.bincount(test.labels).tolist() == [2] * 10
    both = np.concatenate([validation.images, test.images]).reshape(len(small.test), -1)
    assert len(np.unique(both, axis=0)) == len(small.test)  # no image in both halves


def test_designs_table_matches_the_models_and_their_receptive_fields():
    table = capacity.designs((3, 32, 32), 100).set_index("key")
    assert list(table.index) == ["A", "B", "C"]
    for name, row in table.iterrows():
        model = models.s0_q7_model(name, 3, 32, 100)
        assert row.params == models.count_parameters(model)
        assert row.head_share == pytest.approx(100 * models.count_parameters(model.classifier) / row.params)
    assert table.rf_side.tolist() == [8, 10, 18] and table.final_map.tolist() == ["16×16×16", "32×8×8", "64×8×8"]
    report = analyze(models.s0_q7_model("C", 3, 32, 100), (3, 32, 32))
    assert report.layer("relu11").receptive_field == (18, 18)  # C's last ReLU, the output of its last block


def test_examples_are_the_same_images_for_every_model():
    labels = np.array([0, 1, 2, 0, 1, 2, 3, 3])
    predicted = {"A": np.array([0, 1, 0, 0, 2, 2, 1, 3]), "B": np.array([0, 1, 2, 0, 0, 1, 1, 3]),
                 "C": np.array([0, 0, 2, 0, 1, 2, 1, 3])}
    right, wrong = capacity.examples(predicted, labels, count=2)
    assert right.tolist() == [0, 7]  # all three right: 0, 3 and 7; 3 repeats class 0
    assert wrong.tolist() == [4, 6]  # at most one of three right: 4 (only C) and 6 (none)
    right, _ = capacity.examples(predicted, labels, count=4)
    assert right.tolist() == [0, 7, 1, 2]  # then right for two of three (1, 2, 5: class 2 again), then fewer
    nobody = {name: (labels + 1) % 4 for name in predicted}
    assert capacity.examples(nobody, labels)[0].tolist() == []


def test_explained_variance_by_hand():
    groups = np.array([0, 0, 1, 1])
    values = np.array([[1.0, 3.0, 2.0], [1.0, 1.0, 2.0], [5.0, 3.0, 2.0], [5.0, 1.0, 2.0]])
    eta = capacity.explained(values, groups)
    assert eta[0] == pytest.approx(1.0)  # the groups explain everything
    assert eta[1] == pytest.approx(0.0)  # the same spread within each group
    assert np.isnan(eta[2])  # constant


def test_regions_are_disjoint_and_cover_every_pixel(small):
    regions = capacity.regions(small.test)
    total = sum(mask.astype(int) for mask in regions.values())
    assert (total == 1).all()
    assert regions["cue"][0].sum() == data.cue_region(32).sum() and not (regions["object"] & regions["cue"]).any()


class PatchReader(nn.Module):
    """Answers with the class whose colour is nearest to the patch's top-left pixel: a pure shortcut."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        colours = torch.from_numpy(data.CUE_COLOURS.astype(np.float32) / 255)
        return -((x[:, :, 0, 0][:, None, :] - colours[None]) ** 2).sum(dim=2)


class Constant(nn.Module):
    """Always answers class 3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.full((len(x),), 3), 10).float()


def test_patch_test_and_reliance_on_hand_made_models(small):
    reader = capacity.patch_test(PatchReader(), small.test)
    assert reader == {"follows": 100.0, "changed": 100.0, "chance": 10.0}
    blind = capacity.patch_test(Constant(), small.test)
    assert blind == {"follows": pytest.approx(10.0), "changed": 0.0, "chance": 10.0}
    reliance = capacity.patch_reliance(PatchReader(), small.train, small.test)
    assert reliance["memorised"] == 0.0  # the patch names a wrong class on those images
    expected = 100 * ((small.test.cues != small.test.labels)).mean()
    assert reliance["follows"] == pytest.approx(expected)


class CornerReader(nn.Module):
    """Answers with the class whose colour is nearest to the top-right pixel: it reads that corner only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        colours = torch.from_numpy(data.CUE_COLOURS.astype(np.float32) / 255)
        return -((x[:, :, 0, -1][:, None, :] - colours[None]) ** 2).sum(dim=2)


def test_the_control_region_has_the_patch_s_size_in_another_corner_away_from_the_object(small):
    control = capacity.control_region(small.test)
    patch = data.cue_region(32)
    assert control.shape == small.test.masks.shape
    assert (control.sum(axis=(1, 2)) == patch.sum()).all() and not (control & patch).any()
    corners = {"top right": patch[:, ::-1], "bottom left": patch[::-1, :], "bottom right": patch[::-1, ::-1]}
    for region, mask in zip(control, small.test.masks):
        assert any((region == corner).all() for corner in corners.values())
        assert (region & mask).sum() == min((corner & mask).sum() for corner in corners.values())
    # an object in the top-right corner sends the control elsewhere
    split = data.Split(small.test.images[:1], small.test.labels[:1], np.zeros((1, 32, 32), dtype=bool))
    split.masks[0, :8, -8:] = True
    assert (capacity.control_region(split)[0] == corners["bottom left"]).all()


def test_patch_test_on_the_control_region_separates_a_patch_reader_from_a_fragile_model(small):
    control = capacity.control_region(small.test)
    reader = capacity.patch_test(PatchReader(), small.test, control)
    assert reader["changed"] == 0.0 and reader["follows"] == pytest.approx(10.0)  # blind to the control
    corner = capacity.patch_test(CornerReader(), small.test, control)
    top_right = control[:, 0, -1].mean()  # the share of images whose control is the top-right corner
    assert 0 < top_right and corner["changed"] == pytest.approx(100 * top_right)
    assert corner["follows"] == pytest.approx(100 * top_right + 10 * (1 - top_right))
    assert capacity.patch_test(CornerReader(), small.test)["changed"] == 0.0  # the patch alone leaves it alone
    one_mask = capacity.patch_test(PatchReader(), small.test, data.cue_region(32))
    assert one_mask == capacity.patch_test(PatchReader(), small.test)


def test_attention_and_projection_shares_split_all_mass_over_the_regions(small):
    torch.manual_seed(0)
    model = models.s0_q7_model("C", 3, 32, 10).eval()
    where = capacity.attention(model, small.test)
    assert where["mass_object"] + where["mass_cue"] + where["mass_background"] == pytest.approx(100)
    assert where["area_object"] + where["area_cue"] + where["area_background"] == pytest.approx(100)
    assert where["area_cue"] == pytest.approx(100 * data.cue_region(32).mean())
    shares = capacity.projection_shares(model.features, model.features[-1], small.test)
    assert sum(shares.values()) == pytest.approx(100)


def test_selectivity_per_block(small):
    torch.manual_seed(0)
    model = models.s0_q7_model("A", 3, 32, 10).eval()
    table = capacity.selectivity(model, small.test)
    assert table.block.tolist() == ["block1", "block2"] and table.output.tolist() == ["8×16×16", "16×16×16"]
    assert ((table.class_eta >= 0) & (table.class_eta <= 100)).all() and table.patch_eta.notna().all()
    no_patch = data.Split(small.test.images, small.test.labels)
    assert capacity.selectivity(model, no_patch).patch_eta.isna().all()


def test_training_summary_and_inversion_end_to_end(small, runs_in):
    train, validation, test = capacity.splits(small)
    runs = capacity.train(train, validation, 10, epochs=1)
    assert list(runs) == ["A", "B", "C"] and all(run.directory.parent == runs_in / "runs" for run in runs.values())
    again = capacity.train(train, validation, 10, epochs=1)
    assert all(run.cached for run in again.values())
    table = capacity.summary(runs, train, validation, test).set_index("key")
    assert table.gap.tolist() == pytest.approx((table.train_accuracy - table.val_accuracy).tolist())
    expected = 100 * training.predict(runs["B"].model, test.tensors()).accuracy
    assert table.test_accuracy["B"] == pytest.approx(expected)
    before = capacity.untrained("C", train, 10)
    assert not torch.equal(before.features.block1[0].weight, runs["C"].model.features.block1[0].weight)
    inverters = capacity.invert({"C": runs["C"]}, train, validation, epochs=1)
    errors = capacity.reconstruction_errors(inverters["C"].model, test)
    assert set(errors) == {"all", "object", "cue", "background"} and all(v > 0 for v in errors.values())
    assert torch.equal(inverters["C"].model.features.block1[0].weight, runs["C"].model.features.block1[0].weight)


def test_the_stand_in_reuses_the_experiments_splits_and_runs(small):
    splits, runs = capacity.splits(small), {"A": object()}
    scored, scored_splits, scored_runs = capacity.on_stand_in(small, splits, runs)
    assert scored is small and scored_splits is splits and scored_runs is runs


def test_answers_name_the_classes_of_the_shown_images(small):
    shown = np.array([0, 3])
    predicted = {"A": small.test.labels.copy(), "B": small.test.cues.copy()}
    table = capacity.answers(predicted, small.test, shown, small.classes)
    assert list(table.columns) == ["image_name", "true_class", "answer_A", "answer_B", "answer_patch"]
    assert table.image_name.tolist() == [1, 2]
    assert table.answer_A.tolist() == table.true_class.tolist() == [small.classes[y] for y in small.test.labels[shown]]
    assert table.answer_B.tolist() == table.answer_patch.tolist()


def test_facts_of_the_patch_and_the_objects(small):
    train, _, test = capacity.splits(small)
    cue = capacity.cue_facts(small, train, test)
    assert cue["side"] ** 2 == data.cue_region(32).sum() and cue["classes"] == len(small.classes)
    assert cue["agree_train"] == 100 * (train.cues == train.labels).mean()
    objects = capacity.object_facts(test)
    assert np.isclose(np.pi * (objects["diameter"] / 2) ** 2, objects["pixels"])
    assert objects["pixels"] == test.masks.sum() / len(test.masks)


def test_strongest_units_come_with_their_images_and_projections(small):
    from types import SimpleNamespace

    runs = {name: SimpleNamespace(model=capacity.untrained(name, small.test, len(small.classes)))
            for name in ("A", "C")}
    for depth, block in (("shallow", "block1"), ("deep", None)):
        groups = capacity.strongest(runs, small.test, depth, k=3)
        last = {name: list(capacity.blocks(run.model))[-1] for name, run in runs.items()}
        assert list(groups) == [f"{name} {block or last[name]}" for name in runs]
        for images, projection in groups.values():
            assert len(images) == 3 and projection.images.shape[0] == 3
            assert projection.images.shape[1:] == images.shape[1:]
