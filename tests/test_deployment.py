"""Deployment: ONNX export matches PyTorch (tolerance 1e-4 on logits) with a dynamic batch,
latency is measured as asked, sizes on disk follow the parameter count, and errors say what to do."""

import os

import numpy as np
import pytest
import torch
from torch import nn

from cnnbook import deployment, models

TOLERANCE = 1e-4  # absolute, on logits


def _small_cnn(width: int = 8, classes: int = 5) -> nn.Module:
    """Convolution, batch normalisation with non-trivial statistics, depthwise convolution, ReLU6."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU6(),
        nn.Conv2d(width, width, 3, stride=2, padding=1, groups=width, bias=False), nn.BatchNorm2d(width), nn.ReLU6(),
        nn.Conv2d(width, 2 * width, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU6(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, classes),
    )
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
    net = _small_cnn()
    path = deployment.export_onnx(net, tmp_path_factory.mktemp("onnx") / "small.onnx")
    return net, deployment.OnnxModel(path, threads=1)


def test_small_cnn_onnx_matches_pytorch_within_tolerance(small_export):
    net, session = small_export
    images = deployment.random_images(16, seed=3)
    agreement = deployment.parity(net, session, images, batch=7)
    assert agreement.max_abs_diff < TOLERANCE
    assert agreement.argmax_agreement == 1.0
    unoptimised = deployment.OnnxModel(session.path, threads=1, optimise=False)  # the latency control
    assert deployment.parity(net, unoptimised, images).max_abs_diff < TOLERANCE
    # the comparison can fail: other weights give other logits
    other = _small_cnn()
    other[-1].bias.data += 0.1
    assert deployment.parity(other, session, images).max_abs_diff > 10 * TOLERANCE


def test_dynamic_batch_runs_at_one_and_five(small_export):
    net, session = small_export
    for batch in (1, 5):
        images = deployment.random_images(batch, seed=batch)
        logits = session(images)
        assert logits.shape == (batch, 5)
        with torch.inference_mode():
            np.testing.assert_allclose(logits, net(images).numpy(), atol=TOLERANCE, rtol=0)
    assert session(deployment.random_images(2).numpy()).shape == (2, 5)  # numpy input too


def test_mobilenet_v2_student_onnx_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    net = models.mobilenet_v2(10, 0.35, stem_stride=1).eval()
    path = deployment.export_onnx(net, tmp_path / "student.onnx")
    agreement = deployment.parity(net, deployment.OnnxModel(path, threads=1), deployment.random_images(8, seed=2))
    assert agreement.max_abs_diff < TOLERANCE
    assert agreement.argmax_agreement == 1.0
    assert deployment.onnx_size(path) == pytest.approx(deployment.size_on_disk(net), rel=0.2)


def test_latency_reports_requested_repeats_and_ordered_quartiles(small_export):
    net, session = small_export
    calls = []
    measured = deployment.latency_ms(lambda: calls.append(1), repeats=7, warmup=3)
    assert len(calls) == 10 and measured.repeats == 7
    for result in (measured, deployment.torch_latency(net, 4, repeats=5, warmup=1), session.latency(4, repeats=5, warmup=1)):
        assert 0 < result.q1_ms <= result.median_ms <= result.q3_ms < 1e4
        assert result.repeats == 5 or result is measured
    assert session.latency(1, repeats=3, warmup=0).threads == 1
    assert deployment.torch_latency(net, 1, repeats=3).threads == torch.get_num_threads()


def test_size_on_disk_grows_with_parameters_about_four_bytes_each():
    sizes, counts = [], []
    for width in (16, 64):
        net = _small_cnn(width)
        sizes.append(deployment.size_on_disk(net))
        counts.append(sum(p.numel() for p in net.parameters()))
    assert sizes[1] > sizes[0]
    growth = (sizes[1] - sizes[0]) / (counts[1] - counts[0])
    assert 4.0 <= growth < 4.6  # float32 parameters plus the batch-norm statistics they bring


def test_unwritable_directory_and_non_module_raise_value_error(tmp_path):
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            with pytest.raises(ValueError, match="writable directory"):
                deployment.export_onnx(_small_cnn(), locked / "model.onnx")
        finally:
            locked.chmod(0o700)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="writable directory"):
        deployment.export_onnx(_small_cnn(), blocker / "model.onnx")
    with pytest.raises(ValueError, match="pass the model itself"):
        deployment.size_on_disk(_small_cnn().state_dict())


def test_runtime_frame_reuses_cached_export(tmp_path):
    nets = {"small": _small_cnn()}
    first = deployment.runtime_frame(nets, tmp_path, batches=(1, 3), repeats=2, warmup=0)
    assert list(tmp_path.glob("*.onnx")) and first.loc["small", "export_s"] > 0
    assert first.loc["small", "max_abs_diff"] < TOLERANCE
    assert {"torch_ms_b1", "onnx_ms_b3", "size_torch_mb", "size_onnx_mb", "threads"} <= set(first.columns)
    second = deployment.runtime_frame(nets, tmp_path, batches=(1,), repeats=2, warmup=0)
    assert second.loc["small", "export_s"] == 0.0 and len(list(tmp_path.glob("*.onnx"))) == 1


def _int8(net: nn.Module) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    images = deployment.random_images(8, seed=4)
    prepared = prepare_fx(net, get_default_qconfig_mapping("x86"), (images,))
    prepared(images)
    return convert_fx(prepared)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_int8_graph_module_is_sized_and_timed_in_pytorch_but_not_exported(tmp_path):
    float_net = _small_cnn(64)
    quantised = _int8(_small_cnn(64))
    assert deployment.size_on_disk(quantised) < 0.5 * deployment.size_on_disk(float_net)
    frame = deployment.runtime_frame({"int8": quantised}, tmp_path, batches=(2,), repeats=2, warmup=0,
                                     torch_only=("int8",))
    assert frame.loc["int8", "torch_ms_b2"] > 0 and np.isnan(frame.loc["int8", "onnx_ms_b2"])
    # the page says PyTorch's int8 models cannot go to ONNX this way; this checks it still holds
    with pytest.raises(RuntimeError, match="torch.onnx.export"):
        deployment.export_onnx(quantised, tmp_path / "int8.onnx")
