"""MONAI Label training task for a segmentation bundle: the bundle's ``train.json`` on the studies labelled so far."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import monai.bundle
from monai.bundle import ConfigParser
from monai.handlers import CheckpointLoader
from monailabel.tasks.train.bundle import BundleTrainTask

from mamba_monai.label.bundle_config import read_bundle_config
from mamba_monai.label.discovery import MODEL_FILE, ServableBundle
from mamba_monai.label.served_model import NotServableModelError
from mamba_monai.label.studies import usable_studies

__all__ = ["BundleSegmentationTrainTask"]

logger = logging.getLogger(__name__)


class BundleSegmentationTrainTask(BundleTrainTask):
    """Train a segmentation bundle from MONAI Label: the datastore's labelled images replace the bundle's datalist.

    MONAI Label's stock task overrides ``train#trainer#max_epochs``, ``train#dataset#data``,
    ``validate#dataset#data``, ``train#handlers`` (to start from ``models/model.pt``) and ``device``. This task also
    sets ``epochs`` (the bundles' learning-rate schedules are sized by it), lowers ``val_interval`` to the number of
    epochs when it is larger (so validation, which saves the best ``models/model.pt``, runs at least once), appends
    the checkpoint loader instead of inserting it first (see :meth:`_load_checkpoint`), and reads ``train.json``
    merged with the bundle's extra config files (e.g. ``demo.json``), so the network trained is the one served.

    Labels are label maps in the bundle's coding (for ``segmamba_brats``: BraTS values 1 NCR, 2 ED and 4 ET, or 3 ET
    with ``brats_coding`` 2023). Only the studies shaped as the bundle's input are used (a 3D bundle skips 2D studies
    of the same folder, see :mod:`mamba_monai.label.studies`).

    The served ``models/model.pt`` is never replaced by a worse model: a run that starts from it (``pretrained``, the
    default) first validates it (``validate_at_start``), so the best-model saver replaces it only with a model that
    scores better on this run's validation studies; a run from scratch (``pretrained`` false) writes its models to
    ``models/label_runs/<time>/`` and leaves the served one alone (copy the new ``model.pt`` over to serve it). Only
    ``model.pt`` is offered as the starting model.

    Args:
        bundle: the bundle to train.
        conf: the app's configuration (``--conf`` pairs of ``monailabel start_server``).
        kwargs: passed to :class:`monailabel.tasks.train.bundle.BundleTrainTask`.
    """

    def __init__(self, bundle: ServableBundle, conf: dict[str, str], **kwargs: Any) -> None:
        self.bundle = bundle
        super().__init__(str(bundle.path), conf, **kwargs)

    def _load_bundle_config(self, path: str, config: str) -> ConfigParser:
        return read_bundle_config(self.bundle, "train.json")

    def _input_format(self) -> tuple[int, int]:
        metadata = json.loads((self.bundle.path / "configs" / "metadata.json").read_text())
        image = metadata["network_data_format"]["inputs"]["image"]
        return len(image.get("spatial_shape", [0, 0, 0])), int(image.get("num_channels", 1))

    def config(self) -> dict[str, Any]:
        options = super().config()
        options["model_filename"] = [os.path.basename(MODEL_FILE)]  # not supernets, not periodic checkpoints
        return options

    def _fetch_datalist(self, request: dict, datastore) -> list[dict]:
        labelled = [d for d in super()._fetch_datalist(request, datastore) if d.get("label")]
        spatial_dims, channels = self._input_format()
        usable = usable_studies(labelled, spatial_dims, channels, self.bundle.name)
        if len(usable) < 2:
            raise ValueError(
                f"training '{self.bundle.name}' needs at least 2 labelled studies it can read ({channels}-channel "
                f"{spatial_dims}D images; one is for validation): the datastore has {len(labelled)} labelled, "
                f"{len(usable)} of them usable"
            )
        return usable

    def __call__(self, request: dict, datastore) -> dict:
        chosen = request.get("model_filename", os.path.basename(MODEL_FILE))
        chosen = chosen if isinstance(chosen, str) else chosen[0]
        if chosen != os.path.basename(MODEL_FILE):
            raise NotServableModelError(
                f"'{chosen}' is not a servable model of '{self.bundle.name}': training starts from "
                f"{os.path.basename(MODEL_FILE)} (or from scratch with pretrained false)"
            )
        self._pretrained = bool(request.get("pretrained", True))
        return super().__call__(request, datastore)

    def _load_checkpoint(self, model_pytorch: str, pretrained: bool, train_handlers: list) -> None:
        """Start from ``model_pytorch`` when asked: a ``CheckpointLoader`` first in ``train#handlers`` (the bundles
        refer to their handlers by id, so the insertion shifts nothing they use)."""
        if not pretrained or not os.path.isfile(model_pytorch):
            return
        if any(h.get("_target_") == CheckpointLoader.__name__ for h in train_handlers if isinstance(h, dict)):
            return
        train_handlers.insert(  # first: the weights are loaded before the validation at start scores them
            0,
            {
                "_target_": CheckpointLoader.__name__,
                "load_path": model_pytorch,
                "load_dict": {self.model_dict_key: f"@{self.const.key_network()}"},
                "strict": self.load_strict,
                "map_location": "cpu",
            },
        )

    def _update_overrides(self, overrides: dict) -> dict:
        epochs = int(overrides["train#trainer#max_epochs"])
        overrides["epochs"] = epochs
        val_interval = self.bundle_config.get("val_interval")
        if isinstance(val_interval, int) and val_interval > epochs:
            overrides["val_interval"] = epochs  # validate (and save the best model.pt) at least once
        served = self.bundle.path / MODEL_FILE
        if served.is_file():
            if getattr(self, "_pretrained", True):
                overrides["validate_at_start"] = True  # the served model's score is the one to beat
            else:
                run_dir = self.bundle.path / "models" / "label_runs" / time.strftime("%Y%m%d-%H%M%S")
                overrides["ckpt_dir"] = str(run_dir)
                logger.warning(
                    "trainer %s: training from scratch; the served %s stays, the new models go to %s",
                    self.bundle.name, served, run_dir,
                )  # fmt: skip
        return overrides

    def run_single_gpu(self, request: dict, overrides: dict) -> None:
        monai.bundle.run(
            run_id=request.get("run_id", "run"),
            init_id=None,
            final_id=None,
            meta_file=str(self.bundle.path / "configs" / "metadata.json"),
            config_file=self.bundle.config_files("train.json"),
            **overrides,
        )
