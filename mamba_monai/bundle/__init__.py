"""Helpers that bundle configs call: what a trained model needs at inference (``model_meta``) and its writer."""

from mamba_monai.utils.model_meta import (
    MODEL_META_FILE,
    channel_names,
    metadata_class_names,
    model_meta_path,
    model_meta_value,
    read_model_meta,
    write_model_meta,
)
from mamba_monai.bundle.model_meta_writer import ModelMetaWriter
from mamba_monai.bundle.report import run_report, training_report

__all__ = [
    "MODEL_META_FILE",
    "ModelMetaWriter",
    "channel_names",
    "metadata_class_names",
    "model_meta_path",
    "model_meta_value",
    "read_model_meta",
    "run_report",
    "training_report",
    "write_model_meta",
]
