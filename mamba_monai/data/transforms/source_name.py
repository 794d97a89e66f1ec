"""Name the file an array came from, for error messages."""

from __future__ import annotations

from typing import Any

__all__ = ["source_name"]


def source_name(data: Any, default: str = "the input") -> str:
    """``'<file>'`` from a MetaTensor's ``filename_or_obj`` meta entry, ``default`` when unknown.

    When LoadImage stacked a list of files (``original_channel_dim`` 0), MONAI keeps only the first file name; the
    result then says so.

    Args:
        data: a MetaTensor (or anything else, which gives ``default``).
        default: what to return when the file is unknown.
    """
    meta = getattr(data, "meta", None) or {}
    name = meta.get("filename_or_obj")
    if not name:
        return default
    if isinstance(name, (list, tuple)):
        return ", ".join(f"'{n}'" for n in name)
    stacked = meta.get("original_channel_dim") == 0 and getattr(data, "ndim", 0) >= 1 and data.shape[0] > 1
    return f"'{name}' (and the other files stacked with it)" if stacked else f"'{name}'"
