"""The prostate-MRI stand-in's guarantees, the grouped split, the metrics and the threshold rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnbook import data, prostate


@pytest.fixture(scope="module")
def small():
    return prostate.cohort(patients=42, slices=4, size=64, ratio=7, seed=3)


def test_the_cohort_is_reproducible_and_imbalanced_as_stated(small):
    again = prostate.cohort(patients=42, slices=4, size=64, ratio=7, seed=3)
    assert np.array_equal(small.images, again.images) and small.table.equals(again.table)
    per_patient = small.patient_table()
    assert len(per_patient) == 42 and (per_patient.slices == 4).all()
    assert per_patient.csPCa.sum() == round(42 / 7)  # exactly one positive patient in seven
    assert small.labels.mean() == pytest.approx(1 / 7)


def test_masks_lie_inside_the_image_and_lesions_inside_the_gland(small):
    assert small.images.shape == (42 * 4, 1, 64, 64) and small.images.dtype == np.uint8
    assert small.glands.shape == small.lesions.shape == (42 * 4, 64, 64)
    assert (small.glands.sum(axis=(1, 2)) > 0).all()
    assert not (small.lesions & ~small.glands).any()
    # the gland never touches the border: the whole organ is in the image
    assert not small.glands[:, 0].any() and not small.glands[:, -1].any()
    assert not small.glands[:, :, 0].any() and not small.glands[:, :, -1].any()
    lesion_pixels = small.lesions.sum(axis=(1, 2))
    assert ((lesion_pixels > 0) == (small.labels == 1)).all()  # every positive slice shows its lesion, no other
    assert (small.table.lesion_pixels.to_numpy() == lesion_pixels).all()


def test_labels_are_per_patient(small):
    assert (small.table.groupby("patient").csPCa.nunique() == 1).all()


def test_a_lesion_darkens_the_gland_where_the_mask_says(small):
    positive = np.flatnonzero(small.labels == 1)
    inside = np.array([small.images[n, 0][small.lesions[n]].mean() for n in positive])
    ring = np.array([small.images[n, 0][small.glands[n] & ~small.lesions[n]].mean() for n in positive])
    assert (inside < ring).mean() > 0.9


def test_grouped_split_keeps_every_patient_on_one_side_and_stratifies(small):
    parts = prostate.grouped_split(small.patients, small.labels, (0.55, 0.15, 0.3), seed=0)
    assert sum(len(p) for p in parts) == len(small)
    assert len(np.unique(np.concatenate(parts))) == len(small)
    sets = [set(small.patients[p]) for p in parts]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    for part in parts:  # each part has positive patients
        assert small.labels[part].sum() > 0


def test_the_slice_split_leaks_patients(small):
    parts = prostate.slice_split(len(small), small.labels, (0.55, 0.15, 0.3), seed=0)
    assert set(small.patients[parts[0]]) & set(small.patients[parts[2]])


def test_the_registry_loader_returns_the_metadata_table_and_a_grouped_split():
    dataset = data.load("prostate_standin", patients=21, slices=3, size=48)
    assert list(dataset.table.columns[:3]) == ["patient", "slice", "csPCa"]
    assert len(dataset.table) == len(dataset.train) + len(dataset.test) == 63
    train = set(dataset.table.patient[dataset.table.split == "train"])
    test = set(dataset.table.patient[dataset.table.split == "test"])
    assert train and test and not train & test
    assert not dataset.source().real and "prostate" in dataset.source().stands_in_for
    assert dataset.train.masks.shape == (len(dataset.train), 48, 48)


def test_scores_on_a_known_confusion():
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.1, 0.2, 0.7, 0.4])
    s = prostate.scores(labels, p)
    assert (s["tn"], s["fp"], s["fn"], s["tp"]) == (5, 1, 1, 1)
    assert s["accuracy"] == pytest.approx(75) and s["sensitivity"] == pytest.approx(50)
    assert s["specificity"] == pytest.approx(500 / 6) and s["balanced_accuracy"] == pytest.approx((50 + 500 / 6) / 2)
    assert prostate.always_negative(labels)["accuracy"] == pytest.approx(75)
    assert prostate.always_negative(labels)["balanced_accuracy"] == pytest.approx(50)


def test_the_validation_threshold_separates_what_can_be_separated():
    labels = np.array([0, 0, 0, 1, 1])
    p = np.array([0.05, 0.1, 0.2, 0.3, 0.4])
    cut = prostate.validation_threshold(labels, p)
    assert 0.2 < cut <= 0.3
    assert prostate.scores(labels, p, cut)["balanced_accuracy"] == pytest.approx(100)


def test_oversampling_balances_the_classes():
    x = torch.arange(10, dtype=torch.float32)[:, None]
    y = torch.tensor([0] * 8 + [1] * 2)
    balanced = prostate.oversampled(torch.utils.data.TensorDataset(x, y))
    labels = balanced.tensors[1]
    assert int((labels == 1).sum()) == int((labels == 0).sum()) == 8
    assert set(balanced.tensors[0][labels == 1, 0].tolist()) == {8.0, 9.0}


def test_summary_gives_mean_and_spread_per_key():
    import pandas as pd

    runs = pd.DataFrame({"key": ["a", "a", "a", "b", "b", "b"], "seed": [0, 1, 2] * 2,
                         "accuracy": [1.0, 2.0, 3.0, 5.0, 5.0, 5.0]})
    out = prostate.summary(runs, ["accuracy"])
    assert out.key.tolist() == ["a", "b"] and out.accuracy.tolist() == [2.0, 5.0]
    assert out.accuracy_sd.tolist() == [1.0, 0.0] and out.accuracy_text[0] == "2.0 ± 1.0"


def test_runs_trained_in_worker_processes_are_the_runs_trained_here(tmp_path, monkeypatch):
    from cnnbook.profiles import get_profile

    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    sizes = prostate.Settings(patients=21, slices=2, side=32, epochs=1, seeds=(0, 1), batch_size=16)
    task = prostate.prepare(get_profile("quick"), sizes=sizes)
    jobs = [("plain", 0, "image", "patient"), ("focal", 1, "image", "patient")]
    prostate.train_in_parallel(task, jobs, processes=2)
    parallel = [prostate.train_arm(task, *job) for job in jobs]
    assert all(run.cached for run in parallel)  # the workers trained them
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path / "serial"))
    serial = [prostate.train_arm(task, *job) for job in jobs]
    assert not any(run.cached for run in serial)
    for a, b in zip(parallel, serial):
        for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
            assert torch.equal(x, y), name


def test_efficientnet_top_takes_the_frozen_features_and_trains_only_itself():
    from cnnbook import models

    x = torch.rand(2, 1, 64, 64)
    features = prostate.lite_features(x, 15, 64)
    top = prostate.LiteTop(models.efficientnet_lite0().net, 15)
    assert features.shape == (2, 192, 2, 2)  # Lite0 after 15 blocks: 192 channels, 1/32 of the side
    logits = top(features)
    assert logits.shape == (2, 2)
    logits.sum().backward()
    assert top.fc.weight.grad is not None and not features.requires_grad
    assert len(top.blocks) == prostate.LITE0_BLOCKS - 15
