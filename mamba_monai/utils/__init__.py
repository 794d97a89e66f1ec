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

__all__ = [
    "as_bool",
    "as_int",
    "as_optional",
    "listing",
    "save_figure_atomically",
    "unwrap_network",
    "write_bytes_atomically",
    "write_json_atomically",
    "write_text_atomically",
]
