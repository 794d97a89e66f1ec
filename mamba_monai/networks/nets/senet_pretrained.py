"""Load ImageNet weights of SE-ResNeXt / SE-ResNet from a LOCAL file onto MONAI's ``SENet`` family.

MONAI's ``SEResNext50(pretrained=True)`` downloads Cadene's ``pretrainedmodels`` checkpoint at construction time;
a bundle must not download anything while it runs. This loader reads a file the user put on disk and translates its
keys to MONAI's names. Three layouts are understood, and may be wrapped in ``{"state_dict": ...}``,
``{"model": ...}`` or ``{"model_state_dict": ...}`` and/or carry a ``module.`` prefix (``DataParallel``):

- timm (``seresnext50_32x4d``) and torchvision-style ResNets: ``conv1``/``bn1`` stem, ``layerX.Y.{conv,bn}N``,
  ``layerX.Y.se.fc{1,2}`` (1x1 convolutions), ``layerX.Y.downsample.{0,1}``, head ``fc``;
- Cadene's ``pretrainedmodels`` (``se_resnext50_32x4d``): ``layer0.{conv1,bn1}``, ``layerX.Y.se_module.fc{1,2}``,
  head ``last_linear``;
- MONAI's own names (e.g. a checkpoint of this network trained for another class count), head ``last_linear``.

Every backbone tensor of the network must be filled exactly once with a tensor of the right shape (SE 1x1
convolution weights ``(C_out, C_in, 1, 1)`` become linear weights ``(C_out, C_in)``); anything else is an error that
lists the keys. The classifier head is skipped by default (the class count differs from ImageNet's 1000).

Note: the stem max-pooling of MONAI's ``SENet`` follows ``pretrainedmodels`` (``ceil_mode=True``, no padding);
timm's ResNet pads by 1 instead. The weights fit both; features of timm weights differ slightly at the borders of the
first pooling, which fine-tuning absorbs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

__all__ = ["HEAD_PREFIXES", "convert_seresnext_state_dict", "load_seresnext_pretrained"]

#: key prefixes of classifier heads in the supported layouts (timm / torchvision ``fc``, pretrainedmodels and MONAI
#: ``last_linear``, timm's newer ``head.fc``)
HEAD_PREFIXES: tuple[str, ...] = ("fc.", "last_linear.", "head.fc.", "classifier.")

_WHERE_TO_GET = (
    "Put a SE-ResNeXt-50 (32x4d) ImageNet state dict there (or set pretrained_path to null for random "
    "initialisation). Where to get one, on a machine with internet access:\n"
    "  - timm (Apache-2.0, Hugging Face hub 'timm/seresnext50_32x4d.racm_in1k'):\n"
    "      python -c \"import timm, torch; torch.save(timm.create_model('seresnext50_32x4d', pretrained=True)"
    ".state_dict(), 'seresnext50_32x4d.pth')\"\n"
    "  - Cadene's pretrainedmodels (the weights MONAI's SEResNext50(pretrained=True) downloads):\n"
    "      http://data.lip6.fr/cadene/pretrainedmodels/se_resnext50_32x4d-a260b3a4.pth\n"
    "then copy the file to that path."
)

# (pattern, replacement) in order; the first match wins. Block indices may have several digits.
_BLOCK = r"(layer[1-4]\.\d+\.)"
_RENAMES: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        # stem: timm / torchvision, then pretrainedmodels (already MONAI's names)
        (r"^conv1\.(weight)$", r"layer0.conv1.\1"),
        (r"^bn1\.(\w+)$", r"layer0.bn1.\1"),
        # bottleneck convolutions and their batch norms
        (_BLOCK + r"conv(\d)\.(weight)$", r"\1conv\2.conv.\3"),
        (_BLOCK + r"bn(\d)\.(\w+)$", r"\1conv\2.adn.N.\3"),
        # squeeze-and-excitation: timm ``se``, pretrainedmodels ``se_module``
        (_BLOCK + r"(?:se|se_module)\.fc1\.(\w+)$", r"\1se_layer.fc.0.\2"),
        (_BLOCK + r"(?:se|se_module)\.fc2\.(\w+)$", r"\1se_layer.fc.2.\2"),
        # projection shortcut
        (_BLOCK + r"downsample\.0\.(weight)$", r"\1project.conv.\2"),
        (_BLOCK + r"downsample\.1\.(\w+)$", r"\1project.adn.N.\2"),
    )
)


def _unwrap_checkpoint(checkpoint: object, path: str) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint file's content, without a ``module.`` prefix."""
    state = checkpoint
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"pretrained weights file '{path}' does not hold a state dict (a mapping of names to tensors, possibly "
            f"under 'state_dict' or 'model'); got {type(checkpoint).__name__}"
        )
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def _monai_key(key: str) -> str:
    for pattern, replacement in _RENAMES:
        if pattern.match(key):
            return pattern.sub(replacement, key)
    return key  # already MONAI's (or unknown: reported by the caller)


