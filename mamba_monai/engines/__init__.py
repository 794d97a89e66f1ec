"""Ignite handlers, inferers and workflow helpers that MONAI lacks."""

from mamba_monai.engines.checkpoints import latest_checkpoint
from mamba_monai.engines.inferers import MirrorTTAInferer

__all__ = ["MirrorTTAInferer", "latest_checkpoint"]
