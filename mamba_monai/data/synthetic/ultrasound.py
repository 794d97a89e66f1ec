"""Synthetic fetal-ultrasound-like plane classification set, written as class folders of PNGs plus a labels CSV.

The images are synthetic (no patient data can be downloaded here); they follow the look of B-mode fetal ultrasound
closely enough to exercise a real pipeline, and each class has its own anatomy-like content, so the task is
learnable:

===================  ==================================================================================
appearance           content (inside amniotic fluid, except the last two)
===================  ==================================================================================
``fetal_abdomen``    round body with a thin wall, a black stomach bubble and bright spine dots
``fetal_brain``      oval head with a thick bright skull, a midline echo and a dark cavum septi
``fetal_femur``      a bright straight bone in soft tissue, casting an acoustic shadow
``fetal_thorax``     round chest with rib echoes and a dark four-chamber heart crossed by its septa
``maternal_cervix``  a tilted echogenic band with a dark canal, under a dark bladder
``other``            scattered irregular structures of random brightness
===================  ==================================================================================

Every image is a fan-shaped sector on black, with depth attenuation, multiplicative speckle, a smooth tissue
texture, and a random position, size and rotation of the content. Images are dealt round-robin to patients, each
with its own sector width and gain, so that patient-grouped splits are meaningful.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from mamba_monai.data.synthetic.image_folder import write_synthetic_class_set
from mamba_monai.data.synthetic.shapes_2d import (
    Grid2D,
    blob_radius,
    ellipse_radius,
    segment_distance,
    soft_band,
    soft_inside,
)

__all__ = ["ULTRASOUND_CLASSES", "synthesize_ultrasound_image", "write_synthetic_ultrasound"]

#: default class names, in the order of the appearances (as the planes of the FETAL_PLANES_DB data set)
ULTRASOUND_CLASSES: tuple[str, ...] = (
    "fetal_abdomen",
    "fetal_brain",
    "fetal_femur",
    "fetal_thorax",
    "maternal_cervix",
    "other",
)

_FLUID = 0.04  # echogenicity of amniotic fluid, blood, urine
_TISSUE = 0.3  # mean echogenicity of soft tissue


def write_synthetic_ultrasound(
    root: str | os.PathLike,
    n_per_class: int = 20,
    size: tuple[int, int] = (128, 128),
    classes: Sequence[str] = ULTRASOUND_CLASSES,
    seed: int = 0,
    n_patients: int | None = None,
) -> Path:
    """Write a synthetic ultrasound plane classification set under ``root``.

    Layout: ``root/<class>/<class>_<index>.png`` (8-bit grey PNG, ``size`` = (H, W)) and ``root/labels.csv`` with the
    columns ``Image_path,Plane,Patient`` (paths relative to ``root``). The ``i``-th class name gets the ``i``-th
    appearance of the table in the module docstring. The output is a deterministic function of the arguments: the
    same seed gives the same bytes, and an image does not depend on ``n_per_class``.

    Args:
        root: output folder (created if needed).
        n_per_class: images per class.
        size: (H, W) of the images, at least 8 x 8.
        classes: 2 to 6 class names (folder names), see :data:`ULTRASOUND_CLASSES`.
        seed: seed of the data set.
        n_patients: number of patients the images are dealt to (round-robin: the ``i``-th image of every class
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
        _patient_traits,
        lambda c, rng, traits: _render(_APPEARANCES[c], grid, rng, traits),
        "patient",
        "write_synthetic_ultrasound",
    )


def synthesize_ultrasound_image(appearance: int | str, size: tuple[int, int] = (128, 128), seed: int = 0) -> np.ndarray:
    """One synthetic ultrasound image as uint8 (H, W).

    Args:
        appearance: index or name of the appearance (see :data:`ULTRASOUND_CLASSES`).
        size: (H, W).
        seed: seed of the image (and of its patient's sector and gain).
    """
    index = ULTRASOUND_CLASSES.index(appearance) if isinstance(appearance, str) else int(appearance)
    if not 0 <= index < len(_APPEARANCES):
        raise ValueError(f"unknown ultrasound appearance {appearance!r}: use one of {ULTRASOUND_CLASSES}")
    rng = np.random.default_rng([seed, index])
    return _render(_APPEARANCES[index], Grid2D(size), rng, _patient_traits(seed, 0))


