"""What every inference task of the app shares: only the servable model is offered, and it runs in the bundle's
precision (bf16 autocast where the CPU has it, as the bundle's own ``inference.json`` runs it)."""

from __future__ import annotations

import os
from typing import Any

from mamba_monai.engines import AutocastInferer
from mamba_monai.label.discovery import MODEL_FILE

__all__ = ["SERVED_MODEL", "NotServableModelError", "ServedModelMixin"]

SERVED_MODEL = os.path.basename(MODEL_FILE)


class NotServableModelError(ValueError):
    """A request named a model file that the bundle does not serve (the app answers it with a 400)."""


class ServedModelMixin:
    """Mixin for ``BundleInferTask`` subclasses (listed first in the bases).

    MONAI Label's bundle task offers every ``models/*.pt`` in its model chooser (a supernet, periodic checkpoints) and
    silently uses whichever is picked; the bundles serve ``models/model.pt`` only, and a request for another file is
    refused with a message. The bundle's ``inferer`` is wrapped in :class:`~mamba_monai.engines.AutocastInferer`
    with the bundle's ``amp`` switch (``MAMBA_MONAI_AMP=0`` turns it off), as ``inference.json``'s evaluator does.
    """

    def _serve_only_the_model(self) -> None:
        self._config["model_filename"] = [SERVED_MODEL]

    def _get_network(self, device: Any, data: Any):
        chosen = (data or {}).get("model_filename")
        chosen = chosen[0] if isinstance(chosen, (list, tuple)) and chosen else chosen
        if chosen and chosen != SERVED_MODEL:
            raise NotServableModelError(
                f"model_filename '{chosen}' is not a servable model of '{self.bundle.name}': it serves {SERVED_MODEL}"
            )
        return super()._get_network(device, data)

    def inferer(self, data: Any = None):
        amp = self.bundle_config.get("amp", True)
        return AutocastInferer(super().inferer(data), amp)
