"""A PNG per validation round: one slice of the first case with the ground-truth and predicted regions overlaid."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import numpy as np
import torch
from ignite.engine import Engine
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mamba_monai.data.transforms.source_name import source_file
from mamba_monai.utils.atomic_files import save_figure_atomically
from mamba_monai.engines.handlers.brats_metrics_writer import case_id_from_filename
from mamba_monai.metrics.brats import BRATS_REGION_NAMES
from mamba_monai.engines.handlers.round_writer import RoundWriter

__all__ = ["SegmentationOverlayWriter"]

#: colours of the BraTS regions (whole tumour green, tumour core red, enhancing tumour yellow)
_DEFAULT_COLOURS = {"WT": "#2ca02c", "TC": "#d62728", "ET": "#ffdd00"}
_OTHER_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#e377c2", "#8c564b")


class SegmentationOverlayWriter(RoundWriter):
    """Ignite handler for an evaluator: at the end of each validation round (every ``every_n``-th), writes
    ``<output_dir>/<prefix>_epoch<NNNN>.png``: one slice of the first case of the round, the chosen image channel
    (channel 0 is FLAIR in the BraTS channel order) in grey, with the ground-truth regions (left) and the predicted
    regions (right) as translucent fills and contours, one colour per region.

    The slice is the one, across ``slice_axis``, with the most ground-truth foreground (any region); without
    ground-truth foreground, the one with the most predicted foreground; else the middle slice. Slices are shown
    with the first remaining array axis horizontal and the second vertical, origin at the bottom (the radiological
    axial view of RAS-oriented volumes). Image, label and prediction are read from ``engine.state.output`` (MONAI's
    evaluators put ``image``, ``label`` and ``pred`` there), else from ``engine.state.batch``; a prediction that
    is not binarised is thresholded at 0.5 for display. The epoch in the file name is the evaluator's epoch, which
    is the trainer's epoch when a ``ValidationHandler`` runs it. Files are written atomically.

    Example (bundle config, in ``validate#handlers``)::

        {"_target_": "mamba_monai.engines.handlers.SegmentationOverlayWriter",
         "output_dir": "$@output_dir + '/overlays'", "image_channel": 0}

    Args:
        output_dir: folder of the PNGs (created if needed).
        image_channel: channel of the image to show.
        image_key: key of the image.
        label_key: key of the ground-truth region masks ``(R, *spatial)``.
        pred_key: key of the predicted region masks ``(R, *spatial)``.
        region_names: one name per label/prediction channel. Defaults to ``("TC", "WT", "ET")``.
        region_colours: one matplotlib colour per region; ``None`` uses green WT, red TC, yellow ET (and a palette
            for other names).
        every_n: write every ``every_n``-th round (by epoch number).
        slice_axis: spatial axis across which to slice (0, 1 or 2; 2 is axial for RAS volumes).
        prefix: start of the file names.
        dpi: resolution of the PNG.
        save_rank: in distributed evaluation, the rank that writes the PNGs (its first case is shown).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        image_channel: int = 0,
        image_key: str = "image",
        label_key: str = "label",
        pred_key: str = "pred",
        region_names: Sequence[str] = BRATS_REGION_NAMES,
        region_colours: Sequence[str] | None = None,
        every_n: int = 1,
        slice_axis: int = 2,
        prefix: str = "overlay",
        dpi: int = 100,
        save_rank: int = 0,
    ) -> None:
        if every_n < 1:
            raise ValueError(f"SegmentationOverlayWriter: every_n must be >= 1, got {every_n}")
        if slice_axis not in (0, 1, 2):
            raise ValueError(
                f"SegmentationOverlayWriter: slice_axis must be 0, 1 or 2 (a spatial axis), got {slice_axis}"
            )
        if image_channel < 0:
            raise ValueError(f"SegmentationOverlayWriter: image_channel must be >= 0, got {image_channel}")
        self.region_names = tuple(region_names)
        if region_colours is None:
            others = iter(_OTHER_COLOURS * (1 + len(self.region_names) // len(_OTHER_COLOURS)))
            region_colours = [_DEFAULT_COLOURS.get(name.upper()) or next(others) for name in self.region_names]
        if len(region_colours) != len(self.region_names):
            raise ValueError(
                f"SegmentationOverlayWriter: got {len(region_colours)} region_colours for {len(self.region_names)} "
                f"regions {self.region_names}"
            )
        self.region_colours = [to_rgba(colour) for colour in region_colours]
        self.output_dir = Path(output_dir)
        self.image_channel = image_channel
        self.image_key = image_key
        self.label_key = label_key
        self.pred_key = pred_key
        self.every_n = every_n
        self.slice_axis = slice_axis
        self.prefix = prefix
        self.dpi = dpi
        self.save_rank = save_rank
        self._captured: dict[str, Any] | None = None

    def reset(self, engine: Engine) -> None:
        self._captured = None

    def _wanted(self, engine: Engine) -> bool:
        return int(engine.state.epoch) % self.every_n == 0 and idist.get_rank() == self.save_rank

    def collect(self, engine: Engine) -> None:
        if self._captured is None and self._wanted(engine):
            self._captured = self._capture(engine)

    def __call__(self, engine: Engine) -> Path | None:
        """Write the PNG of the round that just ended (if this round is one of every ``every_n``); returns its path."""
        if self._captured is None or not self._wanted(engine):
            return None
        path = self.output_dir / f"{self.prefix}_epoch{int(engine.state.epoch):04d}.png"
        figure = self._draw(self._captured, int(engine.state.epoch))
        return save_figure_atomically(figure, path, dpi=self.dpi)

    def _capture(self, engine: Engine) -> dict[str, Any]:
        """The 2D slices of the first case of this iteration (copies, so the volumes can be freed)."""
        image = self._first_case(engine, self.image_key)
        label = self._first_case(engine, self.label_key)
        pred = self._first_case(engine, self.pred_key)
        if image.ndim != 4:
            raise ValueError(
                f"SegmentationOverlayWriter: '{self.image_key}' of one case must be (C, H, W, D), got shape "
                f"{tuple(image.shape)}"
            )
        if self.image_channel >= image.shape[0]:
            raise ValueError(
                f"SegmentationOverlayWriter: image_channel {self.image_channel} is out of range for "
                f"'{self.image_key}' with {image.shape[0]} channels"
            )
        for key, masks in ((self.label_key, label), (self.pred_key, pred)):
            if masks.ndim != 4 or masks.shape[0] != len(self.region_names):
                raise ValueError(
                    f"SegmentationOverlayWriter: '{key}' of one case must be ({len(self.region_names)}, H, W, D) for "
                    f"the regions {self.region_names}, got shape {tuple(masks.shape)}"
                )
            if masks.shape[1:] != image.shape[1:]:
                raise ValueError(
                    f"SegmentationOverlayWriter: '{key}' has spatial shape {tuple(masks.shape[1:])} but "
                    f"'{self.image_key}' has {tuple(image.shape[1:])}; they must be in the same space (was the "
                    "prediction inverted, e.g. by Invertd, and not the image?)"
                )
        label_masks = _to_numpy(label) > 0.5
        pred_masks = _to_numpy(pred) > 0.5
        index = _busiest_slice(label_masks.any(axis=0), self.slice_axis)
        if index is None:
            index = _busiest_slice(pred_masks.any(axis=0), self.slice_axis)
        if index is None:
            index = image.shape[1 + self.slice_axis] // 2
        filename = source_file(image)
        return {
            "image": np.take(_to_numpy(image[self.image_channel]), index, axis=self.slice_axis).astype(np.float32),
            "label": np.take(label_masks, index, axis=1 + self.slice_axis),
            "pred": np.take(pred_masks, index, axis=1 + self.slice_axis),
            "slice": index,
            "case": case_id_from_filename(filename) if filename else "first case",
        }

    def _first_case(self, engine: Engine, key: str) -> torch.Tensor | np.ndarray:
        for source in (engine.state.output, engine.state.batch):
            if isinstance(source, (list, tuple)) and source and isinstance(source[0], Mapping) and key in source[0]:
                return source[0][key]
            if isinstance(source, Mapping) and key in source:
                return source[key][0]  # batch-first data (decollate=False)
        raise ValueError(
            f"SegmentationOverlayWriter: key '{key}' is neither in engine.state.output nor in engine.state.batch; "
            "set image_key/label_key/pred_key to the keys of your workflow"
        )

    def _draw(self, captured: dict[str, Any], epoch: int) -> Figure:
        image = captured["image"]
        foreground = image[image != 0]
        low, high = np.percentile(foreground, (1, 99)) if foreground.size else (0.0, 1.0)
        if high <= low:
            low, high = float(image.min()), float(image.max()) + 1e-6
        figure = Figure(figsize=(10, 5.6), dpi=self.dpi, layout="constrained")
        axes = figure.subplots(1, 2)
        for ax, key, title in zip(axes, ("label", "pred"), ("ground truth", "prediction")):
            ax.imshow(image.T, cmap="gray", vmin=low, vmax=high, origin="lower", interpolation="nearest")
            # largest region first, so that nested regions (ET in TC in WT) stay visible on top of each other
            regions = sorted(zip(captured[key], self.region_colours), key=lambda item: -int(item[0].sum()))
            for masks, colour in regions:
                if masks.any():
                    fill = np.zeros((*masks.T.shape, 4), dtype=np.float32)
                    fill[masks.T] = (*colour[:3], 0.3)
                    ax.imshow(fill, origin="lower", interpolation="nearest")
            for masks, colour in regions:
                if masks.any():
                    ax.contour(
                        masks.T.astype(np.float32), levels=[0.5], colors=[colour], linewidths=1.2, origin="lower"
                    )
            ax.set_title(title)
            ax.set_axis_off()
        handles = [Patch(facecolor=c, edgecolor=c, label=n) for n, c in zip(self.region_names, self.region_colours)]
        figure.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
        figure.suptitle(f"epoch {epoch}: {captured['case']}, slice {captured['slice']} (axis {self.slice_axis})")
        return figure


def _to_numpy(data: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().float().numpy()
    return np.asarray(data)


def _busiest_slice(foreground: np.ndarray, axis: int) -> int | None:
    """Index of the slice across ``axis`` with the most foreground voxels, ``None`` when there is none."""
    counts = foreground.sum(axis=tuple(a for a in range(foreground.ndim) if a != axis))
    return int(np.argmax(counts)) if counts.max(initial=0) > 0 else None
