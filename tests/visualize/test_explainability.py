"""Grad-CAM overlays (tiny MedMambaSE and a tiny CNN) and SE channel-weight plots."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.networks.nets import SENet
from PIL import Image
from torch import nn

from mamba_monai.data.transforms.load_image_2d import LoadImage2Dd
from mamba_monai.networks.nets import MedMamba, MedMambaSE, MSMamba
from mamba_monai.visualize import (
    compute_gradcam,
    default_target_layer,
    is_channel_last_layer,
    plot_se_weights,
    se_channel_weights,
    se_weights_figure,
    write_gradcam_overlays,
)

CLASS_NAMES = ["benign", "malignant", "normal"]


def tiny_medmamba_se() -> MedMambaSE:
    torch.manual_seed(0)
    return MedMambaSE(in_channels=1, num_classes=3, depths=(1, 1), dims=16, d_state=4, drop_path_rate=0.0)


class TinyCNN(nn.Module):
    """Two convs; an in-place ReLU right after the target conv (the hook path must survive it)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(inplace=True)
        )
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


def hook_count(network: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in network.modules())


def manual_gradcam(network, image, layer, channel_last, class_index):
    """Grad-CAM written out with autograd: ReLU(sum_c mean(dy/dA_c) A_c), upsampled, scaled to [0, 1]."""
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["a"] = output

    handle = dict(network.named_modules())[layer].register_forward_hook(keep)
    network.eval()
    network(image[None])[0, class_index].backward()
    handle.remove()
    activation, gradient = captured["a"], captured["a"].grad
    if channel_last:
        activation, gradient = activation.movedim(-1, 1), gradient.movedim(-1, 1)
    heat = F.relu((gradient.mean(dim=(2, 3), keepdim=True) * activation).sum(dim=1, keepdim=True))
    heat = F.interpolate(heat, size=image.shape[1:], mode="bilinear", align_corners=False)[0, 0].detach()
    return (heat - heat.min()) / (heat.max() - heat.min())


def tiny_se_resnext() -> SENet:
    """MONAI's SE-ResNeXt with one block per stage, 2D, one input channel, three classes."""
    return SENet(
        2,
        1,
        "se_resnetxt_bottleneck",
        (1, 1, 1, 1),
        groups=32,
        reduction=16,
        inplanes=64,
        downsample_kernel_size=1,
        input_3x3=False,
        num_classes=3,
    )


def test_default_target_layers():
    assert default_target_layer(tiny_medmamba_se()) == "stages.1.0"
    medmamba = MedMamba(in_channels=1, num_classes=2, depths=(1, 2), dims=16, d_state=4)
    assert default_target_layer(medmamba) == "stages.1.1"
    microscopic = MSMamba(in_channels=1, num_classes=2, depths=(1, 1, 2), dims=(32, 64, 128), d_state=4)
    assert default_target_layer(microscopic) == "stages.2.1"
    assert default_target_layer(nn.DataParallel(microscopic)) == "stages.2.1"
    senet = tiny_se_resnext()
    assert default_target_layer(senet) == "layer4"
    assert default_target_layer(TinyCNN()) == "features.2"  # last convolution
    with pytest.raises(ValueError, match="pass target_layer"):
        default_target_layer(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))

    assert is_channel_last_layer(medmamba, "stages.1.1") and is_channel_last_layer(medmamba, "stages.1")
    assert is_channel_last_layer(microscopic, "downsamples.0")
    assert not is_channel_last_layer(tiny_medmamba_se(), "stages.1.0.final_conv")
    assert not is_channel_last_layer(senet, "layer4")
    with pytest.raises(ValueError, match="not a module"):
        is_channel_last_layer(medmamba, "stages.9")


