"""Checks made before inference starts, so that a run keeps what it did and bad input costs nothing.

An inference folder may hold an unreadable or truncated image, or one far too large to decode (an 8000 x 8000 PNG
becomes several GB of float tensors on the way through the transforms). Each input image is checked up front: its
header (size) and a full decode, which for the 2D images of these bundles costs little beside the inference itself.
Unusable images are skipped, each named with the reason, in one warning and in ``skipped_inputs.csv``; the others run.
The output folder is checked for writing before any inference runs.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from mamba_monai.data.image_io import read_image_2d, read_image_2d_info
from mamba_monai.utils.atomic_files import write_text_atomically
from mamba_monai.utils.options import as_int, as_optional

__all__ = ["DEFAULT_MAX_PIXELS", "SKIPPED_INPUTS_FILE", "check_image_2d", "ensure_writable_dir", "usable_images"]

DEFAULT_MAX_PIXELS = 50_000_000  # 50 megapixels (e.g. 7000 x 7000); the bundles' inputs are a few hundred pixels wide
SKIPPED_INPUTS_FILE = "skipped_inputs.csv"


def check_image_2d(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS, decode: bool = True) -> None:
    """Refuse a 2D image that cannot be read, is truncated or corrupt, or has more than ``max_pixels`` pixels.

    Args:
        path: the image file.
        max_pixels: the largest ``height * width`` accepted (``None``: no limit); read from the header, before decoding.
        decode: decode the pixels too (finds truncated and corrupt files, which headers alone do not show).

    Raises:
        ValueError: naming the file and what is wrong.
    """
    info = read_image_2d_info(path)
    if max_pixels is not None and info.height * info.width > int(max_pixels):
        raise ValueError(
            f"'{path}' is {info.width} x {info.height} pixels ({info.height * info.width / 1e6:.1f} megapixels), more "
            f"than max_image_pixels = {int(max_pixels):,}: downscale it, or raise max_image_pixels if this machine has "
            "the memory (several GB per 10 megapixels on the way through the transforms)"
        )
    if decode:
        read_image_2d(path)


def usable_images(
    items: Sequence[dict],
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    report_dir: str | os.PathLike | None = None,
    key: str = "image",
) -> list[dict]:
    """The items whose image passes :func:`check_image_2d`; the others are named, with the reason, in one warning
    and in ``<report_dir>/skipped_inputs.csv`` (removed when nothing is skipped).

    Args:
        items: datalist items.
        max_pixels: see :func:`check_image_2d`.
        report_dir: folder for ``skipped_inputs.csv`` (the run's output folder); ``None``: warning only.
        key: the item key of the image file.

    Raises:
        ValueError: no item is usable (every file is listed with its reason).
    """
    max_pixels = as_optional(max_pixels, "max_image_pixels")
    max_pixels = None if max_pixels is None else as_int(max_pixels, "max_image_pixels")
    good, bad = [], []
    for item in items:
        try:
            check_image_2d(item[key], max_pixels)
        except ValueError as error:
            bad.append((str(item[key]), str(error)))
        else:
            good.append(item)
    report = Path(report_dir) / SKIPPED_INPUTS_FILE if report_dir is not None else None
    if bad:
        listing = "; ".join(reason for _, reason in bad[:10]) + (f"; ... {len(bad) - 10} more" if len(bad) > 10 else "")
        if not good:
            raise ValueError(f"none of the {len(items)} input image(s) can be used: {listing}")
        where = f" (listed in {report})" if report is not None else ""
        warnings.warn(f"{len(bad)} of {len(items)} input image(s) are skipped{where}: {listing}", stacklevel=2)
        if report is not None:
            stream = io.StringIO()
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["file", "reason"])
            writer.writerows(bad)
            write_text_atomically(report, stream.getvalue())
    elif report is not None and report.is_file():
        report.unlink()  # from an earlier run: it would describe inputs this run did not skip
    return good


def ensure_writable_dir(path: str | os.PathLike, option: str = "output_dir") -> Path:
    """Check, before any work is done, that files can be written in ``path``; nothing is created (the writers create
    the folder when they first write).

    An existing folder is tested by creating and removing a temporary file in it; a folder still to be created needs
    its nearest existing parent to be a writable folder.

    Args:
        path: the output folder.
        option: the bundle option that set it, named in the error.

    Raises:
        ValueError: the folder cannot be written or created (the message names the option, the folder and the cause).
    """
    folder = Path(path)
    try:
        if folder.is_dir():
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".write_check_"):
                pass
            return folder
        parent = folder
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise NotADirectoryError(f"'{parent}' is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(f"no permission to create folders in '{parent}'")
    except OSError as error:
        raise ValueError(f"{option} '{folder}' is not a writable folder: {error.strerror or error}") from None
    return folder
