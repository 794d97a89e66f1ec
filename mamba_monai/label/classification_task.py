"""MONAI Label inference task for a classification bundle: class probabilities back as JSON, no image."""

from __future__ import annotations

import json
import logging
from typing import Any

import torch
from monai.bundle import ConfigParser
from monailabel.interfaces.tasks.infer_v2 import InferType
from monailabel.tasks.infer.bundle import BundleInferTask

from mamba_monai.label.bundle_config import check_config_keys, read_bundle_config
from mamba_monai.label.discovery import ServableBundle
from mamba_monai.label.served_model import ServedModelMixin

__all__ = ["BundleClassificationInferTask", "classification_result", "resolve_class_names"]

logger = logging.getLogger(__name__)


def resolve_class_names(parser: ConfigParser, metadata: dict, bundle_name: str) -> list[str]:
    """The class names of a classification bundle, in output order.

    The config's ``class_names`` item is used when it can be built (it reads files the training wrote, e.g.
    ``models/model_meta.json``); otherwise the names are the ``channel_def`` of the
    first output in ``metadata.json``, with a warning.

    Args:
        parser: the bundle's inference config.
        metadata: the bundle's ``metadata.json``.
        bundle_name: named in messages.

    Raises:
        ValueError: neither source gives names.
    """
    reason = "the config has no 'class_names'"
    if "class_names" in parser:
        try:
            return [str(name) for name in parser.get_parsed_content("class_names")]
        except Exception as error:  # e.g. the training datalist is not next to the bundle
            reason = f"its config's 'class_names' cannot be built ({type(error).__name__}: {error})"
    output = next(iter(metadata.get("network_data_format", {}).get("outputs", {}).values()), {})
    channel_def = output.get("channel_def", {})
    if not channel_def:
        raise ValueError(f"bundle '{bundle_name}': no class names: {reason} and metadata.json has no channel_def")
    names = [str(channel_def[k]) for k in sorted(channel_def, key=int)]
    logger.warning("bundle '%s': %s; class names taken from metadata.json channel_def: %s", bundle_name, reason, names)
    return names


def classification_result(probabilities: torch.Tensor, class_names: list[str]) -> dict[str, Any]:
    """JSON result of one classification: the predicted class, its index, and every class's probability.

    ``prediction`` repeats the probabilities in MONAI Label's own classification format
    (``[{"idx", "label", "score"}]``), for clients that read that.

    Args:
        probabilities: one probability per class, shape (num_classes,) (a leading singleton axis is accepted).
        class_names: names in output order.

    Raises:
        ValueError: the number of probabilities is not the number of classes.
    """
    scores = torch.as_tensor(probabilities).detach().float().cpu().reshape(-1)
    if scores.numel() != len(class_names):
        raise ValueError(
            f"classification output has {scores.numel()} values for {len(class_names)} classes {class_names}"
        )
    best = int(scores.argmax())
    return {
        "label": class_names[best],
        "label_index": best,
        "probabilities": {name: float(p) for name, p in zip(class_names, scores)},
        "prediction": [
            {"idx": index, "label": name, "score": float(score)}
            for index, (name, score) in enumerate(zip(class_names, scores))
        ],
    }


class BundleClassificationInferTask(ServedModelMixin, BundleInferTask):
    """Serve a classification bundle: its ``preprocessing``, ``inferer`` and ``postprocessing``, then the class
    probabilities as JSON (:func:`classification_result`).

    MONAI Label's stock bundle task cannot do this: its restore step (``Restored``) resizes the output to the input
    image's spatial shape, which fails on a vector of class scores, and its classification writer reads the scores
    from ``pred``, which the bundles' postprocessing has turned into the arg-max index (the probabilities are kept
    under ``prob``). Here the restore step is off and the writer reads ``prob`` (``pred`` if there is no ``prob``).

    The class names come from the bundle's config (``class_names``) or, failing that, its metadata
    (:func:`resolve_class_names`); they are set into the config, so ``num_classes`` follows them.

    Args:
        bundle: the bundle to serve; it must have ``models/model.pt``.
        conf: the app's configuration (``--conf`` pairs of ``monailabel start_server``).
        probabilities_key: the postprocessing output that holds the probabilities.
        kwargs: passed to :class:`monailabel.tasks.infer.bundle.BundleInferTask`.

    Raises:
        ValueError: the bundle has no weights, no class names, or its network or preprocessing cannot be built.
    """

    def __init__(
        self, bundle: ServableBundle, conf: dict[str, str], probabilities_key: str = "prob", **kwargs: Any
    ) -> None:
        self.bundle = bundle
        self.probabilities_key = probabilities_key
        self.class_names: list[str] = []
        kwargs["add_post_restore"] = False
        super().__init__(str(bundle.path), conf, type=InferType.CLASSIFICATION, **kwargs)
        self._serve_only_the_model()
        if not self.is_valid():
            raise ValueError(f"bundle '{bundle.name}' ({bundle.path}) cannot be served: models/model.pt is missing")
        check_config_keys(self.bundle_config, bundle, ("preprocessing", "postprocessing", "inferer"))
        self.labels = {name: index for index, name in enumerate(self.class_names)}

    def _load_bundle_config(self, path: str, config: str) -> ConfigParser:
        parser = read_bundle_config(self.bundle, "inference.json")
        metadata = json.loads((self.bundle.path / "configs" / "metadata.json").read_text())
        self.class_names = resolve_class_names(parser, metadata, self.bundle.name)
        parser["class_names"] = self.class_names
        return parser

    def writer(self, data: dict[str, Any], extension=None, dtype=None) -> tuple[None, dict[str, Any]]:
        scores = data.get(self.probabilities_key, data[self.output_label_key])
        return None, classification_result(scores, self.class_names)
