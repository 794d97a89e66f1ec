"""Ignite handlers, inferers and workflow helpers that MONAI lacks (handlers in ``mamba_monai.engines.handlers``)."""

from mamba_monai.engines import handlers
from mamba_monai.engines.autocast_inferer import AutocastInferer, AutocastNetwork
from mamba_monai.engines.checkpoints import latest_checkpoint
from mamba_monai.engines.evolutionary_search import (
    EvolutionarySearch,
    SupernetScorer,
    evolutionary_search,
    plot_search_progress,
)
from mamba_monai.engines.inferers import MirrorTTAInferer
from mamba_monai.engines.path_sampler import RandomPathSampler, unwrap_network

__all__ = [
    "AutocastInferer",
    "AutocastNetwork",
    "EvolutionarySearch",
    "MirrorTTAInferer",
    "RandomPathSampler",
    "SupernetScorer",
    "evolutionary_search",
    "handlers",
    "latest_checkpoint",
    "plot_search_progress",
    "unwrap_network",
]
