"""An inferer that runs the network under the mixed precision the device supports natively."""

from __future__ import annotations

from typing import Any

import torch
from monai.inferers import Inferer

from mamba_monai.utils.precision import autocast_settings

__all__ = ["AutocastInferer", "AutocastNetwork"]


class AutocastNetwork:
    """Calls ``network`` under ``torch.autocast`` and returns float32 tensors.

    Not an ``nn.Module`` on purpose: it only wraps the call, so state dicts, ``train()``/``eval()`` and checkpoints
    keep seeing the original network. Floating outputs (a tensor, or a tuple/list/dict of them, e.g. deep supervision)
    are cast back to float32, so whatever consumes them (sliding-window aggregation, losses, metrics) accumulates in
    float32.

    Args:
        network: the callable to wrap.
        device_type: ``torch.autocast`` device type (``"cpu"``, ``"cuda"``).
        dtype: the autocast dtype (``torch.bfloat16``, ``torch.float16``).
    """

    def __init__(self, network, device_type: str, dtype: torch.dtype) -> None:
        self.network = network
        self.device_type = device_type
        self.dtype = dtype

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self.network(*args, **kwargs)
        return _to_float32(out)

    def __getattr__(self, name: str) -> Any:  # e.g. inferers reading network attributes
        return getattr(self.network, name)


def _to_float32(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() and out.dtype != torch.float32 else out
    if isinstance(out, (list, tuple)):
        return type(out)(_to_float32(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_float32(v) for k, v in out.items()}
    return out


class AutocastInferer(Inferer):
    """Wraps an inferer so the network runs in the device's native mixed precision (``mamba_monai.utils.precision``).

    On a CPU with native bfloat16 (AVX512-BF16 / AMX / ARM BF16) each network call runs under
    ``torch.autocast("cpu", dtype=torch.bfloat16)``; on CUDA under float16 autocast; elsewhere, or with
    ``enabled=False`` or ``MAMBA_MONAI_AMP=0``, the wrapped inferer runs unchanged in float32. Only the network call is
    autocast: the wrapped inferer's own work (sliding-window blending, test-time flips) stays in float32, and so do the
    outputs. No gradient scaler is involved on CPU (bfloat16 keeps float32's exponent range); on CUDA, MONAI's engines
    add their float16 ``GradScaler`` when their ``amp`` is ``mamba_monai.utils.precision.engine_amp(device, amp)``.

    The device is read when the inferer is called (``device=None``: from the input tensor), so one config serves CPU and
    GPU.

    Args:
        inferer: the inferer to wrap (``SimpleInferer``, ``SlidingWindowInferer``, ``MirrorTTAInferer``, ...).
        enabled: the bundle's ``amp`` switch.
        device: the device whose capability decides; ``None`` uses the input's device.
    """

    def __init__(self, inferer: Inferer, enabled: Any = True, device: str | torch.device | None = None) -> None:
        super().__init__()
        if not callable(inferer):
            raise TypeError(f"AutocastInferer: inferer must be callable, got {type(inferer).__name__}")
        self.inferer = inferer
        self.enabled = enabled
        self.device = device
        autocast_settings(device or "cpu", enabled)  # validates the switch now, not at the first batch

    def settings_for(self, inputs: torch.Tensor) -> dict[str, Any]:
        """The autocast arguments used for ``inputs`` (``{"device_type", "dtype", "enabled"}``)."""
        return autocast_settings(self.device if self.device is not None else inputs.device, self.enabled)

    def __call__(self, inputs: torch.Tensor, network, *args: Any, **kwargs: Any) -> Any:
        settings = self.settings_for(inputs)
        if settings["enabled"]:
            network = AutocastNetwork(network, settings["device_type"], settings["dtype"])
        return self.inferer(inputs, network, *args, **kwargs)
