"""Refuse bundle zips whose entries could write outside the folder they are extracted into.

Checked before anything is extracted: absolute names (``/etc/x``, ``\\x``, ``C:x``), ``..`` components (in either
separator), symbolic links (Unix mode bits in the entry's external attributes) and, for a bundle, any entry outside
the one top-level folder ``<name>/`` that the model-zoo layout requires.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import PurePosixPath, PureWindowsPath

__all__ = ["UnsafeZipError", "check_zip_entries"]


class UnsafeZipError(ValueError):
    """A zip entry that must not be extracted (absolute, ``..``, symbolic link, outside the bundle folder)."""


def _entry_problem(entry: zipfile.ZipInfo) -> str | None:
    name = entry.filename
    if not name or "\x00" in name:
        return "has an empty or NUL-containing name"
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive or PurePosixPath(name).is_absolute():
        return "is an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "contains a '..' component"
    if stat.S_ISLNK(entry.external_attr >> 16):
        return "is a symbolic link"
    return None


def check_zip_entries(zip_path: str | os.PathLike, top_level: str | None = None) -> list[str]:
    """Check every entry of ``zip_path``; returns the entry names, raises ``UnsafeZipError`` at the first bad one.

    Args:
        zip_path: the zip file.
        top_level: when given, every entry must lie under ``<top_level>/`` (the bundle's folder).

    Raises:
        UnsafeZipError: naming the zip and the offending entry.
    """
    try:
        with zipfile.ZipFile(zip_path) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as error:
        raise UnsafeZipError(f"{zip_path} is not a valid zip file: {error}") from error
    for entry in entries:
        problem = _entry_problem(entry)
        if problem is None and top_level is not None and not entry.filename.startswith(f"{top_level}/"):
            problem = f"is outside the bundle folder '{top_level}/'"
        if problem is not None:
            raise UnsafeZipError(f"refusing {zip_path}: entry {entry.filename!r} {problem}")
    if top_level is not None and not entries:
        raise UnsafeZipError(f"refusing {zip_path}: it is empty (expected a '{top_level}/' bundle folder)")
    return [entry.filename for entry in entries]