# ------------------------------------------------------------------------------------------------------- rendering


def _patient_traits(seed: int, patient: int) -> dict:
    rng = np.random.default_rng([seed, 7919, patient])
    return {"half_angle": math.radians(rng.uniform(32.0, 42.0)), "gain": rng.uniform(0.85, 1.15)}


def _render(draw, grid: Grid2D, rng: np.random.Generator, patient: dict) -> np.ndarray:
    height, width = grid.extent
    apex = (-0.04 * height, width / 2)
    depth = np.hypot(grid.y - apex[0], grid.x - apex[1])
    beam_angle = np.arctan2(grid.x - apex[1], grid.y - apex[0])  # 0 straight down
    texture = gaussian_filter(rng.standard_normal(grid.y.shape), sigma=0.025 / grid.pixel)
    echo = _TISSUE * (1.0 + 0.15 * texture / max(float(texture.std()), 1e-6))  # smooth tissue texture
    # the content sits in the middle of the sector, at a random place
    centre = (rng.uniform(0.42, 0.6) * height, width / 2 + rng.uniform(-0.1, 0.1) * width)
    scale = rng.uniform(0.85, 1.15)
    echo = draw(echo, grid, rng, centre, scale, apex)
    # speckle: Rayleigh amplitude with a grain of about 1/128 of the image (the point spread function); smaller
    # images average several grains per pixel, so their speckle contrast drops
    speckle = gaussian_filter(rng.rayleigh(1.0, grid.y.shape), sigma=0.6)
    speckle /= float(speckle.mean())
    speckle = 1.0 + (speckle - 1.0) * min(1.0, 1.0 / (128.0 * grid.pixel)) ** 0.5
    attenuation = np.exp(-0.9 * depth / height) * 1.6
    image = patient["gain"] * echo * speckle * attenuation
    edge = 1.5 * grid.pixel
    sector = soft_inside(np.abs(beam_angle) * depth - patient["half_angle"] * depth, edge)
    sector *= soft_inside(depth - 1.02 * height, edge) * soft_inside(0.12 * height - depth, edge)
    image = np.clip(image * sector * rng.uniform(0.9, 1.1), 0.0, 1.0)
    return np.round(image * 255.0).astype(np.uint8)


def _fluid_around(echo, grid, centre, axes, angle):
    fluid = soft_inside(ellipse_radius(grid, centre, axes, angle) - 1.0, 0.08)
    return echo * (1.0 - fluid) + _FLUID * fluid


def _abdomen(echo, grid, rng, centre, scale, apex):
    angle = rng.uniform(0, 2 * np.pi)
    radius = 0.24 * scale
    axes = (radius, radius * rng.uniform(0.88, 1.0))
    echo = _fluid_around(echo, grid, centre, (axes[0] * 1.45, axes[1] * 1.4), angle)
    r = ellipse_radius(grid, centre, axes, angle)
    inside = soft_inside(r - 1.0, grid.pixel / radius)
    echo = echo * (1 - inside) + 0.3 * inside
    echo = np.maximum(echo, 0.62 * soft_band(r - 1.0, 0.035, grid.pixel / radius))
    bubble_angle = rng.uniform(0, 2 * np.pi)
    bubble = (centre[0] + 0.38 * radius * np.sin(bubble_angle), centre[1] + 0.38 * radius * np.cos(bubble_angle))
    stomach = soft_inside(ellipse_radius(grid, bubble, (0.3 * radius, 0.18 * radius), rng.uniform(0, np.pi)) - 1, 0.2)
    echo = echo * (1 - stomach) + _FLUID * stomach
    for k in range(3):  # spine: bright dots on the far side from the stomach
        a = bubble_angle + np.pi + (k - 1) * 0.18
        dot = (centre[0] + 0.78 * radius * np.sin(a), centre[1] + 0.78 * radius * np.cos(a))
        echo = np.maximum(echo, 1.0 * _disc(grid, dot, 0.05 * radius))
    return echo


