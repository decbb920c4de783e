"""FGSM and PGD of cnnbook.adversarial: the ε-ball, the loss they raise, a closed form, ART as an oracle,
and the untrusted-checkpoint demonstration."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnnbook import adversarial  # noqa: E402

EPSILONS = (0.0, 1 / 255, 8 / 255, 0.1, 0.3)


def tiny_cnn(seed: int = 0, classes: int = 5) -> nn.Module:
    """A small CNN with batch norm and ReLU (zero gradients happen), fixed by ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(32, classes)).eval()


def batch(n: int = 24, classes: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [0, 1] with exact 0s and 1s (so the clamp to [0, 1] matters) and labels."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 8, 8, generator=generator)
    images[:, 0, :2] = 0.0
    images[:, 1, :2] = 1.0
    return images, torch.randint(0, classes, (n,), generator=generator)


def trained_logistic(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """Logistic regression trained on 400 synthetic 3×4×4 images of two classes (means 0.4 and 0.6)."""
    torch.manual_seed(seed)
    labels = torch.randint(0, 2, (400,))
    images = (0.4 + 0.2 * labels.float().view(-1, 1, 1, 1) + 0.1 * torch.randn(400, 3, 4, 4)).clamp(0, 1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(100):
        optimiser.zero_grad()
        F.cross_entropy(model(images), labels).backward()
        optimiser.step()
    optimiser.zero_grad(set_to_none=True)
    return model.eval(), images, labels


@pytest.mark.parametrize("epsilon", EPSILONS)
@pytest.mark.parametrize("method", ["fgsm", "pgd", "pgd-no-start"])
def test_perturbation_stays_in_ball_and_box(method: str, epsilon: float) -> None:
    model, (images, labels) = tiny_cnn(), batch()
    if method == "fgsm":
        adv = adversarial.fgsm(model, images, labels, epsilon)
    else:
        adv = adversarial.pgd(model, images, labels, epsilon, steps=5, random_start=method == "pgd")
    assert adv.shape == images.shape and adv.dtype == images.dtype
    assert float((adv - images).abs().max()) <= epsilon + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    if epsilon > 0:
        assert float((adv - images).abs().max()) > 0.5 * epsilon  # it moved: not a trivial pass


def test_epsilon_zero_is_the_input_and_the_clean_accuracy() -> None:
    model, (images, labels) = tiny_cnn(), batch()
    assert torch.equal(adversarial.fgsm(model, images, labels, 0.0), images)
    assert torch.equal(adversarial.pgd(model, images, labels, 0.0), images)
    clean = float((model(images).argmax(1) == labels).float().mean())
    for method in ("fgsm", "pgd"):
        frame = adversarial.robust_accuracy(model, images, labels, [0.0], attack=method, batch_size=7)
        assert list(frame.columns) == ["epsilon", "accuracy", "loss"]
        assert frame.loc[0, "accuracy"] == pytest.approx(clean)
        assert frame.loc[0, "loss"] == pytest.approx(float(F.cross_entropy(model(images), labels).detach()), rel=1e-5)


def test_attacks_raise_the_loss_and_lower_accuracy_of_a_trained_model() -> None:
    model, images, labels = trained_logistic()
    epsilons = [0.0, 0.02, 0.05, 0.1]
    for method in ("fgsm", "pgd"):
        frame = adversarial.robust_accuracy(model, images, labels, epsilons, attack=method, batch_size=64)
        assert frame["accuracy"].iloc[0] > 0.95  # the model learned the task
        assert frame["loss"].is_monotonic_increasing and frame["loss"].iloc[-1] > 2 * frame["loss"].iloc[0]
        assert frame["accuracy"].iloc[-1] < frame["accuracy"].iloc[0]
    # per image, not only on average: FGSM never lowers the loss of a linear model (the loss is convex in x)
    with torch.no_grad():
        clean = F.cross_entropy(model(images), labels, reduction="none")
        attacked = F.cross_entropy(model(adversarial.fgsm(model, images, labels, 0.05)), labels, reduction="none")
    assert bool((attacked >= clean - 1e-6).all()) and float((attacked - clean).mean()) > 0


def test_fgsm_on_a_linear_model_is_the_closed_form() -> None:
    """For two classes, ∇x CE = p(other)·(w_other − w_y), so FGSM is x + ε·sign(w_other − w_y)."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 2)).eval()
    images = 0.25 + 0.5 * torch.rand(10, 3, 4, 4)  # inside [ε, 1−ε]: the clamp does not act
    labels = torch.randint(0, 2, (10,))
    weight = model[1].weight.detach()
    direction = (weight[1 - labels] - weight[labels]).sign().view_as(images)
    for epsilon in (0.01, 0.2):
        expected = images + epsilon * direction
        assert torch.allclose(adversarial.fgsm(model, images, labels, epsilon), expected, atol=1e-7)


def test_pgd_is_reproducible_given_the_seed() -> None:
    model, (images, labels) = tiny_cnn(), batch()
    first = adversarial.pgd(model, images, labels, 0.05, steps=4, seed=7)
    assert torch.equal(first, adversarial.pgd(model, images, labels, 0.05, steps=4, seed=7))
    assert not torch.equal(first, adversarial.pgd(model, images, labels, 0.05, steps=4, seed=8))


def test_pgd_default_step_is_two_and_a_half_epsilon_over_steps() -> None:
    model, (images, labels) = tiny_cnn(), batch()
    default = adversarial.pgd(model, images, labels, 0.04, steps=4, random_start=False)
    assert torch.equal(default, adversarial.pgd(model, images, labels, 0.04, steps=4, step_size=0.025,
                                                random_start=False))
    assert not torch.equal(default, adversarial.pgd(model, images, labels, 0.04, steps=4, step_size=0.01,
                                                    random_start=False))


def test_attacks_leave_no_parameter_gradients_and_restore_the_mode() -> None:
    model, (images, labels) = tiny_cnn(), batch()
    model.train()  # batch norm in training mode: the attack must still use running statistics
    running = model[1].running_mean.clone()
    adv = adversarial.pgd(model, images, labels, 0.03, steps=3)
    assert model.training and torch.equal(model[1].running_mean, running)
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(adv, adversarial.pgd(model.eval(), images, labels, 0.03, steps=3))


def _art_classifier(model: nn.Module, classes: int = 5):
    art_classification = pytest.importorskip("art.estimators.classification")
    return art_classification.PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=(3, 8, 8),
                                                nb_classes=classes, clip_values=(0.0, 1.0), device_type="cpu")


@pytest.mark.parametrize("epsilon", [1 / 255, 8 / 255, 0.1])
def test_fgsm_matches_art(epsilon: float) -> None:
    """ART's FastGradientMethod (L∞) on the same model, images and ε gives the same images (within 1e-6)."""
    from art.attacks.evasion import FastGradientMethod

    model, (images, labels) = tiny_cnn(), batch()
    theirs = FastGradientMethod(_art_classifier(model), norm=np.inf, eps=epsilon).generate(
        images.numpy(), y=np.eye(5, dtype=np.float32)[labels.numpy()])
    ours = adversarial.fgsm(model, images, labels, epsilon).numpy()
    assert np.abs(ours - theirs).max() <= 1e-6


@pytest.mark.parametrize("epsilon", [1 / 255, 8 / 255, 0.1])
def test_pgd_matches_art(epsilon: float) -> None:
    """ART's ProjectedGradientDescentPyTorch without random start, same step size and steps: within 1e-6.

    ART projects differently in floating point (x₀ + clip(x − x₀, −ε, ε) after clipping to [0, 1]; ours
    clips x to [x₀ − ε, x₀ + ε] ∩ [0, 1]); the two are the same set operation, so the results agree up
    to rounding (about 1e-8 here). ART averages the loss over the batch and we sum it: the sign of the
    gradient is the same."""
    from art.attacks.evasion import ProjectedGradientDescentPyTorch

    model, (images, labels) = tiny_cnn(), batch()
    steps, size = 10, 2.5 * epsilon / 10
    theirs = ProjectedGradientDescentPyTorch(_art_classifier(model), norm=np.inf, eps=epsilon, eps_step=size,
                                             max_iter=steps, num_random_init=0, verbose=False).generate(
        images.numpy(), y=np.eye(5, dtype=np.float32)[labels.numpy()])
    ours = adversarial.pgd(model, images, labels, epsilon, steps=steps, step_size=size, random_start=False).numpy()
    assert np.abs(ours - theirs).max() <= 1e-6


def test_transfer_attack_uses_the_surrogate() -> None:
    model, (images, labels) = tiny_cnn(0), batch()
    other = tiny_cnn(1)
    own = adversarial.robust_accuracy(model, images, labels, [0.1], attack="fgsm")
    transferred = adversarial.robust_accuracy(model, images, labels, [0.1], attack="fgsm", surrogate=other)
    with torch.no_grad():
        expected = F.cross_entropy(model(adversarial.fgsm(other, images, labels, 0.1)), labels)
    assert transferred.loc[0, "loss"] == pytest.approx(float(expected), rel=1e-5)
    assert transferred.loc[0, "loss"] != pytest.approx(own.loc[0, "loss"])


def test_example_row_draws_clean_perturbation_and_adversarial() -> None:
    model, (images, labels) = tiny_cnn(), batch()
    names = [f"name{k}" for k in range(5)]
    fig = adversarial.example_row(model, images, labels, 0.1, attack="pgd", class_names=names, count=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 6
    assert titles[0].startswith("clean") and "0.5 + δ/2ε" in titles[1] and titles[2].startswith("PGD ε=0.1")
    assert all(any(name in title for name in names) for title in titles[0::3] + titles[2::3])
    plt.close(fig)


def test_untrusted_pickle_runs_code_only_without_weights_only(tmp_path) -> None:
    path = adversarial.untrusted_pickle(tmp_path / "checkpoint.pt")
    marker = adversarial.marker_of(path)
    assert path.exists() and not marker.exists()  # writing it ran nothing
    outcome = adversarial.load_outcome(path)
    safe, unsafe = outcome["weights_only=True"], outcome["weights_only=False"]
    assert safe["refused"] and safe["error"] == "UnpicklingError" and not safe["ran_code"]
    assert safe["message"] and "\n" not in safe["message"]
    assert not unsafe["refused"] and unsafe["ran_code"] and unsafe["loaded"] == ["epoch", "model", "note"]
    assert outcome["marker_text"] == adversarial.MARKER_TEXT
    assert not marker.exists()  # cleaned up after


def test_an_ordinary_checkpoint_loads_with_weights_only(tmp_path) -> None:
    """The control: a plain state dict is not refused, and runs nothing, under weights_only=True."""
    path = tmp_path / "plain.pt"
    torch.save({"model": tiny_cnn().state_dict(), "epoch": 1}, path)
    outcome = adversarial.load_outcome(path)
    assert not outcome["weights_only=True"]["refused"] and not outcome["weights_only=True"]["ran_code"]
    assert outcome["marker_text"] is None


def test_epsilon_label() -> None:
    assert adversarial.epsilon_label(8 / 255) == "8/255"
    assert adversarial.epsilon_label(0.1) == "0.1"
    assert adversarial.epsilon_label(0.5 / 255) == "0.5/255"
    assert adversarial.epsilon_label(1.5 / 255) == "0.00588"
