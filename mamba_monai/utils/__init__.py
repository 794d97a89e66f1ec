"""Small utilities shared across the package."""

from mamba_monai.utils.atomic_files import (
    save_figure_atomically,
    write_bytes_atomically,
    write_json_atomically,
    write_text_atomically,
)

__all__ = ["save_figure_atomically", "write_bytes_atomically", "write_json_atomically", "write_text_atomically"]
