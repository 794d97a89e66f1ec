"""Synthetic stained-microscopy cell classification set, written as class folders of RGB PNGs plus a labels CSV.

The images are synthetic (no data can be downloaded here) but look like bright-field micrographs of stained cells:
a light, slightly uneven background, and cells whose colour follows Beer-Lambert absorption of a stain (optical
density times stain amount), each with a darker nucleus. Each class has its own morphology and stain, so the task is
learnable from shape as well as colour:

=====================  ===================================================  ===========================
appearance             morphology                                           stain
=====================  ===================================================  ===========================
``round_cells``        round cells, large central nucleus                   haematoxylin (blue-purple)
``elongated_cells``    spindle-shaped cells (aspect 3-5), thin nucleus      eosin (pink)
``clustered_cells``    tight clusters of small round nuclei                 haematoxylin + eosin (violet)
``irregular_cells``    irregular, lobed outlines, eccentric nucleus         DAB (brown)
=====================  ===================================================  ===========================

Stain strength, cell count, size, position and orientation vary at random; images are dealt round-robin to
"patients" (slides), each with its own illumination tint, so that grouped splits are meaningful.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from mamba_monai.data.synthetic.image_folder import write_synthetic_class_set
from mamba_monai.data.synthetic.shapes_2d import Grid2D, blob_radius, ellipse_radius, soft_inside

__all__ = ["MICROSCOPY_CLASSES", "synthesize_microscopy_image", "write_synthetic_microscopy"]

#: default class names, in the order of the appearances
MICROSCOPY_CLASSES: tuple[str, ...] = ("round_cells", "elongated_cells", "clustered_cells", "irregular_cells")

# optical density (absorbance) of one unit of stain in R, G, B (Ruifrok & Johnston's colour deconvolution vectors)
_HAEMATOXYLIN = np.array([0.65, 0.70, 0.29])
_EOSIN = np.array([0.07, 0.99, 0.11])
_DAB = np.array([0.27, 0.57, 0.78])


def write_synthetic_microscopy(
    root: str | os.PathLike,
    n_per_class: int = 20,
    size: tuple[int, int] = (128, 128),
    classes: Sequence[str] = MICROSCOPY_CLASSES,
    seed: int = 0,
    n_patients: int | None = None,
) -> Path:
    """Write a synthetic microscopy cell classification set under ``root``.

    Layout: ``root/<class>/<class>_<index>.png`` (8-bit RGB PNG, ``size`` = (H, W)) and ``root/labels.csv`` with the
    columns ``Image_path,Plane,Patient`` (the same columns as the ultrasound set: ``Plane`` holds the class, ``Patient``
    the slide). The ``i``-th class name gets the ``i``-th appearance of the table in the module docstring. The output
    is a deterministic function of the arguments: the same seed gives the same bytes, and an image does not depend on
    ``n_per_class``.

    Args:
        root: output folder (created if needed).
        n_per_class: images per class.
        size: (H, W) of the images, at least 8 x 8.
        classes: 2 to 4 class names (folder names), see :data:`MICROSCOPY_CLASSES`.
        seed: seed of the data set.
        n_patients: number of slides the images are dealt to (round-robin: the ``i``-th image of every class
            goes to patient ``i % n_patients``, so every patient has every class); default ``n_per_class`` (one image
            of each class per patient).

    Returns:
        the path of ``labels.csv``.
    """
    grid = Grid2D(size)
    return write_synthetic_class_set(
        root,
        classes,
        len(_APPEARANCES),
        n_per_class,
        n_patients,
        seed,
        _slide_traits,
        lambda c, rng, traits: _render(_APPEARANCES[c], grid, rng, traits),
        "slide",
        "write_synthetic_microscopy",
    )


def synthesize_microscopy_image(appearance: int | str, size: tuple[int, int] = (128, 128), seed: int = 0) -> np.ndarray:
    """One synthetic micrograph as uint8 (H, W, 3).

    Args:
        appearance: index or name of the appearance (see :data:`MICROSCOPY_CLASSES`).
        size: (H, W).
        seed: seed of the image (and of its slide's illumination).
    """
    index = MICROSCOPY_CLASSES.index(appearance) if isinstance(appearance, str) else int(appearance)
    if not 0 <= index < len(_APPEARANCES):
        raise ValueError(f"unknown microscopy appearance {appearance!r}: use one of {MICROSCOPY_CLASSES}")
    rng = np.random.default_rng([seed, index])
    return _render(_APPEARANCES[index], Grid2D(size), rng, _slide_traits(seed, 0))


# ------------------------------------------------------------------------------------------------------- rendering


def _slide_traits(seed: int, slide: int) -> dict:
    rng = np.random.default_rng([seed, 7919, slide])
    illumination = np.array([0.95, 0.93, 0.95]) * rng.uniform(0.96, 1.03, 3)
    return {"illumination": illumination, "stain_scale": rng.uniform(0.85, 1.15)}


def _render(draw, grid: Grid2D, rng: np.random.Generator, slide: dict) -> np.ndarray:
    """Beer-Lambert: intensity = illumination * 10 ** -(sum over stains of amount * optical density)."""
    density = np.zeros(grid.y.shape + (3,))
    stroma = 1.0 + gaussian_filter(rng.standard_normal(grid.y.shape), 0.03 / grid.pixel)
    density += 0.03 * _EOSIN * stroma[..., None]  # faint stroma
    density = draw(density, grid, rng, slide["stain_scale"])
    uneven = 1.0 + 0.03 * gaussian_filter(rng.standard_normal(grid.y.shape), 0.1 / grid.pixel)
    illumination = slide["illumination"] * uneven[..., None]
    image = illumination * np.power(10.0, -np.maximum(density, 0.0))
    image += rng.normal(0.0, 0.012, image.shape)  # camera noise
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _cell_centres(grid: Grid2D, rng: np.random.Generator, count: int) -> list[tuple[float, float]]:
    height, width = grid.extent
    return [(rng.uniform(0.05, 0.95) * height, rng.uniform(0.05, 0.95) * width) for _ in range(count)]


def _stain(rng: np.random.Generator, base: np.ndarray, strength: float) -> np.ndarray:
    return base * strength * rng.uniform(0.85, 1.15)


def _round(density, grid, rng, stain_scale):
    for centre in _cell_centres(grid, rng, int(rng.integers(5, 11))):
        radius = rng.uniform(0.05, 0.075)
        r = ellipse_radius(grid, centre, (radius, radius * rng.uniform(0.9, 1.0)), rng.uniform(0, np.pi))
        cell = soft_inside(r - 1.0, grid.pixel / radius)
        nucleus = soft_inside(r - 0.7, grid.pixel / radius)
        density += cell[..., None] * _stain(rng, _HAEMATOXYLIN, 0.25 * stain_scale)
        density += nucleus[..., None] * _stain(rng, _HAEMATOXYLIN, 0.6 * stain_scale)
    return density


def _elongated(density, grid, rng, stain_scale):
    for centre in _cell_centres(grid, rng, int(rng.integers(4, 9))):
        length = rng.uniform(0.12, 0.2)
        axes = (length, length / rng.uniform(3.0, 5.0))
        angle = rng.uniform(0, np.pi)
        r = ellipse_radius(grid, centre, axes, angle)
        cell = soft_inside(r - 1.0, grid.pixel / axes[1])
        nucleus = soft_inside(ellipse_radius(grid, centre, (axes[0] * 0.35, axes[1] * 0.45), angle) - 1.0, 0.3)
        density += cell[..., None] * _stain(rng, _EOSIN, 0.45 * stain_scale)
        density += nucleus[..., None] * _stain(rng, _HAEMATOXYLIN, 0.5 * stain_scale)
    return density


def _clustered(density, grid, rng, stain_scale):
    for cluster in _cell_centres(grid, rng, int(rng.integers(1, 4))):
        spread = rng.uniform(0.07, 0.12)
        outline = ellipse_radius(grid, cluster, (spread * 1.3, spread * 1.1), rng.uniform(0, np.pi))
        background = soft_inside(outline - 1.0, 0.2)
        density += background[..., None] * _stain(rng, _EOSIN, 0.25 * stain_scale)
        for _ in range(int(rng.integers(8, 16))):
            offset = rng.normal(0.0, spread * 0.55, 2)
            centre = (cluster[0] + offset[0], cluster[1] + offset[1])
            radius = rng.uniform(0.018, 0.028)
            nucleus = soft_inside(np.hypot(grid.y - centre[0], grid.x - centre[1]) / radius - 1.0, grid.pixel / radius)
            density += nucleus[..., None] * _stain(rng, _HAEMATOXYLIN, 0.55 * stain_scale)
    return density


def _irregular(density, grid, rng, stain_scale):
    for centre in _cell_centres(grid, rng, int(rng.integers(3, 7))):
        radius = rng.uniform(0.06, 0.1)
        r = blob_radius(grid, centre, radius, rng.uniform(0.1, 0.25, 3), rng.uniform(0, 2 * np.pi, 3))
        cell = soft_inside(r - 1.0, grid.pixel / radius)
        shift = rng.uniform(-0.3, 0.3, 2) * radius
        nucleus_centre = (centre[0] + shift[0], centre[1] + shift[1])
        nucleus_r = ellipse_radius(grid, nucleus_centre, (0.35 * radius, 0.28 * radius), rng.uniform(0, np.pi))
        nucleus = soft_inside(nucleus_r - 1.0, 0.3)
        density += cell[..., None] * _stain(rng, _DAB, 0.45 * stain_scale)
        density += nucleus[..., None] * _stain(rng, _HAEMATOXYLIN, 0.45 * stain_scale)
    return density


_APPEARANCES = (_round, _elongated, _clustered, _irregular)
