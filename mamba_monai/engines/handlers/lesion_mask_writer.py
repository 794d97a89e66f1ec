"""Write each predicted 2D lesion mask as a PNG at the size of the image it was predicted from."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from PIL import Image

from mamba_monai.data.transforms.source_name import source_file, source_stem
from mamba_monai.utils.atomic_files import write_bytes_atomically

__all__ = ["LesionMaskWriter"]


class LesionMaskWriter:
    """Ignite handler for an inference evaluator: after every iteration, writes one binary mask PNG per image,
    ``<output_dir>/<image stem><postfix>.png`` (8-bit grey, 0 background, 255 lesion), at the image's ORIGINAL size.

    Networks run on resized images (e.g. 256 x 256); this handler reads the lesion probability map of each item
    (``prob_key``, shape ``(1, h, w)`` or ``(h, w)``, values in [0, 1]), resizes it bilinearly to the original
    ``(H, W)`` recorded by the loader in the image's meta data (``spatial_shape``, as
    :class:`~mamba_monai.data.transforms.LoadImage2Dd` writes it; without it the map is written as it is) and
    thresholds it. Resizing the probabilities before thresholding gives smoother outlines than resizing a binary
    mask. The name comes from the image's ``filename_or_obj`` (``ISIC_0000000.jpg`` -> ``ISIC_0000000_mask.png``);
    two inputs with the same stem in one run are an error rather than a silent overwrite. Files are written
    atomically.

    Example (``inference.json``, with ``CopyItemsd(keys="pred", names="prob")`` after the sigmoid)::

        {"_target_": "mamba_monai.engines.handlers.lesion_mask_writer.LesionMaskWriter",
         "output_dir": "@output_dir", "prob_key": "prob"}

    Args:
        output_dir: folder of the PNGs (created if needed).
        prob_key: key of the lesion probability map in each output item.
        image_key: key of the image whose meta data hold ``filename_or_obj`` and ``spatial_shape``.
        threshold: probability above which a pixel is lesion.
        postfix: appended to the image's stem.
        resize_to_original: resize to the original size (else keep the network's size).

    Attributes:
        written: paths written so far (in order).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        prob_key: str = "prob",
        image_key: str = "image",
        threshold: float = 0.5,
        postfix: str = "_mask",
        resize_to_original: bool = True,
    ) -> None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"LesionMaskWriter: threshold must be in [0, 1], got {threshold!r}")
        if os.sep in postfix or (os.altsep and os.altsep in postfix):
            raise ValueError(f"LesionMaskWriter: postfix must not contain a path separator, got {postfix!r}")
        self.output_dir = Path(output_dir)
        self.prob_key = prob_key
        self.image_key = image_key
        self.threshold = float(threshold)
        self.postfix = postfix
        self.resize_to_original = bool(resize_to_original)
        self.written: list[Path] = []
        self._sources: dict[Path, str] = {}

    def attach(self, engine: Engine) -> None:
        """Write the masks of every iteration of ``engine``.

        Args:
            engine: the inference evaluator.
        """
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        output = engine.state.output
        items = output if isinstance(output, (list, tuple)) else [output]
        for item in items:
            if not isinstance(item, Mapping) or self.prob_key not in item:
                raise ValueError(
                    f"LesionMaskWriter: engine.state.output items must be dicts with '{self.prob_key}' (decollated "
                    f"outputs of a MONAI evaluator); got {type(item).__name__}"
                )
            self.write(item[self.prob_key], item.get(self.image_key), default_name=f"image_{len(self.written):05d}")

    def write(self, prob: Any, image: Any = None, default_name: str = "image") -> Path:
        """Write one mask from its probability map; ``image`` (a MetaTensor) gives the name and original size."""
        meta = getattr(image, "meta", None) or {}
        source = source_file(image)
        stem = source_stem(source, default_name)
        prob = torch.as_tensor(np.asarray(prob.detach().cpu() if isinstance(prob, torch.Tensor) else prob))
        if prob.dim() == 3:
            if prob.shape[0] != 1:
                raise ValueError(
                    f"LesionMaskWriter: '{self.prob_key}' of {stem} must have 1 channel (binary lesion map), got shape "
                    f"{tuple(prob.shape)}"
                )
            prob = prob[0]
        if prob.dim() != 2:
            raise ValueError(
                f"LesionMaskWriter: '{self.prob_key}' of {stem} must be (1, H, W) or (H, W), got shape "
                f"{tuple(prob.shape)}"
            )
        size = meta.get("spatial_shape")
        if self.resize_to_original and size is not None:
            size = tuple(int(s) for s in np.asarray(size).reshape(-1)[:2])
            if size != tuple(prob.shape):
                prob = torch.nn.functional.interpolate(
                    prob[None, None].float(), size=size, mode="bilinear", align_corners=False
                )[0, 0]
        mask = (prob.float() > self.threshold).numpy().astype(np.uint8) * 255
        path = self.output_dir / f"{stem}{self.postfix}.png"
        previous = self._sources.get(path)
        if previous is not None and previous != str(source):
            raise ValueError(
                f"LesionMaskWriter: '{source}' and '{previous}' would both be written to '{path}' (same file name "
                "stem); rename one of them or run them separately"
            )
        buffer = io.BytesIO()
        Image.fromarray(mask, mode="L").save(buffer, format="PNG")
        write_bytes_atomically(path, buffer.getvalue())
        self._sources[path] = str(source)
        self.written.append(path)
        return path