def _brain(echo, grid, rng, centre, scale, apex):
    angle = rng.uniform(0, 2 * np.pi)
    axes = (0.3 * scale, 0.23 * scale)
    echo = _fluid_around(echo, grid, centre, (axes[0] * 1.35, axes[1] * 1.45), angle)
    r = ellipse_radius(grid, centre, axes, angle)
    inside = soft_inside(r - 1.0, grid.pixel / axes[1])
    echo = echo * (1 - inside) + 0.16 * inside
    echo = np.maximum(echo, 1.0 * soft_band(r - 1.0, 0.07, grid.pixel / axes[1]))  # thick skull
    direction = (-np.sin(angle), np.cos(angle))  # the major axis, in (y, x)
    reach = 0.85 * axes[0]
    ends = [(centre[0] + s * reach * direction[0], centre[1] + s * reach * direction[1]) for s in (-1, 1)]
    echo = np.maximum(echo, 0.7 * soft_band(segment_distance(grid, ends[0], ends[1]), 0.6 * grid.pixel, grid.pixel))
    cavum_centre = (centre[0] - 0.3 * axes[0] * direction[0], centre[1] - 0.3 * axes[0] * direction[1])
    cavum = soft_inside(ellipse_radius(grid, cavum_centre, (0.12 * axes[0], 0.07 * axes[0]), angle) - 1.0, 0.3)
    return echo * (1 - cavum) + _FLUID * cavum


def _femur(echo, grid, rng, centre, scale, apex):
    angle = rng.uniform(-np.pi / 3, np.pi / 3)  # from horizontal
    half_length = 0.2 * scale
    direction = (-np.sin(angle), np.cos(angle))
    echo = _fluid_around(echo, grid, centre, (half_length * 1.9, half_length * 1.0), angle)
    thigh = soft_inside(ellipse_radius(grid, centre, (half_length * 1.45, half_length * 0.5), angle) - 1.0, 0.1)
    echo = echo * (1 - thigh) + _TISSUE * 1.1 * thigh
    start = (centre[0] - half_length * direction[0], centre[1] - half_length * direction[1])
    end = (centre[0] + half_length * direction[0], centre[1] + half_length * direction[1])
    # acoustic shadow: pixels whose beam from the apex crosses the bone
    shadow = _beyond_segment(grid, apex, start, end)
    echo = echo * (1.0 - 0.8 * shadow)
    return np.maximum(echo, 1.0 * soft_band(segment_distance(grid, start, end), 0.014 * scale, grid.pixel))


