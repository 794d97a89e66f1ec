"""Write a synthetic 2D classification set to disk as real ones come: class folders of PNGs and a labels CSV."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["SYNTHETIC_CSV_COLUMNS", "SYNTHETIC_CSV_NAME", "check_class_names", "patient_of", "write_labelled_pngs"]

#: columns of the labels CSV of the synthetic sets: image path (relative to the CSV), class name, patient id
SYNTHETIC_CSV_COLUMNS: tuple[str, str, str] = ("Image_path", "Plane", "Patient")
#: file name of that CSV, in the root of the set
SYNTHETIC_CSV_NAME = "labels.csv"


def check_class_names(classes: Iterable[str], available: int, what: str) -> tuple[str, ...]:
    """Validate the class names given to a synthetic set writer: 2 to ``available`` unique, non-empty names that can
    be folder names.

    Args:
        classes: the names.
        available: how many distinct class appearances the writer can draw.
        what: the writer's name, for messages.
    """
    names = tuple(str(c) for c in classes)
    if not 2 <= len(names) <= available:
        raise ValueError(f"{what}: give 2 to {available} class names, got {len(names)}: {names}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: class names must be unique, got {names}")
    for name in names:
        if not name.strip() or name in (".", "..") or any(c in name for c in '/\\:*?"<>|'):
            raise ValueError(f"{what}: class name {name!r} cannot be a folder name")
    return names


def write_labelled_pngs(root: str | os.PathLike, records: Iterable[tuple[str, str, str, np.ndarray]]) -> Path:
    """Write ``root/<class>/<stem>.png`` for every record and ``root/labels.csv`` listing them.

    The CSV has the columns :data:`SYNTHETIC_CSV_COLUMNS` (``Image_path`` relative to ``root`` with ``/``
    separators, ``Plane`` the class name, ``Patient``), one row per image, sorted by path. PNGs are written without
    time stamps at a fixed compression level, so equal pixels give equal bytes.

    Args:
        root: output folder (created if needed).
        records: ``(class_name, file_stem, patient_id, pixels)`` with uint8 pixels (H, W) or (H, W, 3).

    Returns:
        the path of the CSV.
    """
    root = Path(root)
    rows = []
    for class_name, stem, patient, pixels in records:
        if pixels.dtype != np.uint8:
            raise ValueError(f"write_labelled_pngs: pixels of '{stem}' must be uint8, got {pixels.dtype}")
        folder = root / class_name
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=6)
        (folder / f"{stem}.png").write_bytes(buffer.getvalue())
        rows.append((f"{class_name}/{stem}.png", class_name, patient))
    csv_path = root / SYNTHETIC_CSV_NAME
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(SYNTHETIC_CSV_COLUMNS)
        writer.writerows(sorted(rows))
    return csv_path


def patient_of(image_index: int, n_patients: int) -> int:
    """Index of the patient the ``image_index``-th image of every class belongs to: patients are dealt round-robin,
    so each one has images of every class (as a real patient has several planes), and any split of whole patients
    sees every class."""
    return image_index % n_patients
