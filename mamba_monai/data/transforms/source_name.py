"""The file an array or a data item came from: for error messages, output names and table rows.

One home for reading MONAI's ``filename_or_obj`` meta entry (from a ``MetaTensor``, or from ``<key>_meta_dict`` of an
item whose tensors lost their meta) and for stripping an image file's extension, multi-part ones included
(``case.nii.gz`` -> ``case``, where ``Path.stem`` would leave ``case.nii``).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["IMAGE_FILE_EXTENSIONS", "source_file", "source_name", "source_stem"]

IMAGE_FILE_EXTENSIONS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".npy", ".npz", ".dcm", ".png", ".tif",
                         ".tiff", ".jpg", ".jpeg", ".bmp")  # fmt: skip


def source_file(data: Any, key: str | None = None) -> str | None:
    """The file ``data`` was loaded from, or ``None`` when unknown.

    Args:
        data: a MetaTensor, or (with ``key``) a data item: a dict holding the MetaTensor under ``key`` or its meta
            data under ``f"{key}_meta_dict"``.
        key: the item key of the loaded image.

    When several files were stacked into one image (a list of file names), the first names it.
    """
    if key is not None:
        if not isinstance(data, dict):
            return None
        meta = getattr(data.get(key), "meta", None) or data.get(f"{key}_meta_dict") or {}
    else:
        meta = getattr(data, "meta", None) or {}
    name = meta.get("filename_or_obj") if hasattr(meta, "get") else None
    if isinstance(name, (list, tuple)):
        name = name[0] if name else None
    return os.fspath(name) if name else None


def source_stem(filename: str | os.PathLike | None, default: str = "image") -> str:
    """The base name of ``filename`` without its image extension (``.../case.nii.gz`` -> ``case``); ``default`` when
    there is no file name.

    Args:
        filename: a path, or ``None``.
        default: the name to use without a file name.
    """
    if not filename:
        return default
    name = os.path.basename(os.fspath(filename).rstrip("/\\"))
    lowered = name.lower()
    for extension in IMAGE_FILE_EXTENSIONS:
        if lowered.endswith(extension) and len(name) > len(extension):
            return name[: -len(extension)]
    return os.path.splitext(name)[0] or name


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