def convert_seresnext_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    network: nn.Module,
    skip_head: bool = True,
    source: str = "state dict",
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Translate a timm / torchvision / pretrainedmodels / MONAI SE-ResNe(X)t state dict to ``network``'s names.

    Args:
        state_dict: the source tensors.
        network: a MONAI ``SENet`` (``SEResNext50``, ``SEResNet50``, ...), the target of the names and shapes.
        skip_head: leave out the classifier head (``fc`` / ``last_linear``); with ``False`` the head is converted
            too and must then have the network's shape.
        source: how to name the source in error messages (e.g. the file path).

    Returns:
        the converted state dict (every backbone key of ``network``, and its head unless skipped), and the source
        keys that were skipped as the head.

    Raises:
        ValueError: a source key that does not map to the network, two source keys mapping to one name, a shape
            that does not fit, or network backbone keys that the source does not fill; each lists the keys.
    """
    target = network.state_dict()
    converted: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    skipped, unknown, duplicates, shapes = [], [], [], []
    for key, tensor in state_dict.items():
        if key.startswith(HEAD_PREFIXES) and skip_head:
            skipped.append(key)
            continue
        name = "last_linear." + key.split(".")[-1] if key.startswith(HEAD_PREFIXES) else _monai_key(key)
        if name not in target:
            unknown.append(key)
            continue
        if name in converted:
            duplicates.append(f"{origin[name]} and {key} -> {name}")
            continue
        expected = target[name].shape
        if tensor.shape != expected and tensor.dim() == 4 and tensor.shape[2:] == (1, 1) and len(expected) == 2:
            tensor = tensor.flatten(1)  # SE 1x1 convolution -> linear
        if tensor.shape != expected:
            shapes.append(f"{key} {tuple(tensor.shape)} -> {name} {tuple(expected)}")
            continue
        converted[name] = tensor
        origin[name] = key
    missing = [
        name for name in target if name not in converted and (skip_head is False or not name.startswith("last_linear."))
    ]
    problems = []
    if unknown:
        problems.append(f"{len(unknown)} key(s) that are not part of {type(network).__name__}: {_listing(unknown)}")
    if duplicates:
        problems.append(f"keys mapping to the same parameter: {_listing(duplicates)}")
    if shapes:
        problems.append(f"{len(shapes)} tensor(s) of the wrong shape: {_listing(shapes)}")
    if missing:
        problems.append(f"{len(missing)} parameter(s) of the network not found: {_listing(missing)}")
    if problems:
        raise ValueError(
            f"{source} does not fit {type(network).__name__} (expected SE-ResNeXt/SE-ResNet weights in timm, "
            "torchvision, pretrainedmodels or MONAI naming, same depth and width): " + "; ".join(problems)
        )
    return converted, skipped


def load_seresnext_pretrained(
    network: nn.Module,
    path: str | os.PathLike | None,
    skip_head: bool = True,
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Load ImageNet (or other) weights from a local file onto a MONAI ``SEResNext50`` (or another ``SENet``), in
    place; nothing is downloaded. The classifier head keeps its initialisation unless ``skip_head=False``.

    Example (bundle config; the network is left alone when ``pretrained_path`` is null)::

        "network_def": {"_target_": "monai.networks.nets.SEResNext50", "spatial_dims": 2, "in_channels": 3,
                        "num_classes": 6},
        "network": "$mamba_monai.networks.nets.load_seresnext_pretrained(@network_def, @pretrained_path).to(@device)"

    Args:
        network: the network to fill (``DataParallel`` / ``DistributedDataParallel`` are looked through).
        path: the weights file (``torch.save`` of a state dict, see the module docstring for the layouts); ``None``
            returns ``network`` unchanged (random initialisation).
        skip_head: do not load the classifier head (a different class count).
        map_location: where to load the tensors before copying them.

    Returns:
        ``network`` itself.

    Raises:
        FileNotFoundError: ``path`` does not exist; the message says where to put a file and where to get one.
        ValueError: the file is not a state dict, or does not fit the network (see
            :func:`convert_seresnext_state_dict`).
    """
    if path is None:
        return network
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"pretrained weights file '{path.absolute()}' (config key pretrained_path) does not exist. {_WHERE_TO_GET}"
        )
    try:
        checkpoint = torch.load(str(path), map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling problem: say which file
        raise ValueError(f"pretrained weights file '{path}' cannot be read by torch.load: {error}") from error
    target = network.module if isinstance(network, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else network
    state = _unwrap_checkpoint(checkpoint, str(path))
    converted, _ = convert_seresnext_state_dict(state, target, skip_head=skip_head, source=f"weights file '{path}'")
    target.load_state_dict(converted, strict=not skip_head)
    return network


def _listing(things: list[str], limit: int = 8) -> str:
    shown = ", ".join(things[:limit])
    return shown + (f", ... and {len(things) - limit} more" if len(things) > limit else "")
