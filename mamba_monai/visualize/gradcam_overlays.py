"""Grad-CAM for a batch of image files: each image prepared as the network's input, its heat map
(:func:`~mamba_monai.visualize.gradcam.compute_gradcam`) drawn over it, one PNG per image."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from monai.transforms import Compose, MapTransform
from torch import nn

from mamba_monai.data.transforms.load_image_2d import LoadImage2D
from mamba_monai.data.transforms.source_name import source_file, source_stem
from mamba_monai.utils.atomic_files import save_figure_atomically
from mamba_monai.utils.wrapped_modules import unwrap_network
from mamba_monai.visualize.gradcam import compute_gradcam, default_target_layer

__all__ = ["write_gradcam_overlays"]


def _is_dict_transform(transform: Callable) -> bool:
    if isinstance(transform, MapTransform):
        return True
    return (
        isinstance(transform, Compose)
        and bool(transform.transforms)
        and isinstance(transform.transforms[0], MapTransform)
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
    source = item if isinstance(item, (str, os.PathLike)) else source_file(image)
    return source_stem(source, default=f"image_{index:04d}")


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
        image = _prepare(item, transform, image_key, getattr(unwrap_network(network), "in_channels", None))
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
