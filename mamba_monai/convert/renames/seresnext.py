"""Key renaming of SE-ResNeXt / SE-ResNet checkpoints onto MONAI's ``SENet`` family.

Three layouts are understood:

- timm (``seresnext50_32x4d``) and torchvision-style ResNets: ``conv1``/``bn1`` stem, ``layerX.Y.{conv,bn}N``,
  ``layerX.Y.se.fc{1,2}`` (1x1 convolutions), ``layerX.Y.downsample.{0,1}``, head ``fc``;
- Cadene's ``pretrainedmodels`` (``se_resnext50_32x4d``): ``layer0.{conv1,bn1}``, ``layerX.Y.se_module.fc{1,2}``,
  head ``last_linear``;
- MONAI's own names (e.g. a checkpoint of this network trained for another class count), head ``last_linear``.

Every backbone tensor of the network must be filled exactly once with a tensor of the right shape (SE 1x1
convolution weights ``(C_out, C_in, 1, 1)`` become linear weights ``(C_out, C_in)``); anything else is an error that
lists the keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

from mamba_monai.convert.state_fit import fit_report
from mamba_monai.utils.listing import listing

__all__ = ["HEAD_PREFIXES", "convert_seresnext_state_dict"]

#: key prefixes of classifier heads in the supported layouts (timm / torchvision ``fc``, pretrainedmodels and MONAI
#: ``last_linear``, timm's newer ``head.fc``)
HEAD_PREFIXES: tuple[str, ...] = ("fc.", "last_linear.", "head.fc.", "classifier.")

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
    problems = fit_report(missing, unknown, shapes, limit=8)
    if duplicates:
        problems.append(f"keys mapping to the same parameter: {listing(duplicates, 8)}")
    if problems:
        raise ValueError(
            f"{source} does not fit {type(network).__name__} (expected SE-ResNeXt/SE-ResNet weights in timm, "
            "torchvision, pretrainedmodels or MONAI naming, same depth and width): " + "; ".join(problems)
        )
    return converted, skipped
