"""Anti-aliased 2D shapes on a pixel grid, for the synthetic image data sets (ellipses, rings, segments, blobs).

Coordinates are in units of the image's shorter side (so shapes keep their proportions at any size); ``(y, x)`` is
``(row, column)``. Masks are float arrays in [0, 1] with a one-pixel soft edge, so that small images still show
smooth outlines.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Grid2D", "ellipse_radius", "soft_inside", "soft_band", "segment_distance", "blob_radius"]


class Grid2D:
    """Pixel-centre coordinates of an image of ``size`` (H, W), in units of ``min(H, W)``.

    Args:
        size: (H, W) of the image.

    Attributes:
        y, x: (H, W) arrays of row and column coordinates.
        pixel: the size of one pixel in these units (``1 / min(H, W)``).
        extent: (height, width) of the image in these units.
    """

    def __init__(self, size: tuple[int, int]) -> None:
        height, width = (int(s) for s in size)
        if height < 8 or width < 8:
            raise ValueError(f"image size must be at least 8 x 8, got {size}")
        scale = float(min(height, width))
        self.pixel = 1.0 / scale
        self.extent = (height / scale, width / scale)
        self.y, self.x = np.meshgrid((np.arange(height) + 0.5) / scale, (np.arange(width) + 0.5) / scale, indexing="ij")


def ellipse_radius(grid: Grid2D, centre: tuple[float, float], axes: tuple[float, float], angle: float) -> np.ndarray:
    """Normalised elliptic radius: 1 on the outline of the ellipse, < 1 inside.

    Args:
        grid: pixel coordinates.
        centre: (y, x) of the centre.
        axes: semi-axes (along the rotated x axis, along the rotated y axis).
        angle: rotation in radians (counter-clockwise as seen on screen).
    """
    dy, dx = grid.y - centre[0], grid.x - centre[1]
    cos, sin = np.cos(angle), np.sin(angle)
    u = dx * cos - dy * sin
    v = dx * sin + dy * cos
    return np.sqrt((u / axes[0]) ** 2 + (v / axes[1]) ** 2)


def soft_inside(distance: np.ndarray, edge: float) -> np.ndarray:
    """1 where ``distance < 0``, 0 where ``distance > 0``, a linear ramp of width ``edge`` across 0.

    Args:
        distance: signed distance to an outline (negative inside).
        edge: width of the ramp, in the units of ``distance``.
    """
    return np.clip(0.5 - distance / max(edge, 1e-9), 0.0, 1.0)


def soft_band(distance: np.ndarray, half_width: float, edge: float) -> np.ndarray:
    """1 where ``|distance| < half_width``, fading to 0 over ``edge``: a ring or a thick line.

    Args:
        distance: distance (or signed distance) to the centre line of the band.
        half_width: half the thickness of the band.
        edge: width of the soft edge.
    """
    return soft_inside(np.abs(distance) - half_width, edge)


def segment_distance(grid: Grid2D, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Distance of every pixel to the segment from ``start`` to ``end`` ((y, x) points).

    Args:
        grid: pixel coordinates.
        start: (y, x) of one end.
        end: (y, x) of the other end.
    """
    sy, sx = start
    ey, ex = end
    length2 = max((ey - sy) ** 2 + (ex - sx) ** 2, 1e-12)
    t = np.clip(((grid.y - sy) * (ey - sy) + (grid.x - sx) * (ex - sx)) / length2, 0.0, 1.0)
    return np.hypot(grid.y - (sy + t * (ey - sy)), grid.x - (sx + t * (ex - sx)))


def blob_radius(
    grid: Grid2D, centre: tuple[float, float], radius: float, harmonics: np.ndarray, phase: np.ndarray
) -> np.ndarray:
    """Normalised radius of an irregular blob: 1 on its outline, whose radius varies with the angle as
    ``radius * (1 + sum_k harmonics[k] * cos((k + 2) * theta + phase[k]))``.

    Args:
        grid: pixel coordinates.
        centre: (y, x) of the centre.
        radius: mean radius.
        harmonics: amplitudes of the angular harmonics 2, 3, ... (keep their sum below 1).
        phase: phases of the harmonics (radians).
    """
    dy, dx = grid.y - centre[0], grid.x - centre[1]
    theta = np.arctan2(dy, dx)
    outline = np.ones_like(theta)
    for k, (amplitude, offset) in enumerate(zip(harmonics, phase)):
        outline += amplitude * np.cos((k + 2) * theta + offset)
    return np.hypot(dy, dx) / (radius * np.maximum(outline, 0.2))
