"""Synthetic dermoscopy-like lesion segmentation set (RGB JPEG images + binary masks) in the ISIC or Kvasir-SEG layout.

The images are synthetic (no patient data can be downloaded here); they have what makes dermoscopy segmentation
non-trivial, while staying learnable:

- skin of a random tone with a smooth blotchy texture and fine grain;
- one irregular pigmented lesion (angular harmonics of the outline), darker and browner than the skin, with darker
  globules inside and a fuzzy border whose width varies from image to image; the mask is the lesion's outline (where
  the pigment has faded to half), so a lesion and its mask always agree;
- dark hairs crossing the image, lesion included (hairs are not lesion);
- vignetting, and in some images the black circular frame of a contact dermoscope.

Layouts: ``"isic"`` writes ``images/ISIC_0000000.jpg`` and ``masks/ISIC_0000000_segmentation.png`` (8-bit grey,
0 / 255), as ISIC 2017/2018 Task 1; ``"kvasir"`` writes ``images/synthetic_0000.jpg`` and
``masks/synthetic_0000.jpg`` (the same name), as Kvasir-SEG, whose masks are JPEG too (so their values are near, but
not exactly, 0 and 255: read them with a threshold).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from mamba_monai.data.synthetic.shapes_2d import Grid2D, blob_radius, segment_distance, soft_band, soft_inside

__all__ = ["DERMOSCOPY_LAYOUTS", "synthesize_dermoscopy_image", "write_synthetic_dermoscopy"]

#: per layout: (image path, mask path) of item ``i``, relative to the root
DERMOSCOPY_LAYOUTS: dict[str, tuple[str, str]] = {
    "isic": ("images/ISIC_{index:07d}.jpg", "masks/ISIC_{index:07d}_segmentation.png"),
    "kvasir": ("images/synthetic_{index:04d}.jpg", "masks/synthetic_{index:04d}.jpg"),
}
_JPEG_QUALITY = 92


def synthesize_dermoscopy_image(size: tuple[int, int] = (128, 128), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic dermoscopy image and its lesion mask.

    Args:
        size: (H, W), at least 8 x 8.
        seed: seed of the image.

    Returns:
        ``(image, mask)``: uint8 RGB (H, W, 3) and bool (H, W).
    """
    grid = Grid2D(size)
    rng = np.random.default_rng(seed)
    height, width = grid.extent
    shape = grid.y.shape

    # skin: tone, blotches, grain
    tone = np.array([0.86, 0.66, 0.56]) * rng.uniform(0.85, 1.05) + rng.normal(0, 0.02, 3)
    blotches = gaussian_filter(rng.normal(size=shape), sigma=max(shape) / 12, mode="wrap")
    blotches /= blotches.std() + 1e-9
    grain = gaussian_filter(rng.normal(size=shape), sigma=0.7)
    image = tone[None, None, :] * (1 + 0.04 * blotches[..., None] + 0.02 * grain[..., None])

    # lesion: irregular outline, fuzzy border, pigment network and globules
    centre = (height * rng.uniform(0.35, 0.65), width * rng.uniform(0.35, 0.65))
    radius = rng.uniform(0.16, 0.3)
    n_harmonics = 4
    harmonics = rng.uniform(0.0, 0.12, n_harmonics) / (1 + np.arange(n_harmonics))
    phase = rng.uniform(0, 2 * np.pi, n_harmonics)
    r = blob_radius(grid, centre, radius, harmonics, phase)
    mask = r < 1.0
    border = rng.uniform(0.06, 0.18)  # width of the fuzzy border, relative to the radius
    pigment = soft_inside(r - 1.0, border)
    texture = gaussian_filter(rng.normal(size=shape), sigma=max(2.0, max(shape) / 40))
    texture /= texture.std() + 1e-9
    pigment = np.clip(pigment * (1 + 0.12 * texture), 0, 1)
    colour = np.array([0.42, 0.25, 0.16]) * rng.uniform(0.7, 1.1)
    image = image * (1 - pigment[..., None]) + colour[None, None, :] * pigment[..., None]
    for _ in range(rng.integers(2, 6)):  # darker globules inside the lesion
        angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.6) * radius
        spot = (centre[0] + distance * np.sin(angle), centre[1] + distance * np.cos(angle))
        spot_r = np.hypot(grid.y - spot[0], grid.x - spot[1]) / (radius * rng.uniform(0.08, 0.2))
        image *= 1 - 0.35 * (soft_inside(spot_r - 1.0, 0.5) * pigment)[..., None]

    # hairs: thin dark polylines
    for _ in range(rng.integers(0, 5)):
        points = [(rng.uniform(0, height), rng.uniform(0, width))]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(3):
            heading += rng.normal(0, 0.3)
            step = rng.uniform(0.15, 0.35)
            points.append((points[-1][0] + step * np.sin(heading), points[-1][1] + step * np.cos(heading)))
        thickness = grid.pixel * rng.uniform(0.4, 0.9)
        hair = np.zeros(shape)
        for start, end in zip(points, points[1:]):
            hair = np.maximum(hair, soft_band(segment_distance(grid, start, end), thickness, grid.pixel))
        image = image * (1 - 0.7 * hair[..., None]) + 0.08 * 0.7 * hair[..., None]

    # vignetting and, sometimes, the dermoscope's black frame
    dy, dx = grid.y - height / 2, grid.x - width / 2
    rho = np.hypot(dy, dx) / np.hypot(height / 2, width / 2)
    image *= (1 - rng.uniform(0.1, 0.3) * rho**2)[..., None]
    if rng.random() < 0.3:
        frame = soft_inside(np.hypot(dy, dx) - 0.5 * rng.uniform(1.02, 1.2) * min(height, width), grid.pixel * 2)
        image *= frame[..., None]
        mask &= frame > 0.5
    image = np.clip(image + rng.normal(0, 0.01, image.shape), 0, 1)
    return (image * 255 + 0.5).astype(np.uint8), mask