def _thorax(echo, grid, rng, centre, scale, apex):
    angle = rng.uniform(0, 2 * np.pi)
    radius = 0.23 * scale
    echo = _fluid_around(echo, grid, centre, (radius * 1.45, radius * 1.4), angle)
    r = ellipse_radius(grid, centre, (radius, radius * 0.95), angle)
    inside = soft_inside(r - 1.0, grid.pixel / radius)
    echo = echo * (1 - inside) + 0.6 * inside  # lungs: brighter than the abdomen
    echo = np.maximum(echo, 0.5 * soft_band(r - 1.0, 0.03, grid.pixel / radius))
    first_rib = rng.uniform(0, 2 * np.pi)
    for k in range(10):  # rib echoes around the chest wall
        a = first_rib + k * 2 * np.pi / 10
        rib = (centre[0] + radius * np.sin(a), centre[1] + radius * np.cos(a))
        echo = np.maximum(echo, 0.95 * _disc(grid, rib, 0.07 * radius))
    heart_angle = rng.uniform(0, 2 * np.pi)
    heart_centre = (centre[0] + 0.3 * radius * np.sin(heart_angle), centre[1] + 0.3 * radius * np.cos(heart_angle))
    heart_axes = (0.45 * radius, 0.38 * radius)
    heart = soft_inside(ellipse_radius(grid, heart_centre, heart_axes, heart_angle) - 1.0, 0.1)
    echo = echo * (1 - heart) + 0.06 * heart
    for cross in (heart_angle, heart_angle + np.pi / 2):  # septa of the four chambers
        d = (-np.sin(cross), np.cos(cross))
        a_end = (heart_centre[0] - 0.9 * heart_axes[1] * d[0], heart_centre[1] - 0.9 * heart_axes[1] * d[1])
        b_end = (heart_centre[0] + 0.9 * heart_axes[1] * d[0], heart_centre[1] + 0.9 * heart_axes[1] * d[1])
        echo = np.maximum(echo, 0.6 * soft_band(segment_distance(grid, a_end, b_end), 0.7 * grid.pixel, grid.pixel))
    return echo


def _cervix(echo, grid, rng, centre, scale, apex):
    angle = rng.uniform(-np.pi / 4, np.pi / 4)
    half_length = 0.3 * scale
    direction = (-np.sin(angle), np.cos(angle))
    start = (centre[0] - half_length * direction[0], centre[1] - half_length * direction[1])
    end = (centre[0] + half_length * direction[0], centre[1] + half_length * direction[1])
    distance = segment_distance(grid, start, end)
    band = soft_band(distance, 0.075 * scale, 2 * grid.pixel)
    echo = echo * (1 - band) + 0.62 * band
    canal = soft_band(distance, 0.6 * grid.pixel, grid.pixel)
    echo = echo * (1 - canal) + _FLUID * canal
    bladder_centre = (centre[0] - 0.28 * scale, centre[1] + rng.uniform(-0.1, 0.1))
    bladder = soft_inside(ellipse_radius(grid, bladder_centre, (0.22 * scale, 0.09 * scale), angle) - 1.0, 0.15)
    return echo * (1 - bladder) + _FLUID * bladder


def _other(echo, grid, rng, centre, scale, apex):
    for _ in range(int(rng.integers(3, 7))):
        blob_centre = (centre[0] + rng.uniform(-0.25, 0.25), centre[1] + rng.uniform(-0.25, 0.25))
        blob_size = rng.uniform(0.04, 0.12) * scale
        r = blob_radius(grid, blob_centre, blob_size, rng.uniform(0, 0.25, 3), rng.uniform(0, 6.3, 3))
        blob = soft_inside(r - 1.0, 0.15)
        echo = echo * (1 - blob) + rng.uniform(0.05, 0.85) * blob
    return echo


def _disc(grid: Grid2D, centre, radius: float) -> np.ndarray:
    return soft_inside(np.hypot(grid.y - centre[0], grid.x - centre[1]) - radius, grid.pixel)


def _beyond_segment(grid: Grid2D, apex, start, end) -> np.ndarray:
    """1 for pixels farther from ``apex`` than the segment, along a ray from ``apex`` that crosses it."""
    ay, ax = apex
    (sy, sx), (ey, ex) = start, end
    ry, rx = grid.y - ay, grid.x - ax
    dy, dx = ey - sy, ex - sx
    # solve apex + t * (ry, rx) = start + u * (dy, dx)
    det = rx * dy - ry * dx
    safe = np.where(np.abs(det) < 1e-12, 1e-12, det)
    t = ((sx - ax) * dy - (sy - ay) * dx) / safe
    u = ((sx - ax) * ry - (sy - ay) * rx) / safe
    return ((u >= 0) & (u <= 1) & (t > 0) & (t < 1)).astype(np.float64)


_APPEARANCES = (_abdomen, _brain, _femur, _thorax, _cervix, _other)
