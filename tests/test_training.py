"""fit: deterministic, cached by configuration, resumable after a kill, robust to corrupt checkpoints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from cnnbook import training

ROOT = Path(__file__).resolve().parents[1]


def blobs(n: int = 96, seed: int = 0) -> TensorDataset:
    """Two classes of 1×6×6 images: noise plus a bright left or right half."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.rand(n, 1, 6, 6, generator=generator) * 0.5
    images[labels == 0, :, :, :3] += 0.5
    images[labels == 1, :, :, 3:] += 0.5
    return TensorDataset(images, labels)


def small_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Dropout(0.2), nn.Flatten(), nn.Linear(144, 2))


def train(tmp: Path, **options) -> training.Run:
    settings = {"epochs": 3, "batch_size": 16, "device": "cpu", "runs_dir": tmp, **options}
    return training.fit(options.pop("model", None) or small_model(), blobs(), blobs(32, seed=1),
                        **{k: v for k, v in settings.items() if k != "model"})


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


METRICS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]


def test_history_has_one_row_per_epoch_and_the_model_learns(tmp_path):
    run = train(tmp_path, epochs=6, lr=1e-2)
    assert list(run.history.columns) == list(training.HISTORY_COLUMNS)
    assert run.history.epoch.tolist() == [1, 2, 3, 4, 5, 6]
    assert run.history.train_loss.iloc[-1] < run.history.train_loss.iloc[0]
    assert run.history.val_accuracy.iloc[-1] == 1.0
    assert not run.cached and run.resumed_from == 0 and not run.model.training
    assert run.seconds == pytest.approx(run.history.seconds.sum())


def test_same_seed_same_result_other_seed_other_result(tmp_path):
    first = train(tmp_path / "a", seed=5)
    second = train(tmp_path / "b", seed=5)
    third = train(tmp_path / "c", seed=6)
    assert same_weights(first.model, second.model)
    assert first.history[METRICS].equals(second.history[METRICS])
    assert not same_weights(first.model, third.model)


def test_a_finished_run_is_loaded_not_retrained(tmp_path):
    first = train(tmp_path)
    calls = []
    again = train(tmp_path, model=small_model(), on_epoch=lambda epoch, record: calls.append(epoch))
    assert again.cached and calls == [] and again.directory == first.directory
    assert same_weights(first.model, again.model) and again.history.equals(first.history)
    assert again.seconds == first.seconds  # the time it took when it was trained
    retrained = train(tmp_path, model=small_model(), cache=False)
    assert not retrained.cached and same_weights(first.model, retrained.model)


@pytest.mark.parametrize("change", [{"lr": 5e-3}, {"batch_size": 8}, {"epochs": 2}, {"seed": 1},
                                    {"optimizer": "sgd"}, {"schedule": "cosine"}, {"model": "other init"},
                                    {"loss": "weighted"}])
def test_any_change_of_configuration_changes_the_run(tmp_path, change):
    base = train(tmp_path)
    if change.get("model"):
        change = {"model": small_model(seed=1)}
    if change.get("loss"):
        change = {"loss": nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0]))}
    other = train(tmp_path, **change)
    assert other.key != base.key and not other.cached


def test_the_key_covers_the_data(tmp_path):
    base = training.fit(small_model(), blobs(), epochs=1, device="cpu", runs_dir=tmp_path)
    other = training.fit(small_model(), blobs(seed=9), epochs=1, device="cpu", runs_dir=tmp_path)
    assert base.key != other.key
    with pytest.raises(TypeError, match="fingerprint"):
        training.fit(small_model(), ListData(), epochs=1, device="cpu", runs_dir=tmp_path)


class ListData(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return torch.zeros(1, 6, 6), index % 2


class FingerprintedData(ListData):
    def fingerprint(self) -> str:
        return "four zero images"


def test_any_dataset_with_a_fingerprint_trains_like_a_tensor_dataset(tmp_path):
    run = training.fit(small_model(), FingerprintedData(), epochs=2, batch_size=2, device="cpu", runs_dir=tmp_path)
    assert len(run.history) == 2
    tensors = TensorDataset(torch.zeros(4, 1, 6, 6), torch.arange(4) % 2)
    same = training.fit(small_model(), tensors, epochs=2, batch_size=2, device="cpu", runs_dir=tmp_path / "t")
    assert same_weights(run.model, same.model)


def test_checkpoints_are_written_atomically(tmp_path):
    run = train(tmp_path)
    files = sorted(p.name for p in run.directory.iterdir())
    assert files == [training.CHECKPOINT]  # no temporary file left behind
    state = torch.load(run.directory / training.CHECKPOINT, weights_only=True)
    assert state["epoch"] == 3 and state["key"] == run.key


def test_a_corrupt_checkpoint_is_reported_and_training_restarts(tmp_path, capsys):
    clean = train(tmp_path / "clean")
    first = train(tmp_path / "run")
    checkpoint = first.directory / training.CHECKPOINT
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])  # truncated, as by a crash mid-write elsewhere
    again = train(tmp_path / "run", model=small_model())
    message = capsys.readouterr().out
    assert "is unusable" in message and "restarts from the first epoch" in message
    assert not again.cached and again.resumed_from == 0
    assert (first.directory / (training.CHECKPOINT + ".corrupt")).exists()
    assert same_weights(again.model, clean.model)


