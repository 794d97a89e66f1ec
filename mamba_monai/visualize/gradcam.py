"""Grad-CAM heat maps of a classifier (MONAI's ``GradCAM`` / ``GradCAMpp``) written as PNG overlays on the images.

MONAI's class-activation-map classes read a layer's output as channel-first ``(B, C, *spatial)``. The blocks of our
Mamba networks work on channel-last maps ``(B, H, W, C)``, so the layer's output is routed through a probe (an
identity module) in channel-first layout, which MONAI hooks instead; the network itself is left as it was (no hook
stays registered, no in-place flag is changed, its train/eval modes are restored).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from monai.networks.nets.swin_unetr import PatchMergingV2
from monai.transforms import Compose, MapTransform
from monai.visualize import GradCAM, GradCAMpp
from torch import nn

from mamba_monai.data.transforms.load_image_2d import LoadImage2D
from mamba_monai.utils.atomic_files import save_figure_atomically
from mamba_monai.networks.nets.medmamba import MedMamba, MedMambaBlock
from mamba_monai.networks.nets.medmamba_se import MedMambaSEBlock
from mamba_monai.networks.nets.msmamba import MSMamba, MSMambaBlock

__all__ = [
    "GRADCAM_METHODS",
    "compute_gradcam",
    "default_target_layer",
    "is_channel_last_layer",
    "write_gradcam_overlays",
]

#: names accepted by ``method``
GRADCAM_METHODS: dict[str, type[GradCAM]] = {"gradcam": GradCAM, "gradcampp": GradCAMpp}

# modules whose output is channel-last (B, *spatial, C)
_CHANNEL_LAST_MODULES = (MedMambaBlock, MedMambaSEBlock, MSMambaBlock, PatchMergingV2)
_IMAGE_EXTENSIONS = (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".npy", ".nrrd")


def _unwrap(network: nn.Module) -> nn.Module:
    """The model inside ``DataParallel`` / ``DistributedDataParallel``."""
    if isinstance(network, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        return network.module
    return network


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
    network = _unwrap(network)
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
    module = _find_layer(_unwrap(network), target_layer)
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
    network = _unwrap(network)
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


def _is_dict_transform(transform: Callable) -> bool:
    if isinstance(transform, MapTransform):
        return True
    return isinstance(transform, Compose) and bool(transform.transforms) and isinstance(
        transform.transforms[0], MapTransform
    )


def _prepare(item: Any, transform: Callable | None, image_key: str, in_channels: Any) -> torch.Tensor:
    """The network input ``(C, H, W)`` of one image: a path (transformed, or loaded) or a tensor (used as it is)."""
    if not isinstance(item, (str, os.PathLike)):
        data = item
    elif transform is not None:
        data = transform({image_key: item}) if _is_dict_transform(transform) else transform(item)
        if isinstance(data, Mapping):
            if image_key not in data:
                raise ValueError(f"write_gradcam_overlays: the transform's output has no '{image_key}' (set image_key)")
            data = data[image_key]
    else:
        data = LoadImage2D(channels=in_channels if in_channels in (1, 3) else None)(item)
    data = torch.as_tensor(data) if not isinstance(data, torch.Tensor) else data
    if data.dim() == 4 and data.shape[0] == 1:
        data = data[0]
    if data.dim() != 3:
        raise ValueError(
            f"write_gradcam_overlays: each image must become a 2D channel-first tensor (C, H, W) for the network, got "
            f"shape {tuple(data.shape)}{' from ' + os.fspath(item) if isinstance(item, (str, os.PathLike)) else ''}"
        )
    return data


def _stem(item: Any, image: torch.Tensor, index: int) -> str:
    if isinstance(item, (str, os.PathLike)):
        source = item
    else:
        source = (getattr(image, "meta", None) or {}).get("filename_or_obj")
    if isinstance(source, (list, tuple)):
        source = source[0] if source else None
    if not source:
        return f"image_{index:04d}"
    name = os.path.basename(os.fspath(source))
    lowered = name.lower()
    for extension in _IMAGE_EXTENSIONS:
        if lowered.endswith(extension):
            return name[: -len(extension)] or f"image_{index:04d}"
    return os.path.splitext(name)[0] or f"image_{index:04d}"


def _display(image: torch.Tensor, transpose: bool) -> np.ndarray:
    """(C, H, W) -> an RGB (3 channels) or grey image scaled to [0, 1] for imshow."""
    array = image.detach().cpu().float().numpy()
    array = array[:3] if array.shape[0] == 3 else array[:1]
    low, high = np.percentile(array, (1, 99))
    if high <= low:
        low, high = float(array.min()), float(array.max()) + 1e-6
    array = np.clip((array - low) / (high - low), 0, 1)
    array = np.moveaxis(array, 0, -1)  # (H, W, C)
    if transpose:
        array = array.transpose(1, 0, 2)
    return array if array.shape[-1] == 3 else array[..., 0]


def write_gradcam_overlays(
    network: nn.Module,
    images: Sequence[str | os.PathLike | torch.Tensor] | torch.Tensor,
    target_layer: str | None,
    output_dir: str | os.PathLike,
    class_names: Sequence[str],
    transform: Callable | None = None,
    *,
    image_key: str = "image",
    class_index: int | None = None,
    method: str = "gradcam",
    channel_last: bool | None = None,
    transpose: bool = False,
    alpha: float = 0.45,
    colormap: str = "jet",
    dpi: int = 100,
) -> list[Path]:
    """Write one PNG per image into ``output_dir``: the network input and the Grad-CAM heat map over it, titled with
    the predicted class and its probability; the file is ``<image file stem>_gradcam.png`` (``image_<index>`` for
    tensors without a file name; ``_<index>`` is appended to repeated names). Files are written atomically.

    Example (after training a bundle)::

        from mamba_monai.visualize import write_gradcam_overlays
        write_gradcam_overlays(net, ["case1.png", "case2.png"], None, "eval/gradcam", ["benign", "malignant"],
                               transform=preprocessing)  # the bundle's dict transforms, keys ["image"]

    Args:
        network: a classifier returning logits ``(B, len(class_names))``.
        images: file paths and/or network-ready tensors ``(C, H, W)``, or a batch tensor ``(B, C, H, W)``.
        target_layer: name of the explained layer; ``None`` uses :func:`default_target_layer`.
        output_dir: folder of the PNGs (created if needed).
        class_names: one name per network output.
        transform: turns each file path of ``images`` into the network input ``(C, H, W)`` (e.g. the bundle's
            preprocessing); tensors are used as they are. Dictionary transforms (a ``MapTransform``, or a
            ``Compose`` starting with one) get ``{image_key: path}`` and ``image_key`` of their result is used.
            ``None``: paths are read with :class:`~mamba_monai.data.transforms.load_image_2d.LoadImage2D` (rows
            first, values in [0, 1], as many channels as the network's ``in_channels`` when that is 1 or 3).
        image_key: key of the image for dictionary transforms.
        class_index: explain this class for every image; ``None`` explains each image's predicted class.
        method: ``"gradcam"`` or ``"gradcampp"``.
        channel_last: layout of the target layer's output; ``None`` decides with :func:`is_channel_last_layer`.
        transpose: show the first spatial axis horizontally. ``False`` (default) suits ``(C, H, W)`` images, rows
            first, as ``LoadImage2D`` and torchvision give them; MONAI's ``LoadImage`` reads 2D PNG/JPEG/TIFF files
            as ``(C, W, H)``: use ``True`` for those.
        alpha: opacity of the heat map.
        colormap: matplotlib colour map of the heat map.
        dpi: resolution of the PNGs.

    Returns:
        the paths of the PNGs, in the order of ``images``.
    """
    class_names = [str(name) for name in class_names]
    if isinstance(images, torch.Tensor):
        images = list(images) if images.dim() == 4 else [images]
    if not images:
        raise ValueError("write_gradcam_overlays: images is empty")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"write_gradcam_overlays: alpha must be in [0, 1], got {alpha}")
    target_layer = default_target_layer(network) if target_layer is None else target_layer
    output_dir = Path(output_dir)
    heat_colours = colormaps[colormap]
    paths: list[Path] = []
    used: set[str] = set()
    for index, item in enumerate(images):
        image = _prepare(item, transform, image_key, getattr(_unwrap(network), "in_channels", None))
        heat, probabilities = compute_gradcam(
            network, image, target_layer, class_index=class_index, method=method, channel_last=channel_last
        )
        heat, probabilities = heat[0].numpy(), probabilities[0].numpy()
        if probabilities.size != len(class_names):
            raise ValueError(
                f"write_gradcam_overlays: the network has {probabilities.size} outputs but there are "
                f"{len(class_names)} class names {class_names}"
            )
        predicted = int(probabilities.argmax())
        title = f"predicted: {class_names[predicted]} (p = {probabilities[predicted]:.3f})"
        if class_index is not None and class_index != predicted:
            title += f"; Grad-CAM of {class_names[class_index]} (p = {probabilities[class_index]:.3f})"

        stem = _stem(item, image, index)
        name = stem if stem not in used else f"{stem}_{index:04d}"
        used.add(name)
        shown = _display(image, transpose)
        heat = heat.T if transpose else heat
        figure = Figure(figsize=(8.4, 4.6), layout="constrained")
        axes = figure.subplots(1, 2)
        cmap = "gray" if shown.ndim == 2 else None
        axes[0].imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        axes[0].set_title("input")
        axes[1].imshow(shown, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        overlay = axes[1].imshow(heat, cmap=heat_colours, vmin=0, vmax=1, alpha=alpha, interpolation="bilinear")
        axes[1].set_title(f"{'Grad-CAM++' if method == 'gradcampp' else 'Grad-CAM'} ({target_layer})")
        figure.colorbar(overlay, ax=axes[1], fraction=0.046, pad=0.04)
        for ax in axes:  # a frame without ticks: white image borders stay visible on the white page
            ax.set_xticks([])
            ax.set_yticks([])
        figure.suptitle(f"{stem}: {title}")
        paths.append(save_figure_atomically(figure, output_dir / f"{name}_gradcam.png", dpi=dpi))
    return paths