def write_synthetic_dermoscopy(
    root: str | os.PathLike,
    n_images: int = 40,
    size: tuple[int, int] = (128, 128),
    seed: int = 0,
    layout: str = "isic",
) -> Path:
    """Write a synthetic dermoscopy lesion segmentation set under ``root`` (see the module docstring).

    The output is a deterministic function of the arguments (an image does not depend on ``n_images``).

    Args:
        root: output folder (``images/`` and ``masks/`` are created in it).
        n_images: number of images.
        size: (H, W) of the images, at least 8 x 8.
        seed: seed of the data set.
        layout: ``"isic"`` (``ISIC_0000000.jpg`` + ``ISIC_0000000_segmentation.png``) or ``"kvasir"`` (images and
            JPEG masks of the same name).

    Returns:
        the root folder.
    """
    if layout not in DERMOSCOPY_LAYOUTS:
        raise ValueError(
            f"write_synthetic_dermoscopy: layout must be one of {sorted(DERMOSCOPY_LAYOUTS)}, got {layout!r}"
        )
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"write_synthetic_dermoscopy: n_images must be an integer >= 1, got {n_images!r}")
    root = Path(root)
    image_name, mask_name = DERMOSCOPY_LAYOUTS[layout]
    for index in range(int(n_images)):
        image_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
        pixels, mask = synthesize_dermoscopy_image(tuple(size), seed=image_seed)
        image_path = root / image_name.format(index=index)
        mask_path = root / mask_name.format(index=index)
        image_path.parent.mkdir(parents=True, exist_ok=True)
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, mode="RGB").save(image_path, format="JPEG", quality=_JPEG_QUALITY)
        mask_pixels = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
        if mask_path.suffix.lower() == ".png":
            mask_pixels.save(mask_path, format="PNG", compress_level=6)
        else:
            mask_pixels.save(mask_path, format="JPEG", quality=_JPEG_QUALITY)
    return root