class Payload:
    """An arbitrary object: torch.load(weights_only=True) must refuse to unpickle it."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("content", ["pickled code", "wrong layout", "other key"])
def test_checkpoints_are_read_safely(tmp_path, capsys, content):
    first = train(tmp_path)
    checkpoint = first.directory / training.CHECKPOINT
    if content == "pickled code":
        torch.save({"format": training.FORMAT, "payload": Payload()}, checkpoint)
    elif content == "wrong layout":
        torch.save({"format": training.FORMAT, "epoch": 1}, checkpoint)
    else:
        state = torch.load(checkpoint, weights_only=True)
        torch.save({**state, "key": "0" * 16}, checkpoint)
    again = train(tmp_path, model=small_model())
    out = capsys.readouterr().out
    assert "is unusable" in out and "pwned" not in out
    assert not again.cached and same_weights(again.model, first.model)


def test_a_checkpoint_that_does_not_fit_the_model_is_set_aside(tmp_path, capsys):
    first = train(tmp_path)
    checkpoint = first.directory / training.CHECKPOINT
    state = torch.load(checkpoint, weights_only=True)
    state["model"] = {"0.weight": torch.zeros(1)}
    torch.save(state, checkpoint)
    again = train(tmp_path, model=small_model())
    assert "does not fit this model" in capsys.readouterr().out
    assert same_weights(again.model, first.model)


RESUME_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset
    from cnnbook import training

    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.rand(256, 1, 8, 8, generator=generator), torch.arange(256) % 3
    images[labels == 0, :, :4] += 1
    images[labels == 1, :, 4:] += 1
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.3), nn.Flatten(), nn.Linear(512, 3))

    def stall(epoch, record):
        if epoch == int(os.environ.get("STALL_AT", "0")):
            Path(os.environ["MARKER"]).write_text(str(epoch))
            time.sleep(600)  # the test kills the process here, after the checkpoint of this epoch

    run = training.fit(model, TensorDataset(images[:192], labels[:192]), TensorDataset(images[192:], labels[192:]),
                       epochs=6, batch_size=32, lr=3e-3, schedule="cosine", seed=7, device="cpu",
                       runs_dir=Path(sys.argv[1]), on_epoch=stall)
    torch.save({"model": run.model.state_dict(), "history": run.history[METRICS].values.tolist(),
                "resumed_from": run.resumed_from}, sys.argv[2])
""").replace("METRICS", repr(METRICS))


def test_a_killed_run_resumes_to_the_same_result(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "code"), "MARKER": str(tmp_path / "marker")}
    run = lambda runs, out, **extra: subprocess.run(  # noqa: E731
        [sys.executable, str(script), str(runs), str(out)], env={**env, **extra}, check=True, timeout=300)

    run(tmp_path / "uninterrupted", tmp_path / "uninterrupted.pt")

    victim = subprocess.Popen([sys.executable, str(script), str(tmp_path / "killed"), str(tmp_path / "never.pt")],
                              env={**env, "STALL_AT": "3"})
    deadline = time.monotonic() + 300
    while not (tmp_path / "marker").exists():
        assert victim.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "never.pt").exists()

    run(tmp_path / "killed", tmp_path / "resumed.pt")
    uninterrupted = torch.load(tmp_path / "uninterrupted.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    assert uninterrupted["resumed_from"] == 0 and resumed["resumed_from"] == 3
    assert resumed["history"] == uninterrupted["history"]
    for name, tensor in uninterrupted["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name


def test_progress_bar_stays_off_when_not_on_a_terminal(tmp_path, capsys):
    train(tmp_path)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    train(tmp_path / "shown", progress=True)
    assert "epoch" in capsys.readouterr().err


def test_bad_settings_are_refused(tmp_path):
    for options, message in (({"optimizer": "rmsprop"}, "optimizer must be one of"),
                             ({"schedule": "step"}, "schedule must be one of"),
                             ({"epochs": 0}, "epochs must be at least 1")):
        with pytest.raises(ValueError, match=message):
            train(tmp_path, **options)


def test_predict_returns_logits_and_labels_in_order(tmp_path):
    run = train(tmp_path, epochs=6, lr=1e-2)
    data = blobs(32, seed=3)
    predictions = training.predict(run.model, data, batch_size=5, device="cpu")
    with torch.no_grad():
        expected = run.model(data.tensors[0])
    assert np.allclose(predictions.logits, expected.numpy(), atol=1e-6)
    assert np.array_equal(predictions.labels, data.tensors[1].numpy())
    assert np.allclose(predictions.probabilities.sum(axis=1), 1)
    assert predictions.accuracy == float((predictions.predicted == predictions.labels).mean())


def test_keras_categorical_cross_entropy_equals_pytorch_cross_entropy_on_class_indices():
    generator = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(64, 10, generator=generator), torch.randint(0, 10, (64,), generator=generator)
    one_hot = F.one_hot(labels, 10).float()
    keras = training.categorical_cross_entropy(torch.softmax(logits, dim=1), one_hot)
    assert torch.allclose(keras, F.cross_entropy(logits, labels), atol=1e-6)
    assert torch.allclose(F.cross_entropy(logits, one_hot), F.cross_entropy(logits, labels), atol=1e-6)


def test_extra_targets_reach_the_loss(tmp_path):
    class Distillation(nn.Module):
        def forward(self, outputs, targets, teacher):
            return F.cross_entropy(outputs, targets) + F.mse_loss(outputs, teacher)

    data = blobs()
    teacher = torch.randn(len(data), 2)
    run = training.fit(small_model(), TensorDataset(*data.tensors, teacher), epochs=2, loss=Distillation(),
                       device="cpu", runs_dir=tmp_path)
    assert len(run.history) == 2 and np.isnan(run.history.val_loss).all()


def test_threads_sets_the_count_for_a_block_and_restores_it():
    before = torch.get_num_threads()
    with training.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"):
        with training.threads(1):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before
