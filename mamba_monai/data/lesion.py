"""Datalists for 2D binary lesion segmentation (dermoscopy: ISIC 2017/2018; polyps: Kvasir-SEG), checked up front and
split into training / search / validation / testing, as SliceMamba's supernet -> search -> retrain workflow needs.

Images are found with a glob pattern and each image's mask with a name pattern, both relative to the data root:

- ISIC (default): ``images/*.jpg`` and ``masks/{stem}_segmentation.png`` (``ISIC_0000000.jpg`` ->
  ``ISIC_0000000_segmentation.png``; for the official folders pass e.g.
  ``image_pattern="ISIC2018_Task1-2_Training_Input/*.jpg"``,
  ``mask_pattern="ISIC2018_Task1_Training_GroundTruth/{stem}_segmentation.png"``);
- Kvasir-SEG: ``images/*.jpg`` and ``masks/{stem}.jpg`` (same name).

``{stem}`` is the image file name without its extension, ``{name}`` the full file name. The JSON looks like::

    {"name": "lesion", "labels": {"0": "background", "1": "lesion"},
     "training": [{"image": "images/ISIC_0000000.jpg", "label": "masks/ISIC_0000000_segmentation.png"}, ...],
     "search": [...], "validation": [...], "testing": [...]}

with paths relative to the JSON's folder; read it with ``monai.data.load_decathlon_datalist(path, data_list_key=...)``.
Masks hold 0 / 255 or 0 / 1; JPEG masks (Kvasir-SEG's) are near 0 / 255 because of the compression, so the training
transforms must threshold masks (e.g. ``ScaleIntensityd`` then ``AsDiscreted(threshold=0.5)``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mamba_monai.data.image_io import read_image_2d, read_image_2d_info
from mamba_monai.data.splits import split_indices
from mamba_monai.data.synthetic.dermoscopy import write_synthetic_dermoscopy
from mamba_monai.data.synthetic.staging import check_not_interrupted, write_staged
from mamba_monai.utils.atomic_files import write_json_atomically
from mamba_monai.utils.options import as_bool, as_optional

__all__ = ["LESION_LAYOUTS", "LESION_SPLITS", "ensure_lesion_datalist", "find_lesion_pairs", "make_lesion_datalist"]

logger = logging.getLogger(__name__)

#: default (image glob, mask name pattern) per layout, relative to the data root
LESION_LAYOUTS: dict[str, tuple[str, str]] = {
    "isic": ("images/*.jpg", "masks/{stem}_segmentation.png"),
    "kvasir": ("images/*.jpg", "masks/{stem}.jpg"),
}
#: the keys of the splits, in the order of ``fractions``
LESION_SPLITS: tuple[str, ...] = ("training", "search", "validation", "testing")
_LOSSY_FORMATS = ("JPEG",)
_MAX_LISTED = 10


def _patterns(layout: str, image_pattern: str | None, mask_pattern: str | None) -> tuple[str, str]:
    if layout not in LESION_LAYOUTS:
        raise ValueError(f"unknown lesion data layout {layout!r}: use one of {sorted(LESION_LAYOUTS)}")
    default_image, default_mask = LESION_LAYOUTS[layout]
    image_pattern = image_pattern or default_image
    mask_pattern = mask_pattern or default_mask
    if "{stem}" not in mask_pattern and "{name}" not in mask_pattern:
        raise ValueError(f"mask_pattern {mask_pattern!r} must contain {{stem}} or {{name}} (the image's name)")
    return image_pattern, mask_pattern


def _mask_problem(path: Path, lossy_tolerance: float) -> str | None:
    """Why a mask is not binary, or None."""
    pixels, info = read_image_2d(path)
    if pixels.shape[-1] in (2, 4):  # drop alpha
        pixels = pixels[..., :-1]
    values = pixels.max(axis=-1)
    found = np.unique(values)
    if info.format in _LOSSY_FORMATS:  # compression leaves values near 0 and 255
        far = np.mean((values > 32) & (values < 223))
        if far <= lossy_tolerance:
            return None
        return (
            f"mask '{path}' ({info.format}) is not near-binary: {100 * far:.1f} % of its pixels lie between 32 and "
            f"223 (at most {100 * lossy_tolerance:.1f} % allowed); values found: {_values_text(found)}"
        )
    if set(found.tolist()) <= {0, 255} or set(found.tolist()) <= {0, 1}:
        return None
    return f"mask '{path}' holds values {_values_text(found)}, expected only 0 and 255 (or 0 and 1)"


def _values_text(found: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in found[:_MAX_LISTED].tolist())
    return f"[{shown}{', ...' if len(found) > _MAX_LISTED else ''}] ({len(found)} distinct)"


def find_lesion_pairs(
    root: str | os.PathLike,
    image_pattern: str | None = None,
    mask_pattern: str | None = None,
    layout: str = "isic",
    check_masks: bool = True,
    lossy_mask_tolerance: float = 0.05,
) -> list[tuple[Path, Path]]:
    """Find and check the (image, mask) pairs under ``root``, sorted by image path.

    Args:
        root: the data root.
        image_pattern: glob of the images relative to ``root`` (default: the layout's).
        mask_pattern: path of an image's mask relative to ``root``, with ``{stem}`` / ``{name}`` (default: the
            layout's).
        layout: ``"isic"`` or ``"kvasir"``: the default patterns.
        check_masks: read every mask and check that it is binary (headers are always checked).
        lossy_mask_tolerance: largest fraction of pixels of a JPEG mask allowed between 32 and 223.

    Raises:
        ValueError: no image found; an image without a mask; an image or a mask that does not open; an image and its
            mask of different sizes; a mask that is not binary (the values found are listed). Every problem is
            listed (up to 10), each naming its file.
    """
    root = Path(root)
    image_pattern, mask_pattern = _patterns(layout, image_pattern, mask_pattern)
    if not root.is_dir():
        raise ValueError(f"lesion data root '{root}' is not a folder")
    images = sorted(p for p in root.glob(image_pattern) if p.is_file() and not p.name.startswith("."))
    if not images:
        raise ValueError(f"no images matching '{image_pattern}' under '{root}' (layout {layout!r})")
    pairs, problems = [], []
    for image in images:
        mask = root / mask_pattern.format(stem=image.stem, name=image.name)
        if not mask.is_file():
            problems.append(f"image '{image}' has no mask: expected '{mask}'")
            continue
        try:
            image_info, mask_info = read_image_2d_info(image), read_image_2d_info(mask)
            read_image_2d(image)  # decoded once, when the datalist is made: truncated files show only here
        except ValueError as error:
            problems.append(str(error))
            continue
        if (image_info.height, image_info.width) != (mask_info.height, mask_info.width):
            problems.append(
                f"image '{image}' is {image_info.height} x {image_info.width} (H x W) but its mask '{mask}' is "
                f"{mask_info.height} x {mask_info.width}"
            )
            continue
        if check_masks:
            problem = _mask_problem(mask, lossy_mask_tolerance)
            if problem is not None:
                problems.append(problem)
                continue
        pairs.append((image, mask))
    if problems:
        more = f"\n... and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise ValueError(
            f"{len(problems)} problem(s) in the lesion data under '{root}':\n"
            + "\n".join(problems[:_MAX_LISTED])
            + more
        )
    return pairs


def make_lesion_datalist(
    root: str | os.PathLike,
    output_json: str | os.PathLike,
    image_pattern: str | None = None,
    mask_pattern: str | None = None,
    fractions: Sequence[float] = (0.6, 0.1, 0.1, 0.2),
    seed: int = 0,
    layout: str = "isic",
    check_masks: bool = True,
    relative: bool = True,
) -> dict:
    """Check a lesion segmentation data set, split it (seeded) and write its datalist JSON atomically.

    Args:
        root: the data root.
        output_json: where to write the JSON (its folder is created if needed).
        image_pattern: glob of the images relative to ``root`` (default: the layout's, see :data:`LESION_LAYOUTS`).
        mask_pattern: path of an image's mask relative to ``root`` with ``{stem}`` / ``{name}``.
        fractions: proportions of ``training`` (supernet and retraining), ``search`` (the architecture search's
            fitness), ``validation`` and ``testing``; non-negative, adding up to 1, some training.
        seed: seed of the split.
        layout: ``"isic"`` or ``"kvasir"`` (default patterns).
        check_masks: read every mask to check that it is binary.
        relative: paths relative to the JSON's folder (portable); absolute otherwise.

    Returns:
        the datalist that was written.

    Raises:
        ValueError: bad fractions, or any problem found by :func:`find_lesion_pairs` (nothing is written then).
    """
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != len(LESION_SPLITS) or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6 or not fractions[0]:
        raise ValueError(
            f"make_lesion_datalist: fractions must be ({', '.join(LESION_SPLITS)}), non-negative, adding up to 1, "
            f"with some training; got {fractions}"
        )
    output_json = Path(output_json).absolute()
    pairs = find_lesion_pairs(root, image_pattern, mask_pattern, layout, check_masks)

    def portable(path: Path) -> str:
        path = path.absolute()
        return Path(os.path.relpath(path, output_json.parent)).as_posix() if relative else str(path)

    datalist: dict = {"name": "lesion", "layout": layout, "labels": {"0": "background", "1": "lesion"}}
    for key, indices in zip(LESION_SPLITS, split_indices(len(pairs), fractions, seed=seed)):
        datalist[key] = [{"image": portable(pairs[i][0]), "label": portable(pairs[i][1])} for i in indices]
    write_json_atomically(output_json, datalist)
    return datalist


def ensure_lesion_datalist(
    dataset_dir: str | os.PathLike,
    datalist_path: str | os.PathLike,
    synthetic_if_empty: bool = False,
    layout: str = "isic",
    image_pattern: str | None = None,
    mask_pattern: str | None = None,
    fractions: Sequence[float] = (0.6, 0.1, 0.1, 0.2),
    seed: int = 0,
    n_images: int = 40,
    size: Sequence[int] = (128, 128),
) -> str:
    """Return ``datalist_path``, writing it first if it does not exist.

    An existing datalist is used as it is. Otherwise the data under ``dataset_dir`` are checked and split by
    :func:`make_lesion_datalist`. When ``dataset_dir`` holds no image matching the pattern and
    ``synthetic_if_empty`` is set, a SYNTHETIC dermoscopy-like set is written there first (with a warning saying so;
    see :func:`mamba_monai.data.synthetic.dermoscopy.write_synthetic_dermoscopy`).

    Args:
        dataset_dir: the data root.
        datalist_path: the datalist JSON to use or write.
        synthetic_if_empty: write synthetic demo data when ``dataset_dir`` is missing or holds no image.
        layout: ``"isic"`` or ``"kvasir"`` (file layout of the data and of the synthetic data).
        image_pattern: glob of the images (default: the layout's).
        mask_pattern: mask name pattern (default: the layout's).
        fractions: proportions of training, search, validation and testing.
        seed: seed of the split and of the synthetic data.
        n_images: number of synthetic images.
        size: (H, W) of the synthetic images.
    """
    synthetic_if_empty = as_bool(synthetic_if_empty, "synthetic_if_empty")
    image_pattern, mask_pattern = as_optional(image_pattern, "image_pattern"), as_optional(mask_pattern, "mask_pattern")
    datalist_path = Path(datalist_path)
    if datalist_path.is_file():
        return str(datalist_path)
    dataset_dir = Path(dataset_dir)
    check_not_interrupted(dataset_dir)
    pattern, _ = _patterns(layout, image_pattern, mask_pattern)
    empty = not dataset_dir.is_dir() or not any(p.is_file() for p in dataset_dir.glob(pattern))
    if empty:
        if not synthetic_if_empty:
            raise ValueError(
                f"no datalist at '{datalist_path}' and no images matching '{pattern}' under '{dataset_dir}'"
            )
        if image_pattern is not None or mask_pattern is not None:
            raise ValueError(
                f"no images matching '{pattern}' under '{dataset_dir}': synthetic data are written in the {layout!r} "
                "layout's default names, so leave image_pattern and mask_pattern unset to use them"
            )
        logger.warning(
            "No lesion images under %s: writing %d SYNTHETIC dermoscopy-like images of size %s there (not real "
            "patients).",
            dataset_dir,
            n_images,
            tuple(size),
        )
        write_staged(
            dataset_dir, write_synthetic_dermoscopy, n_images=n_images, size=tuple(size), seed=seed, layout=layout
        )
    make_lesion_datalist(dataset_dir, datalist_path, image_pattern, mask_pattern, fractions, seed, layout)
    logger.info("wrote datalist %s", datalist_path)
    return str(datalist_path)
