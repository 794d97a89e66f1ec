"""Loading the trained supernet into the network that the architecture search scores."""

from __future__ import annotations

import os
from pathlib import Path

import torch

__all__ = ["load_supernet_weights"]


def load_supernet_weights(network: torch.nn.Module, path: str | os.PathLike, device="cpu") -> torch.nn.Module:
    """Load the supernet's weights (a state dict, or a checkpoint holding one under ``model``) into ``network``.

    Args:
        network: the supernet to fill.
        path: ``models/supernet.pt`` written by ``train_supernet.json``.
        device: ``map_location``.

    Raises:
        ValueError: no file at ``path`` (the message says which config trains it).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no trained supernet at '{path}': run train_supernet.json first")
    state = torch.load(path, map_location=device, weights_only=True)
    network.load_state_dict(state["model"] if isinstance(state, dict) and "model" in state else state)
    return network
