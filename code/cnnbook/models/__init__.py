"""Models the book trains or explains, one module per architecture family (as torchvision's
``models/``), each written from its paper with the paper's table as data:

- ``small``: the coursework's small CNNs (``ConvNet``, S4.Q7's and S0.Q7's networks) and an
  up-convolutional inverter;
- ``mobilenet``: MobileNet V1 and V2 with width multiplier α (and inputs at resolution ρ·224);
- ``xception``: Xception's entry, middle and exit flows;
- ``inception``: the Inception module, GoogLeNet and a small Inception network for 32×32 images;
- ``vgg``: VGG16 and the light VGG of S2.Q5(3);
- ``efficientnet``: compound scaling and EfficientNet-Lite0 with ImageNet weights, offline;
- ``layers``: the blocks they share (conv-BN-activation, separable convolution).

Everything is re-exported here, so ``from cnnbook import models; models.mobilenet_v2()`` works.
"""

from cnnbook.models.efficientnet import (EFFICIENTNET_ALPHA, EFFICIENTNET_B0_PAPER_TOP1,
                                         EFFICIENTNET_LITE0_PUBLISHED_TOP1, EFFICIENTNET_BETA, EFFICIENTNET_COEFFICIENTS,
                                         EFFICIENTNET_GAMMA, EFFICIENTNET_LITE0_PAPER_PARAMS,
                                         EFFICIENTNET_LITE_COEFFICIENTS, EFFICIENTNET_LITE_MEAN,
                                         EFFICIENTNET_LITE_STD, ImageNetClassifier, compound_scaling,
                                         efficientnet_lite0, imagenet_classes, scaling_table)
from cnnbook.models.inception import (GOOGLENET_MODULES, SMALL_INCEPTION_MODULES, InceptionModule, InceptionNet,
                                      googlenet, small_inception)
from cnnbook.models.layers import SeparableConv2d, conv_bn
from cnnbook.models.mobilenet import (MOBILENET_V1_LAYERS, MOBILENET_V1_PAPER, MOBILENET_V1_PAPER_RESOLUTION,
                                      MOBILENET_V1_PAPER_WIDTH, MOBILENET_V2_PAPER, MOBILENET_V2_SETTINGS,
                                      DepthwiseSeparable, InvertedResidual, MobileNetV1, MobileNetV2,
                                      make_divisible, mobilenet_v1, mobilenet_v2, resolution)
from cnnbook.models.small import (S0_Q7_DESIGNS, S4_Q7_HIDDEN, S4_Q7_WIDTHS, ConvNet, UpConvInverter,
                                  count_parameters, s0_q7_model, s4_q7_cnn)
from cnnbook.models.vgg import (LIGHT_VGG_CLASSES, LIGHT_VGG_CONFIG, LIGHT_VGG_INPUT, VGG16_CONFIG, VGG16_INPUT,
                                VGG16_PAPER_PARAMS, light_vgg, vgg, vgg16)
from cnnbook.models.xception import XCEPTION_INPUT, XCEPTION_PAPER_PARAMS, Xception, XceptionModule, xception

__all__ = [name for name in dir() if not name.startswith("_")]
