"""What the 2D bundles' ``inference.json`` takes as ``input``: an image file, a folder of images, or a datalist."""

from __future__ import annotations

import json
import os
from pathlib import Path

from monai.data import load_decathlon_datalist

from mamba_monai.data.classification import load_classification_datalist
from mamba_monai.data.image_io import is_image_file
from mamba_monai.data.input_checks import DEFAULT_MAX_PIXELS, usable_images

__all__ = ["image_inputs"]


def image_inputs(
    source: str | os.PathLike,
    datalist_key: str = "testing",
    check: bool = True,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    report_dir: str | os.PathLike | None = None,
) -> list[dict]:
    """Inference items ``[{"image": path}, ...]`` from one image, a folder (searched recursively) or a JSON datalist.

    Every image is checked before inference starts (:func:`~mamba_monai.data.input_checks.usable_images`): an
    unreadable, truncated or oversized one is skipped and named, so one bad file never costs the others' predictions.

    Args:
        source: an image file (PNG, JPEG, TIFF, BMP, DICOM...), a folder, or a datalist JSON (a classification
            datalist of this package, or a MONAI Decathlon-style datalist); paths in a datalist are relative to it.
        datalist_key: the list of a datalist to use.
        check: check the images (header, size, full decode).
        max_pixels: the largest ``height * width`` accepted (``None``: no limit).
        report_dir: where ``skipped_inputs.csv`` lists skipped images (the run's output folder).

    Raises:
        ValueError: the input does not exist, or holds no image (the message names it).
    """
    path = Path(source)
    if not path.exists():
        raise ValueError(f"inference input '{path}' does not exist (set 'input' to an image, a folder or a datalist)")
    if path.is_file() and path.suffix.lower() == ".json":
        items = _datalist_items(path, datalist_key)
    elif path.is_file():
        items = [{"image": str(path)}]
    else:
        items = [{"image": str(p)} for p in sorted(path.rglob("*")) if p.is_file() and is_image_file(p)]
    if not items:
        raise ValueError(f"inference input '{path}' holds no image files (PNG, JPEG, TIFF, BMP, DICOM...)")
    return usable_images(items, max_pixels, report_dir) if check else items


def _datalist_items(path: Path, key: str) -> list[dict]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"inference datalist '{path}' is not readable JSON ({error})") from None
    if not isinstance(content, dict) or key not in content:
        raise ValueError(f"inference datalist '{path}' has no '{key}' list")
    if "classes" in content:
        return [{"image": item["image"]} for item in load_classification_datalist(path, key)]
    return [{"image": item["image"]} for item in load_decathlon_datalist(str(path), data_list_key=key)]
