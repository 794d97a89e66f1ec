"""MONAI Label training task for a segmentation bundle: the bundle's ``train.json`` on the studies labelled so far."""

from __future__ import annotations

import os
from typing import Any

import monai.bundle
from monai.bundle import ConfigParser
from monai.handlers import CheckpointLoader
from monailabel.tasks.train.bundle import BundleTrainTask

from mamba_monai.label.bundle_config import read_bundle_config
from mamba_monai.label.discovery import ServableBundle

__all__ = ["BundleSegmentationTrainTask"]


class BundleSegmentationTrainTask(BundleTrainTask):
    """Train a segmentation bundle from MONAI Label: the datastore's labelled images replace the bundle's datalist.

    MONAI Label's stock task overrides ``train#trainer#max_epochs``, ``train#dataset#data``,
    ``validate#dataset#data``, ``train#handlers`` (to start from ``models/model.pt``) and ``device``. This task also
    sets ``epochs`` (the bundles' learning-rate schedules are sized by it), lowers ``val_interval`` to the number of
    epochs when it is larger (so validation, which saves the best ``models/model.pt``, runs at least once), appends
    the checkpoint loader instead of inserting it first (see :meth:`_load_checkpoint`), and reads ``train.json``
    merged with the bundle's extra config files (e.g. ``demo.json``), so the network trained is the one served.

    Labels are label maps in the bundle's coding (for ``segmamba_brats``: BraTS values 1 NCR, 2 ED and 4 ET, or 3 ET
    with ``brats_coding`` 2023); the best checkpoint is written to the bundle's ``models/model.pt``, which the
    inference task reloads when it changes.

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

    def __call__(self, request: dict, datastore) -> dict:
        labelled = [d for d in datastore.datalist() if d and d.get("label")]
        if len(labelled) < 2:
            raise ValueError(
                f"training '{self.bundle.name}' needs at least 2 labelled studies (one for validation), "
                f"the datastore has {len(labelled)}"
            )
        return super().__call__(request, datastore)

    def _load_checkpoint(self, model_pytorch: str, pretrained: bool, train_handlers: list) -> None:
        """Start from ``model_pytorch`` when asked: a ``CheckpointLoader`` appended to ``train#handlers``.

        The stock task inserts it first, which shifts the handler indices the bundles refer to (e.g.
        ``checkpoint_dict#training_curves`` is ``@train#handlers#2``); appended, it still loads when training starts.
        """
        if not pretrained or not os.path.isfile(model_pytorch):
            return
        if any(h.get("_target_") == CheckpointLoader.__name__ for h in train_handlers if isinstance(h, dict)):
            return
        train_handlers.append(
            {
                "_target_": CheckpointLoader.__name__,
                "load_path": model_pytorch,
                "load_dict": {self.model_dict_key: f"@{self.const.key_network()}"},
                "strict": self.load_strict,
                "map_location": "cpu",
            }
        )

    def _update_overrides(self, overrides: dict) -> dict:
        epochs = int(overrides["train#trainer#max_epochs"])
        overrides["epochs"] = epochs
        val_interval = self.bundle_config.get("val_interval")
        if isinstance(val_interval, int) and val_interval > epochs:
            overrides["val_interval"] = epochs  # validate (and save the best model.pt) at least once
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
