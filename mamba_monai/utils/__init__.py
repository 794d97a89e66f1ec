"""Small utilities shared across the package."""

from mamba_monai.utils.atomic_files import (
    save_figure_atomically,
    write_bytes_atomically,
    write_json_atomically,
    write_text_atomically,
)
from mamba_monai.utils.precision import autocast_context, autocast_settings, cpu_bf16_native, engine_amp

__all__ = [
    "autocast_context",
    "autocast_settings",
    "cpu_bf16_native",
    "engine_amp",
    "save_figure_atomically",
    "write_bytes_atomically",
    "write_json_atomically",
    "write_text_atomically",
]
