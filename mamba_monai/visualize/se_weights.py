"""Channel weights of every squeeze-and-excitation layer for one input, plotted one panel per layer.

MedMambaSE recalibrates the concatenated conv and SS2D channels of every block with an SE layer; the weights (one
sigmoid value per channel) show which channels a block emphasises or suppresses for an image, and how this changes
from the first stage to the last. MedMambaSE's layers keep their last weights (``network.se_weights()``); MONAI's
``ChannelSELayer`` (e.g. in ``SEResNext50``) does not, so its excitation output is read with a temporary hook.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from monai.networks.blocks import ChannelSELayer
from torch import nn

from mamba_monai.utils.atomic_files import save_figure_atomically
from mamba_monai.networks.blocks.squeeze_excitation import SqueezeExcitation
from mamba_monai.utils.wrapped_modules import unwrap_network

__all__ = ["plot_se_weights", "se_channel_weights", "se_weights_figure", "write_se_weight_plots"]

_STAGE_BLOCK = re.compile(r"^stages\.(\d+)\.(\d+)\.se$")


def se_channel_weights(network: nn.Module, image_tensor: torch.Tensor) -> dict[str, np.ndarray]:
    """Run one forward pass (eval mode, no gradients) and return the channel weights ``(B, C)`` of every SE layer,
    by module name, in forward order.

    SE layers are :class:`~mamba_monai.networks.blocks.squeeze_excitation.SqueezeExcitation` (MedMambaSE's, read
    from ``last_weights``) and MONAI's ``ChannelSELayer`` (read from its ``fc`` output). The network's train/eval
    modes are restored afterwards.

    Args:
        network: a network with SE layers, e.g. :class:`~mamba_monai.networks.nets.MedMambaSE`.
        image_tensor: the network input ``(B, C, H, W)``, or one image ``(C, H, W)``.

    Raises:
        ValueError: the network has no SE layer, or the input is not an image tensor.
    """
    network = unwrap_network(network)
    if not isinstance(image_tensor, torch.Tensor) or image_tensor.dim() < 3:
        raise ValueError(
            "se_channel_weights: image_tensor must be a tensor (B, C, H, W) or (C, H, W), got "
            f"{tuple(image_tensor.shape) if isinstance(image_tensor, torch.Tensor) else type(image_tensor).__name__}"
        )
    layers = {
        name: module
        for name, module in network.named_modules()
        if isinstance(module, (SqueezeExcitation, ChannelSELayer))
    }
    if not layers:
        raise ValueError(
            f"se_channel_weights: {type(network).__name__} has no squeeze-and-excitation layer (SqueezeExcitation or "
            "MONAI ChannelSELayer); use MedMambaSE or an SE network"
        )
    captured: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in layers.items():
        if isinstance(module, ChannelSELayer):
            hook = lambda _m, _i, output, name=name: captured.__setitem__(name, output.detach())  # noqa: E731
            handles.append(module.fc.register_forward_hook(hook))
        else:
            module.last_weights = None
    modes = {module: module.training for module in network.modules()}
    device = next((p.device for p in network.parameters()), torch.device("cpu"))
    x = image_tensor[None] if image_tensor.dim() == 3 else image_tensor
    try:
        network.eval()
        with torch.no_grad():
            network(x.to(device=device, dtype=torch.float32))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes.items():
            module.training = mode
    weights: dict[str, np.ndarray] = {}
    for name, module in layers.items():
        value = captured.get(name) if isinstance(module, ChannelSELayer) else module.last_weights
        if value is not None:  # an SE layer the forward pass did not reach is left out
            weights[name] = value.reshape(value.shape[0], -1).float().cpu().numpy()
    return weights


def _panel_title(name: str, channels: int) -> str:
    match = _STAGE_BLOCK.match(name)
    where = f"stage {match.group(1)}, block {match.group(2)}" if match else name
    return f"{where} ({channels} channels)"


def se_weights_figure(weights: Mapping[str, np.ndarray], sort: bool = False, title: str | None = None) -> Figure:
    """One panel per SE layer (in the order of ``weights``): the weight of each channel as a bar; for a batch the
    bars are the batch mean and a band spans the batch minimum to maximum. The mean weight is a dashed line.

    Args:
        weights: layer name -> weights ``(B, C)`` or ``(C,)`` (e.g. from :func:`se_channel_weights`).
        sort: order the channels of each panel by decreasing (mean) weight, which shows how selective the layer is.
        title: figure title.
    """
    if not weights:
        raise ValueError("se_weights_figure: no SE weights to plot")
    count = len(weights)
    columns = min(count, 4)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(3.6 * columns, 2.6 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False).ravel())
    for ax, (name, values) in zip(axes, weights.items()):
        values = np.asarray(values, dtype=np.float64)
        values = values.reshape(1, -1) if values.ndim == 1 else values.reshape(values.shape[0], -1)
        mean = values.mean(axis=0)
        order = np.argsort(-mean, kind="stable") if sort else np.arange(mean.size)
        channels = np.arange(mean.size)
        ax.bar(channels, mean[order], width=1.0, linewidth=0, color="#1f77b4")
        if values.shape[0] > 1:
            ax.fill_between(
                channels,
                values.min(axis=0)[order],
                values.max(axis=0)[order],
                step="mid",
                color="#ff7f0e",
                alpha=0.3,
                linewidth=0,
                label=f"range over {values.shape[0]} images",
            )
            ax.legend(loc="lower left", fontsize=7, frameon=False)
        ax.axhline(mean.mean(), color="black", linestyle="--", linewidth=0.8)
        ax.set_xlim(-0.5, mean.size - 0.5)
        ax.set_ylim(0, 1)
        ax.set_title(_panel_title(name, mean.size), fontsize=9)
        ax.set_xlabel("channel (sorted by weight)" if sort else "channel", fontsize=8)
        ax.set_ylabel("SE weight", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[count:]:
        figure.delaxes(ax)
    figure.suptitle(title or "squeeze-and-excitation channel weights")
    return figure


def plot_se_weights(
    network: nn.Module,
    image_tensor: torch.Tensor,
    output_path: str | os.PathLike,
    sort: bool = False,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Run ``network`` on ``image_tensor`` and write a PNG of the channel weights of every SE layer (one panel per
    layer, see :func:`se_weights_figure`), atomically; returns its path.

    Example::

        from mamba_monai.visualize import plot_se_weights
        plot_se_weights(medmamba_se, image, "eval/se_weights.png", sort=True)

    Args:
        network: a network with SE layers, e.g. :class:`~mamba_monai.networks.nets.MedMambaSE`.
        image_tensor: the network input ``(B, C, H, W)`` or ``(C, H, W)`` (preprocessed as for inference).
        output_path: the PNG file (its folder is created if needed).
        sort: order each panel's channels by decreasing weight.
        title: figure title.
        dpi: resolution of the PNG.
    """
    figure = se_weights_figure(se_channel_weights(network, image_tensor), sort=sort, title=title)
    return save_figure_atomically(figure, output_path, dpi=dpi)


def write_se_weight_plots(
    network: nn.Module,
    images: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    transform: Callable,
    *,
    image_key: str = "image",
    sort: bool = False,
    device: str | torch.device | None = None,
) -> list[Path]:
    """One :func:`plot_se_weights` figure per image file: ``<output_dir>/<image stem>_se_weights.png``.

    Args:
        network: a network with SE layers.
        images: image files.
        output_dir: folder of the PNGs (created if needed).
        transform: the bundle's dictionary preprocessing; gets ``{image_key: path}``.
        image_key: key of the image in ``transform``'s input and output.
        sort: order each panel's channels by decreasing weight.
        device: where the network runs; its parameters' device when ``None``.
    """
    if device is None:
        device = next(network.parameters()).device
    written = []
    for path in map(Path, images):
        tensor = torch.as_tensor(transform({image_key: str(path)})[image_key]).to(device)
        target = Path(output_dir) / f"{path.stem}_se_weights.png"
        written.append(plot_se_weights(network, tensor, target, sort=sort, title=f"SE channel weights: {path.name}"))
    return written
