"""Ignite handlers, inferers and workflow helpers that MONAI lacks (handlers in ``mamba_monai.engines.handlers``)."""

from mamba_monai.engines import handlers
from mamba_monai.engines.atomic_checkpoint_saver import AtomicCheckpointSaver
from mamba_monai.engines.autocast_inferer import AutocastInferer, AutocastNetwork
from mamba_monai.engines.checkpoints import latest_checkpoint
from mamba_monai.engines.evolutionary_search import EvolutionarySearch, evolutionary_search
from mamba_monai.engines.inferers import MirrorTTAInferer
from mamba_monai.engines.output_transforms import accuracy_output_transform
from mamba_monai.engines.path_sampler import RandomPathSampler
from mamba_monai.engines.resume import SaverRecord, checkpoint_handlers, resume_handlers
from mamba_monai.engines.search_plot import plot_search_progress
from mamba_monai.engines.supernet_scorer import SupernetScorer
from mamba_monai.engines.supernet_weights import load_supernet_weights

__all__ = [
    "accuracy_output_transform",
    "checkpoint_handlers",
    "AtomicCheckpointSaver",
    "load_supernet_weights",
    "SaverRecord",
    "resume_handlers",
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
]
