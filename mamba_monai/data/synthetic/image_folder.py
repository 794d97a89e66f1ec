"""Write a synthetic 2D classification set to disk as real ones come: class folders of PNGs and a labels CSV."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "SYNTHETIC_CSV_COLUMNS",
    "SYNTHETIC_CSV_NAME",
    "check_class_names",
    "patient_of",
    "write_labelled_pngs",
    "write_synthetic_class_set",
]

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


def write_synthetic_class_set(
    root: str | os.PathLike,
    classes: Iterable[str],
    n_available: int,
    n_per_class: int,
    n_patients: int | None,
    seed: int,
    patient_traits: Callable[[int, int], dict],
    render: Callable[[int, np.random.Generator, dict], np.ndarray],
    patient_label: str,
    what: str,
) -> Path:
    """Write a seeded synthetic classification set: class folders of PNGs plus ``labels.csv``.

    Image ``i`` of class ``c`` is drawn from the stream ``(seed, c, i)`` and belongs to patient ``i % n_patients``
    (so every patient has every class), whose shared traits come from ``patient_traits(seed, patient)``.

    Args:
        root: output folder (created if needed).
        classes: class names; the ``c``-th gets appearance ``c``.
        n_available: number of appearances the generator has.
        n_per_class: images per class (at least 1).
        n_patients: patients the images are dealt to; default ``n_per_class``.
        seed: seed of the data set.
        patient_traits: ``(seed, patient) -> traits`` shared by a patient's images.
        render: ``(appearance index, rng, traits) -> pixels``.
        patient_label: prefix of the patient ids in the CSV (``patient``, ``slide``).
        what: the calling function's name, for error messages.

    Returns:
        the path of ``labels.csv``.
    """
    classes = check_class_names(classes, n_available, what)
    if int(n_per_class) < 1:
        raise ValueError(f"{what}: n_per_class must be at least 1, got {n_per_class}")
    n_patients = int(n_per_class) if n_patients is None else int(n_patients)
    if n_patients < 1:
        raise ValueError(f"{what}: n_patients must be at least 1, got {n_patients}")
    traits = [patient_traits(seed, p) for p in range(n_patients)]

    def records():
        for c, name in enumerate(classes):
            for i in range(int(n_per_class)):
                p = patient_of(i, n_patients)
                pixels = render(c, np.random.default_rng([seed, c, i]), traits[p])
                yield name, f"{name}_{i:04d}", f"{patient_label}{p + 1:03d}", pixels

    return write_labelled_pngs(root, records())
