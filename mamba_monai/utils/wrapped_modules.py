"""Look through the wrappers that data-parallel training puts around a network."""

from __future__ import annotations

from torch import nn

__all__ = ["unwrap_network"]


def unwrap_network(network: nn.Module) -> nn.Module:
    """The module inside ``DistributedDataParallel`` / ``DataParallel`` wrappers (``.module``, repeatedly).

    Args:
        network: a network, wrapped or not.
    """
    while isinstance(network, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        network = network.module
    return network