def test_gradcam_of_channel_last_block_matches_autograd(backend):
    backend("reference")
    network = tiny_medmamba_se()
    image = torch.rand(1, 64, 64)
    explained = 0
    for class_index in range(3):
        maps, probabilities = compute_gradcam(network, image, class_index=class_index)
        expected = manual_gradcam(network, image, "stages.1.0", channel_last=True, class_index=class_index)
        if torch.isnan(expected).any():  # ReLU left nothing: a flat map, returned as zeros
            assert not maps.any()
            continue
        explained += 1
        torch.testing.assert_close(maps[0], expected, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(maps[0], expected.T, atol=1e-3)  # a transposed layout would differ
        assert probabilities.shape == (1, 3) and probabilities.sum().item() == pytest.approx(1.0)
        break
    assert explained == 1


def test_gradcam_overlays_for_medmamba_se(tmp_path, backend):
    backend("reference")
    network = tiny_medmamba_se().train()
    png = tmp_path / "scan_01.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(png)
    tensor = torch.rand(1, 64, 64)

    paths = write_gradcam_overlays(
        network, [str(png), tensor], None, tmp_path / "cam", CLASS_NAMES, LoadImage2Dd("image", channels=1)
    )
    assert [p.name for p in paths] == ["scan_01_gradcam.png", "image_0001_gradcam.png"]
    # without a transform, paths are read rows first with the network's channels; repeated names get an index
    again = write_gradcam_overlays(network, [png, png], "stages.1.0.final_conv", tmp_path / "cam2", CLASS_NAMES)
    assert [p.name for p in again] == ["scan_01_gradcam.png", "scan_01_0001_gradcam.png"]
    for path in paths:
        with Image.open(path) as overlay:
            assert overlay.format == "PNG" and overlay.size[0] > 400
    assert network.training and all(m.training for m in network.modules())  # modes restored
    assert hook_count(network) == 0


def test_gradcam_keeps_parameter_gradients():
    network = TinyCNN()
    network(torch.rand(2, 1, 32, 32)).sum().backward()
    before = {name: p.grad.clone() for name, p in network.named_parameters()}
    compute_gradcam(network, torch.rand(2, 1, 32, 32))
    for name, parameter in network.named_parameters():
        torch.testing.assert_close(parameter.grad, before[name])


def test_gradcam_overlays_for_tiny_cnn(tmp_path):
    network = TinyCNN().eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)  # frozen weights: the gradient must still reach the layer
    images = torch.rand(3, 1, 32, 32)
    with torch.no_grad():
        predicted = network(images).argmax(dim=1)

    paths = write_gradcam_overlays(network, images, "features.2", tmp_path, CLASS_NAMES, method="gradcampp")
    assert len(paths) == 3 and all(path.exists() for path in paths)
    maps, probabilities = compute_gradcam(network, images, "features.2")
    assert maps.shape == (3, 32, 32) and float(maps.min()) >= 0 and float(maps.max()) <= 1
    assert torch.equal(probabilities.argmax(dim=1), predicted)
    assert hook_count(network) == 0
    assert network.features[3].inplace  # the network's own in-place flag is left alone
    assert not network.training


def test_gradcam_errors(tmp_path):
    network = TinyCNN()
    with pytest.raises(ValueError, match="not a module"):
        write_gradcam_overlays(network, [torch.rand(1, 32, 32)], "features.9", tmp_path, CLASS_NAMES)
    with pytest.raises(ValueError, match="3 outputs but there are 2 class names"):
        write_gradcam_overlays(network, [torch.rand(1, 32, 32)], None, tmp_path, ["a", "b"])
    with pytest.raises(ValueError, match="method"):
        compute_gradcam(network, torch.rand(1, 32, 32), method="cam")
    with pytest.raises(ValueError, match="out of range"):
        compute_gradcam(network, torch.rand(1, 32, 32), class_index=5)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        write_gradcam_overlays(network, [torch.rand(32, 32)], None, tmp_path, CLASS_NAMES)


def test_se_weights_one_panel_per_layer(tmp_path, backend):
    backend("reference")
    network = tiny_medmamba_se()
    images = torch.rand(2, 1, 64, 64)
    weights = se_channel_weights(network, images)
    assert list(weights) == ["stages.0.0.se", "stages.1.0.se"]
    assert [w.shape for w in weights.values()] == [(2, 16), (2, 32)]
    assert all(((w > 0) & (w < 1)).all() for w in weights.values())
    for name, value in network.se_weights().items():  # the same values as the network keeps
        np.testing.assert_allclose(weights[name], value.numpy())

    figure = se_weights_figure(weights, sort=True)
    assert len(figure.axes) == len(network.se_layers()) == 2
    heights = [patch.get_height() for patch in figure.axes[1].patches]
    assert len(heights) == 32 and heights == sorted(heights, reverse=True)
    np.testing.assert_allclose(sorted(heights, reverse=True), np.sort(weights["stages.1.0.se"].mean(axis=0))[::-1])

    path = plot_se_weights(network, images[0], tmp_path / "se" / "weights.png")
    with Image.open(path) as png:
        assert png.format == "PNG"


def test_se_weights_of_monai_channel_se_layers():
    senet = tiny_se_resnext().train()
    weights = se_channel_weights(senet, torch.rand(1, 32, 32))
    assert [w.shape for w in weights.values()] == [(1, 256), (1, 512), (1, 1024), (1, 2048)]
    assert senet.training and hook_count(senet) == 0
    assert len(se_weights_figure(weights).axes) == 4


def test_se_weights_errors():
    with pytest.raises(ValueError, match="no squeeze-and-excitation"):
        se_channel_weights(TinyCNN(), torch.rand(1, 32, 32))
    with pytest.raises(ValueError, match="image_tensor"):
        se_channel_weights(tiny_medmamba_se(), torch.rand(64, 64))
