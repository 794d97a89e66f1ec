"""A PNG of the training curves (loss per epoch, validation metrics per round), rewritten as training runs.

MONAI has the pieces but not the handler: ``monai.handlers.MetricLogger`` records the loss per *iteration*,
``monai.utils.jupyter_utils.plot_metric_graph`` draws ``(x, y)`` series on an axis (used here) and
``plot_engine_status`` draws a notebook dashboard with images; ignite's loggers write to TensorBoard, Visdom, ...,
not to an image file one can open.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events
from matplotlib.figure import Figure
from monai.utils.jupyter_utils import plot_metric_graph

from mamba_monai.utils.atomic_files import save_figure_atomically
from mamba_monai.engines.handlers.metric_values import scalar_metrics

__all__ = ["TrainingCurvesPlotter"]


class TrainingCurvesPlotter:
    """Ignite handler for the trainer: writes a PNG of the mean training loss per epoch and of every scalar metric of
    the validator (``validator.state.metrics``) per validation round, after every epoch and every validation round.

    Panels: the training loss, then one per metric "family": a metric whose name is another metric's name followed
    by ``_`` and a suffix (``val_dice_TC`` next to ``val_dice``) is drawn on that metric's panel. Scalar metrics of
    the trainer itself (e.g. ``train_mean_dice``) are drawn too. The x axis is the trainer's epoch. The PNG is
    rendered with matplotlib's Agg canvas and replaced atomically. ``state_dict``/``load_state_dict`` let
    ``CheckpointSaver``/``CheckpointLoader`` keep the history across a resumed run.

    Example (bundle config, in ``train#handlers``)::

        {"_target_": "mamba_monai.engines.handlers.TrainingCurvesPlotter",
         "output_path": "$@output_dir + '/training_curves.png'", "validator": "@validate#evaluator"}

    Args:
        output_path: the PNG file to (re)write; its folder is created if needed.
        validator: the evaluator whose metrics to plot (its ``Events.COMPLETED`` is hooked when this handler is
            attached); ``None`` plots the loss (and the trainer's metrics) only.
        loss_transform: gives the loss from ``engine.state.output``; the default understands MONAI's decollated
            output (a list of dicts with ``"loss"``), a dict with ``"loss"``, a tensor or a number.
        title: figure title.
        loss_yscale: y scale of the loss panel, ``"linear"`` or ``"log"``.
        dpi: resolution of the PNG.
        save_rank: in distributed training, the rank that writes the PNG (the history is kept on every rank).
    """

    def __init__(
        self,
        output_path: str | os.PathLike,
        validator: Engine | None = None,
        loss_transform: Callable[[Any], Any] | None = None,
        title: str = "Training curves",
        loss_yscale: str = "linear",
        dpi: int = 100,
        save_rank: int = 0,
    ) -> None:
        self.output_path = Path(output_path)
        if self.output_path.suffix.lower() != ".png":
            raise ValueError(f"TrainingCurvesPlotter: output_path must be a .png file, got '{output_path}'")
        if validator is not None and not isinstance(validator, Engine):
            raise ValueError(
                f"TrainingCurvesPlotter: validator must be an ignite Engine (e.g. '@validate#evaluator'), "
                f"got {type(validator).__name__}"
            )
        if loss_yscale not in ("linear", "log"):
            raise ValueError(f"TrainingCurvesPlotter: loss_yscale must be 'linear' or 'log', got {loss_yscale!r}")
        self.validator = validator
        self.loss_transform = loss_transform or _loss_from_output
        self.title = title
        self.loss_yscale = loss_yscale
        self.dpi = dpi
        self.save_rank = save_rank
        self.loss: list[tuple[int, float]] = []
        self.train_metrics: dict[str, list[tuple[int, float]]] = {}
        self.val_metrics: dict[str, list[tuple[int, float]]] = {}
        self._loss_sum = 0.0
        self._loss_count = 0
        self._trainer: Engine | None = None

    def attach(self, engine: Engine) -> None:
        """Register on the trainer (and on the validator given to the constructor).

        Args:
            engine: the trainer.
        """
        self._trainer = engine
        if not engine.has_event_handler(self._epoch_started, Events.EPOCH_STARTED):
            engine.add_event_handler(Events.EPOCH_STARTED, self._epoch_started)
            engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)
        if self.validator is not None and not self.validator.has_event_handler(self._validation_completed):
            self.validator.add_event_handler(Events.COMPLETED, self._validation_completed)

    def _epoch_started(self, engine: Engine) -> None:
        self._loss_sum, self._loss_count = 0.0, 0

    def _iteration_completed(self, engine: Engine) -> None:
        loss = self.loss_transform(engine.state.output)
        if loss is not None:
            self._loss_sum += float(loss.detach().mean().item() if isinstance(loss, torch.Tensor) else loss)
            self._loss_count += 1

    def _epoch_completed(self, engine: Engine) -> None:
        epoch = int(engine.state.epoch)
        if self._loss_count:
            _record(self.loss, epoch, self._loss_sum / self._loss_count)
        for name, value in scalar_metrics(engine.state.metrics).items():
            _record(self.train_metrics.setdefault(name, []), epoch, value)
        if idist.get_rank() == self.save_rank:
            self.write()

    def _validation_completed(self, engine: Engine) -> None:
        # MONAI's evaluators report the trainer's epoch; a plain ignite evaluator restarts at 1, so ask the trainer
        epoch = int((engine if self._trainer is None else self._trainer).state.epoch)
        for name, value in scalar_metrics(engine.state.metrics).items():
            _record(self.val_metrics.setdefault(name, []), epoch, value)
        if idist.get_rank() == self.save_rank:
            self.write()

    def write(self) -> Path:
        """Draw the recorded history and (re)write the PNG atomically; returns its path."""
        series: dict[str, list[tuple[int, float]]] = dict(self.val_metrics)
        for name, values in self.train_metrics.items():
            series[f"{name} (train)" if name in series else name] = values
        panels: dict[str, dict[str, list[tuple[int, float]]]] = {}
        for name in sorted(series, key=len):
            family = next((root for root in panels if name.startswith(root + "_")), name)
            panels.setdefault(family, {})[name] = series[name]

        n_panels = 1 + len(panels)
        n_cols = min(3, n_panels)
        n_rows = math.ceil(n_panels / n_cols)
        figure = Figure(figsize=(5.5 * n_cols, 3.8 * n_rows), dpi=self.dpi, layout="constrained")
        figure.suptitle(self.title)
        axes = figure.subplots(n_rows, n_cols, squeeze=False).flatten()
        graphs_per_panel = [("training loss (mean per epoch)", {"loss": self.loss}, self.loss_yscale)]
        graphs_per_panel += [
            (family, {n: graphs[n] for n in sorted(graphs)}, "linear") for family, graphs in panels.items()
        ]
        for ax, (title, graphs, yscale) in zip(axes, graphs_per_panel):
            if any(graphs.values()):
                plot_metric_graph(ax, title, graphs, yscale=yscale, avg_keys=())
                for line in ax.get_lines():
                    line.set_marker("o")  # a single round is a point, which a bare line would not show
                    line.set_markersize(3)
                ax.legend(loc="best", fontsize="small")
            else:
                ax.set_title(title)
                ax.text(0.5, 0.5, "no values yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlabel("epoch")
        for ax in axes[n_panels:]:
            ax.set_visible(False)
        return save_figure_atomically(figure, self.output_path)

    def state_dict(self) -> dict:
        """The recorded history (for ``CheckpointSaver``)."""
        return {
            "loss": list(self.loss),
            "train_metrics": {k: list(v) for k, v in self.train_metrics.items()},
            "val_metrics": {k: list(v) for k, v in self.val_metrics.items()},
        }

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore the history written by :meth:`state_dict` (for ``CheckpointLoader``).

        Args:
            state_dict: the saved history.
        """
        missing = {"loss", "train_metrics", "val_metrics"} - set(state_dict)
        if missing:
            raise ValueError(f"TrainingCurvesPlotter.load_state_dict: missing entries {sorted(missing)}")
        self.loss = [(int(e), float(v)) for e, v in state_dict["loss"]]
        self.train_metrics = {k: [(int(e), float(v)) for e, v in vs] for k, vs in state_dict["train_metrics"].items()}
        self.val_metrics = {k: [(int(e), float(v)) for e, v in vs] for k, vs in state_dict["val_metrics"].items()}


def _record(history: list[tuple[int, float]], epoch: int, value: float) -> None:
    """Append ``(epoch, value)``, replacing the last point when it is of the same epoch (a repeated validation)."""
    if history and history[-1][0] == epoch:
        history[-1] = (epoch, value)
    else:
        history.append((epoch, value))


def _loss_from_output(output: Any) -> Any:
    """The loss in MONAI's trainer output: a list of dicts (decollated), a dict, a tensor or a number."""
    if isinstance(output, (list, tuple)):
        output = output[0] if output else None
    if isinstance(output, Mapping):
        output = output.get("loss")
    return output
