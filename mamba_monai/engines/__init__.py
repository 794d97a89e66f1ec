"""Ignite handlers, inferers and workflow helpers that MONAI lacks (handlers in ``mamba_monai.engines.handlers``)."""

from mamba_monai.engines import handlers
from mamba_monai.engines.checkpoints import latest_checkpoint
from mamba_monai.engines.inferers import MirrorTTAInferer

__all__ = ["MirrorTTAInferer", "handlers", "latest_checkpoint"]
