"""Focal loss and class weights against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cnnbook import losses


def test_focal_loss_matches_a_hand_computation():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    targets = torch.tensor([0, 1, 1])
    gamma, alpha = 2.0, (0.25, 0.75)
    expected = 0.0
    for (a, b), t in zip(logits.tolist(), targets.tolist()):
        p = [math.exp(a) / (math.exp(a) + math.exp(b)), math.exp(b) / (math.exp(a) + math.exp(b))]
        expected += -alpha[t] * (1 - p[t]) ** gamma * math.log(p[t])
    expected /= 3
    value = losses.FocalLoss(gamma, alpha)(logits, targets)
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_focal_loss_with_gamma_zero_is_cross_entropy():
    torch.manual_seed(0)
    logits, targets = torch.randn(16, 2), torch.randint(0, 2, (16,))
    ce = torch.nn.functional.cross_entropy(logits, targets)
    assert float(losses.FocalLoss(0.0)(logits, targets)) == pytest.approx(float(ce), rel=1e-6)


def test_focal_loss_down_weights_easy_examples():
    easy, hard = torch.tensor([[4.0, 0.0]]), torch.tensor([[0.2, 0.0]])
    target = torch.tensor([0])
    ce = torch.nn.functional.cross_entropy
    focal = losses.FocalLoss(2.0)
    assert float(focal(easy, target)) / float(ce(easy, target)) < float(focal(hard, target)) / float(ce(hard, target))


def test_class_weights_equalise_the_classes():
    labels = np.array([0] * 6 + [1] * 2)
    w = losses.class_weights(labels)
    assert w.tolist() == pytest.approx([8 / 12, 8 / 4])
    assert float(w[0] * 6) == pytest.approx(float(w[1] * 2))
    with pytest.raises(ValueError):
        losses.class_weights(np.zeros(4, dtype=int))
