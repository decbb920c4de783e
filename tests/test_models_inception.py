"""The Inception module and GoogLeNet against torchvision and Table 1 of the paper."""

from __future__ import annotations

import torch
import torchvision

from cnnbook import complexity, models


def test_googlenet_equals_torchvisions_variant_exactly():
    for aux in (False, True):
        ours = complexity.cost(lambda: models.googlenet(aux_logits=aux, batch_norm=True, branch5_kernel=3),
                               (3, 224, 224))
        theirs = complexity.cost(lambda: torchvision.models.googlenet(weights=None, aux_logits=aux,
                                                                      init_weights=False), (3, 224, 224))
        assert ours.params == theirs.params, aux
    assert ours.macs == theirs.macs  # in eval mode the auxiliary heads do not run


def test_paper_googlenet_shapes_and_modules():
    net = models.googlenet()
    widths = dict(e for e in models.GOOGLENET_MODULES if e != "M")
    assert [net.inception[f"inception{k}"].out_channels for k in ("3a", "3b", "4e", "5b")] == [256, 480, 832, 1024]
    assert sum(widths["3a"][i] for i in (0, 2, 4, 5)) == 256
    with torch.device("meta"):
        net = models.googlenet().eval()
        x = net.stem(torch.zeros(1, 3, 224, 224))
        assert tuple(x.shape[1:]) == (192, 28, 28)  # Table 1: input of 3a is 28×28×192
        assert tuple(net(torch.zeros(1, 3, 224, 224)).shape) == (1, 1000)
    train = models.googlenet(aux_logits=True).train()(torch.rand(2, 3, 224, 224))
    assert [o.shape for o in train] == [(2, 1000)] * 3


def test_reductions_cut_the_cost_of_a_module_and_layers_agree():
    naive = complexity.cost(lambda: models.InceptionModule(192, (64, 96, 128, 16, 32, 32), reduce=False),
                            (192, 28, 28))
    reduced = complexity.cost(lambda: models.InceptionModule(192, (64, 96, 128, 16, 32, 32)), (192, 28, 28))
    assert naive.output_shape == (64 + 128 + 32 + 192, 28, 28) and reduced.output_shape == (256, 28, 28)
    assert reduced.macs < naive.macs / 2
    # 1×1 branch + 3×3 branch + 5×5 branch, weights times positions, biases excluded
    expected = 28 * 28 * (192 * 64 + 192 * 96 + 96 * 9 * 128 + 192 * 16 + 16 * 25 * 32 + 192 * 32)
    assert reduced.macs == expected
    assert complexity.layer_check(models.googlenet, (3, 224, 224)).agree.all()


def test_small_inception_runs_on_32x32():
    net = models.small_inception(10).eval()
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert complexity.layer_check(lambda: models.small_inception(10), (3, 32, 32)).agree.all()
