"""One overlay PNG per evaluated 2D image: the image with the outlines of the true and the predicted lesion."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from PIL import Image
from scipy.ndimage import binary_erosion

from mamba_monai.data.transforms.source_name import source_file, source_stem
from mamba_monai.utils.atomic_files import write_bytes_atomically

__all__ = ["LesionOverlayWriter", "lesion_overlay"]


def _numpy(data: Any) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().float().numpy()
    return np.asarray(data, dtype=np.float32)


def _outline(mask: np.ndarray) -> np.ndarray:
    return mask & ~binary_erosion(mask, border_value=0)


def lesion_overlay(
    image: Any,
    label: Any | None,
    pred: Any,
    zoom: int = 1,
    label_colour: Sequence[int] = (0, 220, 0),
    pred_colour: Sequence[int] = (255, 40, 40),
    fill_alpha: float = 0.25,
) -> np.ndarray:
    """RGB uint8 picture of an image ``(C, H, W)`` (grey or RGB, any range: shown min-max scaled) with the predicted
    lesion ``(1, H, W)`` as a translucent fill and outline and the true lesion ``label`` as an outline (both where
    they coincide); masks are thresholded at 0.5. ``zoom`` enlarges small images (nearest neighbour) so the
    outlines stay thin."""
    picture = _numpy(image)
    if picture.ndim == 2:
        picture = picture[None]
    if picture.ndim != 3 or picture.shape[0] not in (1, 3):
        raise ValueError(f"lesion_overlay: image must be (1 or 3, H, W), got shape {picture.shape}")
    low, high = float(picture.min()), float(picture.max())
    picture = (picture - low) / (high - low) if high > low else np.zeros_like(picture)
    picture = np.repeat(picture, 3, axis=0) if picture.shape[0] == 1 else picture
    rgb = np.moveaxis(picture, 0, -1) * 255.0
    masks = []
    for name, mask in (("pred", pred), ("label", label)):
        if mask is None:
            masks.append(None)
            continue
        mask = _numpy(mask)
        mask = mask[0] if mask.ndim == 3 else mask
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"lesion_overlay: {name} has shape {mask.shape} but the image is {rgb.shape[:2]}")
        masks.append(mask > 0.5)
    if zoom > 1:
        rgb = rgb.repeat(zoom, axis=0).repeat(zoom, axis=1)
        masks = [None if m is None else m.repeat(zoom, axis=0).repeat(zoom, axis=1) for m in masks]
    predicted, truth = masks
    rgb[predicted] = (1 - fill_alpha) * rgb[predicted] + fill_alpha * np.asarray(pred_colour, dtype=np.float64)
    rgb[_outline(predicted)] = pred_colour
    if truth is not None:
        rgb[_outline(truth)] = label_colour
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


class LesionOverlayWriter:
    """Ignite handler for an evaluator of 2D binary segmentation: after every iteration, writes
    ``<output_dir>/<image stem><postfix>.png`` for each image (up to ``max_images`` per round): the network's input
    image with the predicted lesion filled and outlined in red and the true lesion outlined in green (see
    :func:`lesion_overlay`). Image, label and prediction come from ``engine.state.output`` (decollated items, as
    MONAI's evaluators make), so they are at the network's resolution. Files are written atomically.

    Example (``evaluate.json``, in ``validate#handlers``)::

        {"_target_": "mamba_monai.engines.handlers.lesion_overlay_writer.LesionOverlayWriter",
         "output_dir": "$@output_dir + '/overlays'", "max_images": 50}

    Args:
        output_dir: folder of the PNGs (created if needed).
        image_key: key of the image ``(C, H, W)``.
        label_key: key of the true mask ``(1, H, W)``; items without it are drawn without truth.
        pred_key: key of the predicted mask or probability map ``(1, H, W)``.
        max_images: at most this many PNGs per round (``None``: all).
        zoom: integer enlargement of the pictures.
        postfix: appended to the image's stem.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        max_images: int | None = None,
        zoom: int = 1,
        postfix: str = "_overlay",
    ) -> None:
        if max_images is not None and max_images < 0:
            raise ValueError(f"LesionOverlayWriter: max_images must be >= 0 or None, got {max_images}")
        if zoom < 1:
            raise ValueError(f"LesionOverlayWriter: zoom must be >= 1, got {zoom}")
        self.output_dir = Path(output_dir)
        self.image_key, self.label_key, self.pred_key = image_key, label_key, pred_key
        self.max_images = max_images
        self.zoom = int(zoom)
        self.postfix = postfix
        self._count = 0

    def attach(self, engine: Engine) -> None:
        """Register on ``engine`` (an evaluator).

        Args:
            engine: the evaluator.
        """
        engine.add_event_handler(Events.EPOCH_STARTED, self._reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def _reset(self, engine: Engine) -> None:
        self._count = 0

    def __call__(self, engine: Engine) -> None:
        output = engine.state.output
        for item in output if isinstance(output, (list, tuple)) else [output]:
            if self.max_images is not None and self._count >= self.max_images:
                return
            if not isinstance(item, Mapping) or self.image_key not in item or self.pred_key not in item:
                raise ValueError(
                    f"LesionOverlayWriter: engine.state.output items must be dicts with '{self.image_key}' and "
                    f"'{self.pred_key}' (decollated outputs of a MONAI evaluator)"
                )
            image = item[self.image_key]
            stem = source_stem(source_file(image), f"image_{self._count:05d}")
            picture = lesion_overlay(image, item.get(self.label_key), item[self.pred_key], zoom=self.zoom)
            buffer = io.BytesIO()
            Image.fromarray(picture, mode="RGB").save(buffer, format="PNG")
            write_bytes_atomically(self.output_dir / f"{stem}{self.postfix}.png", buffer.getvalue())
            self._count += 1
