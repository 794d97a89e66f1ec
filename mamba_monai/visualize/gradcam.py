"""Grad-CAM heat maps of a classifier (MONAI's ``GradCAM`` / ``GradCAMpp``) for Mamba and SE networks. Writing them
as PNG overlays on a batch of image files is :mod:`mamba_monai.visualize.gradcam_overlays`.

MONAI's class-activation-map classes read a layer's output as channel-first ``(B, C, *spatial)``. The blocks of our
Mamba networks work on channel-last maps ``(B, H, W, C)``, so the layer's output is routed through a probe (an
identity module) in channel-first layout, which MONAI hooks instead; the network itself is left as it was (no hook
stays registered, no in-place flag is changed, its train/eval modes are restored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from monai.networks.nets.swin_unetr import PatchMergingV2
from monai.visualize import GradCAM, GradCAMpp
from torch import nn

from mamba_monai.networks.nets.medmamba import MedMamba, MedMambaBlock
from mamba_monai.networks.nets.medmambase import MedMambaSEBlock
from mamba_monai.networks.nets.msmamba import MSMamba, MSMambaBlock
from mamba_monai.utils.wrapped_modules import unwrap_network

__all__ = [
    "GRADCAM_METHODS",
    "compute_gradcam",
    "default_target_layer",
    "is_channel_last_layer",
]

#: names accepted by ``method``
GRADCAM_METHODS: dict[str, type[GradCAM]] = {"gradcam": GradCAM, "gradcampp": GradCAMpp}

# modules whose output is channel-last (B, *spatial, C)
_CHANNEL_LAST_MODULES = (MedMambaBlock, MedMambaSEBlock, MSMambaBlock, PatchMergingV2)


def default_target_layer(network: nn.Module) -> str:
    """Name of the layer whose output Grad-CAM explains by default: the last feature map before the pooling head.

    - :class:`~mamba_monai.networks.nets.MedMamba`, :class:`~mamba_monai.networks.nets.MedMambaSE`,
      :class:`~mamba_monai.networks.nets.MSMamba`: the last block of the last stage
      (``"stages.3.1"`` with the default depths), a channel-last map;
    - MONAI's ``SENet`` family (``SEResNext50``, ``SEResNet50``, ``SENet154``, ...) and ``ResNet``: ``"layer4"``;
    - MONAI's ``DenseNet``: ``"class_layers.relu"``;
    - any other network: its last registered ``Conv1d/2d/3d`` module.

    Args:
        network: the classifier (``DataParallel`` wrappers are looked through).

    Raises:
        ValueError: no rule applies and the network has no convolution.
    """
    network = unwrap_network(network)
    if isinstance(network, (MedMamba, MSMamba)):
        last_stage = len(network.stages) - 1
        return f"stages.{last_stage}.{len(network.stages[last_stage]) - 1}"
    names = dict(network.named_modules())
    for candidate in ("layer4", "class_layers.relu"):
        if candidate in names:
            return candidate
    convolutions = [name for name, module in names.items() if isinstance(module, nn.modules.conv._ConvNd)]
    if convolutions:
        return convolutions[-1]
    raise ValueError(
        f"default_target_layer: no default target layer for {type(network).__name__} (no convolution found); "
        "pass target_layer, the name of a module in network.named_modules() whose output is a feature map"
    )


def is_channel_last_layer(network: nn.Module, target_layer: str) -> bool:
    """Whether the output of ``target_layer`` is channel-last ``(B, *spatial, C)``: the blocks of MedMamba,
    MedMambaSE and Microscopic-Mamba, their stages (``nn.Sequential`` of blocks) and MONAI's ``PatchMergingV2``.

    Args:
        network: the classifier.
        target_layer: a name in ``network.named_modules()``.
    """
    module = _find_layer(unwrap_network(network), target_layer)
    while isinstance(module, nn.Sequential) and len(module) > 0:
        module = module[-1]
    return isinstance(module, _CHANNEL_LAST_MODULES)


def _find_layer(network: nn.Module, target_layer: str) -> nn.Module:
    modules = dict(network.named_modules())
    if target_layer not in modules or not target_layer:
        close = [name for name in modules if name and name.split(".")[0] == target_layer.split(".")[0]][:8]
        raise ValueError(
            f"target_layer {target_layer!r} is not a module of {type(network).__name__}"
            + (f"; modules with the same prefix: {close}" if close else "")
            + "; see network.named_modules() or default_target_layer(network)"
        )
    return modules[target_layer]


class _ProbedNetwork(nn.Module):
    """Runs ``network``; the output of its ``target_layer`` passes through ``self.probe`` in channel-first layout
    (MONAI's CAM classes hook the probe, so the network gets no lasting hook)."""

    def __init__(self, network: nn.Module, target_layer: str, channel_last: bool) -> None:
        super().__init__()
        self.network = network
        self.probe = nn.Identity()
        self.channel_last = channel_last
        self._target = (_find_layer(network, target_layer),)  # a tuple: not registered as a submodule twice

    def _route(self, module: nn.Module, inputs: Any, output: Any) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.dim() < 3:
            raise ValueError(
                f"Grad-CAM target layer {type(module).__name__} must output a feature map (B, C, *spatial), got "
                f"{type(output).__name__}{tuple(output.shape) if isinstance(output, torch.Tensor) else ''}"
            )
        if self.channel_last:
            # the clone keeps later in-place operations off the tensor that the probe's backward hook wraps
            return self.probe(output.movedim(-1, 1)).movedim(1, -1).clone()
        return self.probe(output).clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        handle = self._target[0].register_forward_hook(self._route)
        try:
            logits = self.network(x)
        finally:
            handle.remove()
        self.last_logits = logits.detach()
        return logits


def compute_gradcam(
    network: nn.Module,
    images: torch.Tensor,
    target_layer: str | None = None,
    class_index: int | Sequence[int] | None = None,
    method: str = "gradcam",
    channel_last: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps of a batch, upsampled to the image size and scaled to [0, 1] per image, and the class
    probabilities (softmax of the logits).

    Images are explained one at a time (MONAI's class score mixes the classes of a batch when their targets
    differ). The network is run in eval mode; its train/eval modes and the ``.grad`` of its parameters are restored
    afterwards, so this can run in the middle of training.

    Args:
        network: a classifier returning logits ``(B, num_classes)``.
        images: ``(B, C, *spatial)`` network inputs, or one ``(C, *spatial)`` image.
        target_layer: name of the explained layer; ``None`` uses :func:`default_target_layer`.
        class_index: class(es) to explain: one for all images, or one per image; ``None`` explains each image's
            predicted class.
        method: ``"gradcam"`` or ``"gradcampp"`` (MONAI's ``GradCAM`` / ``GradCAMpp``).
        channel_last: whether the target layer outputs ``(B, *spatial, C)``; ``None`` decides with
            :func:`is_channel_last_layer`.

    Returns:
        maps ``(B, *spatial)`` in [0, 1] (zero where the map is flat) and probabilities ``(B, num_classes)``.
    """
    if method not in GRADCAM_METHODS:
        raise ValueError(f"compute_gradcam: method must be one of {sorted(GRADCAM_METHODS)}, got {method!r}")
    network = unwrap_network(network)
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"compute_gradcam: images must be a tensor (B, C, *spatial), got {type(images).__name__}")
    if images.dim() < 3:
        raise ValueError(
            f"compute_gradcam: images must be (B, C, *spatial) or (C, *spatial), got {tuple(images.shape)}"
        )
    if images.dim() == 3:
        images = images[None]
    target_layer = default_target_layer(network) if target_layer is None else target_layer
    if channel_last is None:
        channel_last = is_channel_last_layer(network, target_layer)
    classes: list[int | None]
    if class_index is None or isinstance(class_index, (int, np.integer)):
        classes = [class_index] * images.shape[0]
    else:
        classes = [int(c) for c in class_index]
        if len(classes) != images.shape[0]:
            raise ValueError(f"compute_gradcam: {len(classes)} class indices for {images.shape[0]} images")

    modes = {module: module.training for module in network.modules()}
    gradients = {parameter: parameter.grad for parameter in network.parameters()}
    probed = _ProbedNetwork(network, target_layer, channel_last).eval()
    cam = GRADCAM_METHODS[method](probed, target_layers="probe", postprocessing=lambda x: x)
    device = next((p.device for p in network.parameters()), torch.device("cpu"))
    maps, probabilities = [], []
    try:
        with torch.enable_grad():
            for image, target in zip(images, classes):
                # an input that requires grad lets the gradient reach the target layer even with frozen weights
                x = torch.as_tensor(image[None], dtype=torch.float32, device=device).detach().requires_grad_(True)
                num_classes = getattr(network, "num_classes", None)
                if target is not None and isinstance(num_classes, int) and not 0 <= target < num_classes:
                    raise ValueError(f"compute_gradcam: class_index {target} is out of range for {num_classes} classes")
                try:
                    heat = cam(x, class_idx=target)[0, 0].detach()
                except IndexError as error:
                    raise ValueError(f"compute_gradcam: class_index {target} is out of range: {error}") from None
                logits = probed.last_logits
                low, high = heat.min(), heat.max()
                maps.append(((heat - low) / (high - low)) if high > low else torch.zeros_like(heat))
                probabilities.append(torch.softmax(logits.detach().float(), dim=1)[0])
    finally:
        for module, mode in modes.items():
            module.training = mode
        for parameter, gradient in gradients.items():
            parameter.grad = gradient
    return torch.stack(maps).cpu(), torch.stack(probabilities).cpu()
