"""The MONAI Label app: every selected bundle as an inference task, segmentation bundles also as trainers."""

from __future__ import annotations

import logging
import os
from typing import Any

import monailabel
from fastapi import HTTPException
from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.tasks.infer_v2 import InferTask
from monailabel.interfaces.tasks.strategy import Strategy
from monailabel.interfaces.tasks.train import TrainTask
from monailabel.tasks.activelearning.first import First
from monailabel.tasks.activelearning.random import Random
from monailabel.utils.others.generic import strtobool

import mamba_monai
from mamba_monai.label.classification_task import BundleClassificationInferTask
from mamba_monai.label.discovery import select_bundles
from mamba_monai.label.segmentation_task import BundleSegmentationInferTask
from mamba_monai.label.served_model import NotServableModelError
from mamba_monai.label.train_task import BundleSegmentationTrainTask
from mamba_monai.utils.error_summary import error_chain

__all__ = ["MambaMonaiLabelApp"]

logger = logging.getLogger(__name__)


class MambaMonaiLabelApp(MONAILabelApp):
    """MONAI Label app serving the mamba-monai bundles.

    Segmentation bundles (``network_data_format`` output format ``segmentation``) become segmentation tasks that
    return a label map (NIfTI for 3D, PNG for 2D), and trainers (not for architecture-search bundles, those with a
    ``configs/search.json``, whose training is three stages); classification bundles (output format ``classes``) become classification
    tasks that return class probabilities as JSON. Bundles need trained weights (``models/model.pt``).

    ``conf`` keys (``monailabel start_server --conf KEY VALUE``, set by ``mamba-monai label serve``):

    - ``bundles_dir``: folder of bundles (default ``bundles/`` of the source checkout);
    - ``models``: comma-separated bundle names (default: every bundle there that has weights);
    - ``configs``: comma-separated config files merged on top of each bundle's ``inference.json`` and
      ``train.json`` when present, e.g. ``demo.json`` for weights trained by ``mamba-monai demo``;
    - ``skip_trainers``: ``true`` to serve inference only;
    - ``preload``: ``true`` to load the networks at start-up.

    Args:
        app_dir: the app folder (MONAI Label keeps its logs and downloads there).
        studies: the studies folder (or a DICOMweb URL).
        conf: the configuration above.
    """

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]) -> None:
        self.bundles = select_bundles(conf.get("bundles_dir"), conf.get("models"), conf.get("configs"))
        for bundle in self.bundles.values():
            logger.info("+++ bundle %s (%s): %s", bundle.name, bundle.task, bundle.path)
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name=f"mamba-monai bundles ({mamba_monai.__version__})",
            description="Mamba / SE networks for medical imaging served from MONAI bundles "
            f"(MONAI Label {monailabel.__version__})",
            version=mamba_monai.__version__,
        )

    def init_infers(self) -> dict[str, InferTask]:
        infers: dict[str, InferTask] = {}
        for name, bundle in self.bundles.items():
            task_class = BundleSegmentationInferTask if bundle.task == "segmentation" else BundleClassificationInferTask
            infers[name] = task_class(bundle, self.conf)
            logger.info("+++ inference task %s => %s", name, type(infers[name]).__name__)
        return infers

    def init_trainers(self) -> dict[str, TrainTask]:
        if strtobool(self.conf.get("skip_trainers", "false")):
            return {}
        trainers: dict[str, TrainTask] = {}
        for name, bundle in self.bundles.items():
            if bundle.task != "segmentation" or not (bundle.path / "configs" / "train.json").is_file():
                continue
            if (bundle.path / "configs" / "search.json").is_file():
                # an architecture-search bundle (slicemamba_lesion): its training is three stages (supernet, search,
                # retrain) run with the bundle runner; MONAI Label's one-step trainer is not offered for it (untested)
                logger.info("--- no trainer for %s: a three-stage architecture-search bundle", name)
                continue
            trainer = BundleSegmentationTrainTask(bundle, self.conf)
            if trainer.is_valid():
                trainers[name] = trainer
                logger.info("+++ trainer %s", name)
        return trainers

    def infer(self, request: dict[str, Any], datastore=None) -> dict[str, Any]:
        """MONAI Label's inference, with the client's mistakes answered as such: an unknown model or image id is a
        404, a request for a model file that is not served a 400, an input the bundle cannot read (a corrupt or
        wrongly shaped upload) a 422 with the bundle's own message, instead of a bare 500."""
        model = request.get("model")
        if model not in self._infers:
            raise HTTPException(404, f"unknown model '{model}'; this app serves: {', '.join(sorted(self._infers))}")
        image = request.get("image")
        if isinstance(image, str) and image and not os.path.exists(image):
            store = datastore or self.datastore()
            if image not in store.list_images():
                raise HTTPException(404, f"unknown image '{image}': not an image id of the studies folder, not a file")
        try:
            return super().infer(request, datastore)
        except Exception as error:
            chain = error_chain(error)
            refused = next((e for e in chain if isinstance(e, NotServableModelError)), None)
            if refused is not None:
                raise HTTPException(400, str(refused)) from error
            names_input = isinstance(image, str) and bool(image)
            cause = next((e for e in chain if isinstance(e, (ValueError, EOFError)) or (names_input and image in str(e))),
                         None)  # fmt: skip
            if cause is not None:  # the input, not the server, is at fault
                raise HTTPException(422, f"'{model}' cannot use this input: {cause}") from error
            raise

    def train(self, request: dict[str, Any]) -> Any:
        """MONAI Label's training; an unknown trainer is a 404 naming the trainers (for ``run_sync`` requests; an
        asynchronous task reports the same message in its status)."""
        model = request.get("model")
        if model not in self._trainers:
            raise HTTPException(
                404, f"no trainer '{model}'; this app trains: {', '.join(sorted(self._trainers)) or 'none'}"
            )
        return super().train(request)

    def init_strategies(self) -> dict[str, Strategy]:
        return {"random": Random(), "first": First()}
