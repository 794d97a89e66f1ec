"""Small utilities shared across the package."""

from mamba_monai.utils.atomic_files import (
    save_figure_atomically,
    write_bytes_atomically,
    write_json_atomically,
    write_text_atomically,
)
from mamba_monai.utils.listing import listing
from mamba_monai.utils.options import as_bool, as_int, as_optional
from mamba_monai.utils.wrapped_modules import unwrap_network
from mamba_monai.utils.precision import autocast_context, autocast_settings, cpu_bf16_native, engine_amp

__all__ = [
    "as_bool",
    "as_int",
    "as_optional",
    "autocast_context",
    "autocast_settings",
    "cpu_bf16_native",
    "engine_amp",
    "listing",
    "save_figure_atomically",
    "unwrap_network",
    "write_bytes_atomically",
    "write_json_atomically",
    "write_text_atomically",
]
