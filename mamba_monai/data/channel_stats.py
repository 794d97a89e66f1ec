"""Per-channel mean and standard deviation of a classification training split (Microscopic-Mamba's normalisation)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mamba_monai.utils.atomic_files import write_json_atomically

__all__ = ["channel_statistics", "ensure_dataset_stats"]


def channel_statistics(items: Sequence[dict], load: Callable[[str], np.ndarray]) -> dict[str, list[float]]:
    """Mean and (population) standard deviation per channel over every pixel of every image.

    Args:
        items: datalist entries with an ``"image"`` path.
        load: reads one image as a channel-first array (e.g. ``mamba_monai.data.transforms.LoadImage2D``).

    Raises:
        ValueError: no images, or images with different channel counts (the message names the file).
    """
    if not items:
        raise ValueError("no training images to compute channel statistics from")
    sums = sums_sq = None
    count = 0.0
    for item in items:
        image = np.asarray(load(item["image"]), dtype=np.float64)
        channel_sum, channel_sum_sq = image.sum(axis=(1, 2)), (image * image).sum(axis=(1, 2))
        if sums is None:
            sums, sums_sq = channel_sum, channel_sum_sq
        elif channel_sum.shape != sums.shape:
            raise ValueError(f"'{item['image']}' has {image.shape[0]} channels, earlier images {sums.shape[0]}")
        else:
            sums, sums_sq = sums + channel_sum, sums_sq + channel_sum_sq
        count += float(image[0].size)
    mean = sums / count
    std = np.sqrt(np.maximum(sums_sq / count - mean**2, 0.0))
    return {"mean": mean.tolist(), "std": std.tolist()}


def ensure_dataset_stats(
    path: str | os.PathLike,
    items: Sequence[dict],
    load: Callable[[str], np.ndarray],
    class_names: Sequence[str],
    datalist_file: str | os.PathLike | None = None,
    recompute: bool = False,
) -> dict:
    """The statistics stored at ``path``; computed from ``items`` and written (atomically) when absent.

    Args:
        path: the JSON file (``models/dataset_stats.json`` in the bundle).
        items: the training split.
        load: reads one image as a channel-first array scaled as the bundle scales it.
        class_names: stored beside the statistics.
        datalist_file: recorded as the source of the split.
        recompute: compute and write even when the file exists.
    """
    path = Path(path)
    if path.is_file() and not recompute:
        try:
            stats = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"'{path}' is not readable JSON ({error}); delete it to compute it again") from None
        if not isinstance(stats, dict) or not {"mean", "std"} <= set(stats):
            raise ValueError(f"'{path}' must be a JSON object with 'mean' and 'std'; delete it to compute it again")
        return stats
    print(f"computing the per-channel mean/std of the {len(items)} training images -> {path.resolve()}")
    stats = {
        **channel_statistics(items, load),
        "classes": list(class_names),
        "num_images": len(items),
        "datalist": None if datalist_file is None else str(Path(datalist_file).resolve()),
        "split": "training",
        "value_range": "pixel values scaled to [0, 1] by LoadImage2D",
    }
    write_json_atomically(path, stats)
    return stats
