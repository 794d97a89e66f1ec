"""MONAI Label inference task for a segmentation bundle: the bundle's own pre/post-processing, a label map back."""

from __future__ import annotations

import tempfile
from typing import Any

import numpy as np
from monai.bundle import ConfigParser
from PIL import Image
from monailabel.interfaces.tasks.infer_v2 import InferType
from monailabel.tasks.infer.bundle import BundleInferTask

from mamba_monai.data.brats import BRATS_CODINGS, brats_coding
from mamba_monai.label.bundle_config import check_config_keys, read_bundle_config
from mamba_monai.label.discovery import ServableBundle
from mamba_monai.label.served_model import ServedModelMixin

__all__ = ["BRATS_LABEL_NAMES", "BundleSegmentationInferTask", "segmentation_label_names"]

#: names of the BraTS label-map values, by sub-region
BRATS_LABEL_NAMES: dict[str, str] = {
    "NCR": "necrotic tumour core",
    "ED": "peritumoral oedema",
    "ET": "enhancing tumour",
}


def segmentation_label_names(parser: ConfigParser) -> dict[str, int] | None:
    """Label-map values the bundle writes, by name, when they differ from its output channels; else ``None``.

    A bundle with a ``brats_coding`` item turns its region channels (TC, WT, ET) into a BraTS label map (1 NCR,
    2 ED, 4 or 3 ET): MONAI Label clients must see those values, not the channel indices.

    Args:
        parser: the bundle's inference config.
    """
    if "brats_coding" not in parser:
        return None
    coding = brats_coding(parser.get_parsed_content("brats_coding"))
    return {BRATS_LABEL_NAMES[region]: value for region, value in BRATS_CODINGS[coding].items()}


class BundleSegmentationInferTask(ServedModelMixin, BundleInferTask):
    """Serve a segmentation bundle: its ``preprocessing``, ``inferer`` and ``postprocessing`` (minus file writing),
    then MONAI Label's restore step (back to the input's size and affine) and a label-map file as the result.

    The input is what the bundle's ``preprocessing`` loads: for ``segmamba_brats`` one 4-channel NIfTI (channel last,
    FLAIR, T1, T1ce, T2), as MONAI Label sends a multi-modal study; for a 2D bundle (``slicemamba_lesion``) a PNG /
    JPEG image. A 2D result is a PNG label map (0 background, 1 for the output channel's class) at the input's size:
    MONAI Label's own writer hands a 2D map with a channel axis to ITK as a 3D image and fails.

    Args:
        bundle: the bundle to serve; it must have ``models/model.pt``.
        conf: the app's configuration (``--conf`` pairs of ``monailabel start_server``).
        kwargs: passed to :class:`monailabel.tasks.infer.bundle.BundleInferTask`.

    Raises:
        ValueError: the bundle has no weights, or its network or preprocessing cannot be built.
    """

    def __init__(self, bundle: ServableBundle, conf: dict[str, str], **kwargs: Any) -> None:
        self.bundle = bundle
        super().__init__(str(bundle.path), conf, type=InferType.SEGMENTATION, **kwargs)
        self._serve_only_the_model()
        if not self.is_valid():
            raise ValueError(f"bundle '{bundle.name}' ({bundle.path}) cannot be served: models/model.pt is missing")
        check_config_keys(self.bundle_config, bundle, ("preprocessing", "postprocessing", "inferer"))
        label_names = segmentation_label_names(self.bundle_config)
        if label_names is not None:
            self.labels = label_names
        elif isinstance(self.labels, dict) and len(self.labels) == 1:
            # one sigmoid channel thresholded to 0 / 1: its class is the value 1 of the label map, 0 is background
            self.labels = dict.fromkeys(self.labels, 1)

    def writer(self, data: dict[str, Any], extension=None, dtype=None) -> tuple[Any, dict[str, Any]]:
        if self.dimension != 2:
            return super().writer(data, extension, dtype)
        label = data[self.output_label_key]
        label = np.squeeze(np.asarray(getattr(label, "array", label)))
        if label.ndim != 2:
            raise ValueError(f"bundle '{self.bundle.name}': expected a 2D label map, got shape {label.shape}")
        with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as file:
            Image.fromarray(np.rint(label).astype(np.uint8)).save(file, format="PNG")
        return file.name, data.get(self.output_json_key, {})

    def _load_bundle_config(self, path: str, config: str) -> ConfigParser:
        return read_bundle_config(self.bundle, "inference.json")
