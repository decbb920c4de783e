"""Transfer learning and distillation: real freezing, the distillation loss against a hand
computation, the T² gradient scale, cached arrays, the offline backbone."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from cnnbook import models, training, transfer


def _tiny_net(classes: int = 3) -> transfer.TransferNet:
    torch.manual_seed(0)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                             nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
    return transfer.TransferNet(features, 6, classes)


def _tiny_data(n: int = 24, classes: int = 3) -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.rand(n, 3, 8, 8, generator=g), torch.randint(0, classes, (n,), generator=g))


def test_frozen_parameters_and_statistics_stay_unchanged_after_training(tmp_path):
    net = _tiny_net()
    trainable = transfer.freeze(net, ("classifier",))
    assert trainable == 6 * 3 + 3
    before = {k: v.clone() for k, v in net.state_dict().items()}
    training.fit(net, _tiny_data(), None, epochs=2, lr=0.1, batch_size=8, runs_dir=tmp_path, progress=False)
    after = net.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"classifier.weight", "classifier.bias"}  # batch-norm running statistics included


def test_only_the_intended_parameters_receive_gradients():
    net = _tiny_net()
    transfer.freeze(net, ("features.3", "classifier"))
    net.train()
    x, y = _tiny_data().tensors
    nn.functional.cross_entropy(net(x), y).backward()
    with_grad = {name for name, p in net.named_parameters() if p.grad is not None}
    assert with_grad == {"features.3.weight", "features.3.bias", "classifier.weight", "classifier.bias"}
    assert not net.features[1].training and not net.features[4].training  # frozen BN kept in eval mode
    assert transfer.freeze(net, ()) == sum(p.numel() for p in net.parameters())  # empty: all trainable


def test_without_freezing_everything_changes(tmp_path):
    net = _tiny_net()
    transfer.freeze(net, ())
    before = {k: v.clone() for k, v in net.state_dict().items()}
    training.fit(net, _tiny_data(), None, epochs=1, lr=0.1, batch_size=8, runs_dir=tmp_path, progress=False)
    assert all(not torch.equal(before[k], v) for k, v in net.state_dict().items() if "num_batches" not in k)


def test_distillation_loss_against_a_hand_computation():
    student = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    teacher = torch.tensor([[3.0, 1.0, 0.0], [-1.0, 2.0, 2.5]])
    labels = torch.tensor([0, 2])
    t, alpha = 4.0, 0.3

    def softmax(row):
        e = [math.exp(v) for v in row]
        return [v / sum(e) for v in e]

    hand_ce = sum(-math.log(softmax(s)[y]) for s, y in zip(student.tolist(), labels.tolist())) / 2
    hand_kl = 0.0
    for s, q in zip(student.tolist(), teacher.tolist()):
        ps, pt = softmax([v / t for v in s]), softmax([v / t for v in q])
        hand_kl += sum(b * math.log(b / a) for a, b in zip(ps, pt))
    hand = alpha * hand_ce + (1 - alpha) * t * t * hand_kl / 2
    loss = transfer.DistillationLoss(t, alpha)
    assert float(loss(student, labels, teacher)) == pytest.approx(hand, rel=1e-6)
    assert float(loss(student, labels)) == pytest.approx(hand_ce, rel=1e-6)  # no teacher: cross-entropy
    unscaled = transfer.DistillationLoss(t, alpha, scale_by_t2=False)
    assert float(unscaled(student, labels, teacher)) == pytest.approx(alpha * hand_ce + (1 - alpha) * hand_kl / 2, rel=1e-6)
    assert float(loss(teacher, labels, teacher)) == pytest.approx(alpha * float(nn.functional.cross_entropy(teacher, labels)))
    assert "temperature=4.0" in repr(loss)  # fit keys runs by the loss's repr
    with pytest.raises(ValueError):
        transfer.DistillationLoss(0.0)


def test_the_soft_gradient_falls_like_one_over_t_squared_and_t2_restores_it():
    frame = transfer.soft_gradient_scale((1, 4, 16, 64))
    assert (frame.closed_form_error < 1e-12).all()
    high = frame.set_index("temperature")
    assert high.soft_grad[64] / high.soft_grad[16] == pytest.approx(1 / 16, rel=0.02)  # 1/T² at high T
    assert high.soft_grad_t2[64] / high.soft_grad_t2[16] == pytest.approx(1, rel=0.02)


def test_arrays_are_computed_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNBOOK_CACHE", str(tmp_path))
    net = _tiny_net().features
    images = _tiny_data().tensors[0]
    first = transfer.pooled_features(net, images, "x")
    second = transfer.pooled_features(net, images, "x")
    assert not first.cached and second.cached and second.seconds == first.seconds
    np.testing.assert_allclose(second.values, first.values)
    assert first.values.shape == (len(images), 6)
    with torch.no_grad():
        net[0].weight.add_(1)  # other weights: another entry
    assert not transfer.pooled_features(net, images, "x").cached


def test_offline_lite0_backbone_reproduces_the_original_network():
    base = transfer.backbone("lite0", pretrained=True)
    original = models.efficientnet_lite0()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        mine = base.features.eval()(x)
        theirs = original.net.extract_features((x * 255 - models.EFFICIENTNET_LITE_MEAN) / models.EFFICIENTNET_LITE_STD)
    torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)
    assert base.channels == mine.shape[1] == 1280
    random = transfer.backbone("lite0", pretrained=False)
    assert not torch.equal(random.features[2].state_dict()["_depthwise_conv.weight"],
                           base.features[2].state_dict()["_depthwise_conv.weight"])
    assert isinstance(base.features[transfer.TOP_STAGE["lite0"]], type(base.features[2]))  # a block starts the top


@pytest.mark.parametrize("name, channels", [("mobilenet_v2", 1280), ("resnet50", 2048), ("vgg16", 512)])
def test_torchvision_backbones_without_weights(name, channels):
    base = transfer.backbone(name, pretrained=False)
    assert base.channels == channels
    with torch.no_grad():
        assert base.features.eval()(torch.rand(1, 3, 64, 64)).shape[1] == channels
        top = base.features[transfer.TOP_STAGE[name]:]
        bottom = base.features[:transfer.TOP_STAGE[name]]
        torch.testing.assert_close(top(bottom(torch.rand(1, 3, 64, 64) * 0 + 0.5)),
                                   base.features(torch.rand(1, 3, 64, 64) * 0 + 0.5))
    with pytest.raises(ValueError):
        transfer.backbone("alexnet")


def test_freezing_batch_norm_keeps_its_parameters_and_statistics(tmp_path):
    net = _tiny_net()
    trainable = transfer.freeze(net, (), batch_norm=False)
    assert trainable == sum(p.numel() for n, p in net.named_parameters() if n.split(".")[1] not in ("1", "4")
                            or n.startswith("classifier"))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    training.fit(net, _tiny_data(), None, epochs=1, lr=0.1, batch_size=8, runs_dir=tmp_path, progress=False)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith(("features.1.", "features.4.")))
    assert not torch.equal(before["features.0.weight"], after["features.0.weight"])


class _Constant(nn.Module):
    """Always predicts one class."""

    def __init__(self, label: int, classes: int = 3):
        super().__init__()
        self.label, self.classes = label, classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(torch.full((len(x),), self.label), self.classes).float()


def test_the_teacher_is_chosen_on_held_out_images_not_on_the_test_set():
    validation = TensorDataset(torch.zeros(10, 1), torch.tensor([2] * 7 + [0] * 3))
    candidates = [transfer.Outcome(f"c{k}", 32, accuracy, 1, 0.0, model=_Constant(k))
                  for k, accuracy in ((0, 0.99), (1, 0.5), (2, 0.1))]  # test accuracies disagree on purpose
    best, scores = transfer.choose_teacher(candidates, validation)
    assert best.key == "c2" and scores == pytest.approx({"c0": 0.3, "c1": 0.0, "c2": 0.7})
    study = transfer.Study(candidates, {32: best}, {}, None, {}, {32: scores})
    frame = transfer.teacher_frame(study).set_index("key")
    assert frame.teacher_32.tolist() == [False, False, True]
    assert frame.validation_32.tolist() == pytest.approx([30.0, 0.0, 70.0])


def test_quick_students_use_a_stride_one_stem_at_32_and_held_out_images_are_disjoint():
    from cnnbook.profiles import get_profile

    profile = get_profile("quick")
    s = transfer.settings(profile)
    assert s.student_stem[32] == 1 and s.validation[32] > 0
    _, train, _, validation = transfer.side_data(profile, 32)
    assert len(validation) == s.validation[32]
    seen = {tuple(x.flatten()[:64].tolist()) for x in train.tensors[0]}
    assert not any(tuple(x.flatten()[:64].tolist()) in seen for x in validation.tensors[0])
