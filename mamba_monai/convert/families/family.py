"""What a family of the ``convert`` command is, and the helpers families use to read sizes from state dicts."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mamba_monai.convert.state_fit import fit_problems

__all__ = [
    "Family",
    "StateDict",
    "any_key",
    "builder",
    "bundle_note",
    "first_shape",
    "load_strict",
    "ssm_state_size",
    "stage_depths",
    "tensor_shape",
]


StateDict = dict[str, Any]


@dataclass(frozen=True)
class Family:
    """One network family of the ``convert`` command.

    Args:
        name: the ``--from`` name.
        original: where the original code lives (for messages).
        network: dotted path of our network class (for messages and bundle configs).
        rename: ``(state_dict, **options) -> state_dict`` with our keys (the family's ``convert_*_state_dict``).
        infer: ``state_dict (our keys) -> constructor kwargs`` of our network.
        build: ``kwargs -> network``.
        looks_like: ``keys -> bool``: the keys are this family's (original or our layout).
        variants: named variants -> the constructor kwargs they fix (checked against the inferred ones).
        notes: ``(kwargs, original_keys) -> list of str``: what the user should know about using the result (options
            that reproduce the original's computation, bundle settings).
        options: the names of the family-specific options ``rename`` accepts (e.g. ``genotype``).
    """

    name: str
    original: str
    network: str
    rename: Callable[..., StateDict]
    infer: Callable[[StateDict], dict[str, Any]]
    build: Callable[[dict[str, Any]], nn.Module]
    looks_like: Callable[[list[str]], bool]
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    notes: Callable[[dict[str, Any], list[str]], list[str]] = lambda kwargs, keys: []
    options: tuple[str, ...] = ()


def any_key(keys: list[str], pattern: str) -> bool:
    """Whether any key matches the regular expression ``pattern`` (``re.search``)."""
    regex = re.compile(pattern)
    return any(regex.search(key) for key in keys)


def tensor_shape(state: StateDict, key: str, family: str) -> torch.Size:
    """The shape of ``state[key]``; a ValueError names the missing tensor."""
    value = state.get(key)
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{family}: the checkpoint has no tensor '{key}', needed to tell the network's size")
    return value.shape


def first_shape(state: StateDict, keys: tuple[str, ...], family: str) -> torch.Size:
    """The shape of the first of ``keys`` present (one name per supported layout)."""
    for key in keys:
        if isinstance(state.get(key), torch.Tensor):
            return state[key].shape
    raise ValueError(f"{family}: the checkpoint has none of the tensors {list(keys)}, needed to tell the network size")


def stage_depths(state: StateDict, pattern: str) -> list[int]:
    """Blocks per stage from keys matching ``pattern`` with groups (stage, block); stages without blocks count 0."""
    blocks: dict[int, set[int]] = {}
    regex = re.compile(pattern)
    for key in state:
        match = regex.match(key)
        if match:
            blocks.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    if not blocks:
        return []
    return [len(blocks.get(stage, ())) for stage in range(max(blocks) + 1)]


def ssm_state_size(state: StateDict, family: str) -> int:
    """d_state, the last dim of the first SSM ``A_logs`` tensor."""
    key = next((k for k in state if k.endswith(("ssm.A_logs", "A_logs"))), None)
    if key is None:
        raise ValueError(f"{family}: the checkpoint has no SSM tensor 'A_logs', needed to tell the state size")
    return int(state[key].shape[-1])


def builder(network_class: Callable[..., nn.Module]) -> Callable[[dict[str, Any]], nn.Module]:
    """``kwargs -> network_class(**kwargs)``."""

    def build(kwargs: dict[str, Any]) -> nn.Module:
        return network_class(**kwargs)

    return build


def bundle_note(bundle: str, kwargs: dict[str, Any], keys: tuple[str, ...]) -> str:
    """How to use the converted checkpoint in a classification bundle whose num_classes comes from class_names."""
    shown = ", ".join(f"{key}={kwargs[key]}" for key in keys if key in kwargs)
    return (
        f"bundle {bundle}: copy the file to models/model.pt; the bundle's network_def must have the same arguments "
        f"({shown}); the bundle sets num_classes to len(class_names), read from its data: run it with "
        f"--class_names \"['name 1', ...]\" ({kwargs.get('num_classes')} names, in the checkpoint's class order) "
        "when your data's classes are not the checkpoint's"
    )


def load_strict(network: nn.Module, state: StateDict, what: str) -> None:
    """``load_state_dict(strict=True, assign=True)`` after a readable fit check."""
    problems = fit_problems(network, state)
    if problems:
        raise ValueError(f"{what}: the tensors do not fit {type(network).__name__}: " + "; ".join(problems))
    network.load_state_dict(state, strict=True, assign=True)
