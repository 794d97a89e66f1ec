"""What a trained model needs at inference, written beside its weights: ``models/model_meta.json``.

One rule for every bundle: training writes each value inference cannot know from the configs alone (class names in
label order, normalisation statistics, the searched genotype, the label coding...) into ``models/model_meta.json``
(a JSON object, one key per value, merged so that several stages can add to it), and ``inference.json`` reads the
bundle's own files only: its configs and ``models/``. A key that is not in the file falls back to the default the
config gives, which comes from ``metadata.json`` (e.g. the class names of the first output's ``channel_def``), so a
bundle without ``models/`` still builds its network (MONAI model-zoo's ``verify_net_in_out`` passes as shipped).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mamba_monai.utils.atomic_files import write_json_atomically

__all__ = [
    "MODEL_META_FILE",
    "model_meta_path",
    "read_model_meta",
    "write_model_meta",
    "model_meta_value",
    "channel_names",
    "metadata_class_names",
]

MODEL_META_FILE = "model_meta.json"
_MISSING = object()


def model_meta_path(ckpt_dir: str | os.PathLike) -> Path:
    """``<ckpt_dir>/model_meta.json``.

    Args:
        ckpt_dir: the bundle's ``models/`` folder.
    """
    return Path(ckpt_dir) / MODEL_META_FILE


def read_model_meta(ckpt_dir: str | os.PathLike) -> dict[str, Any]:
    """The stored values (an empty dict when the file does not exist).

    Args:
        ckpt_dir: the bundle's ``models/`` folder.

    Raises:
        ValueError: the file exists but is not a JSON object (the message names the file).
    """
    path = model_meta_path(ckpt_dir)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"'{path}' is not readable JSON ({error}); delete it or train again to rewrite it") from None
    if not isinstance(data, dict):
        raise ValueError(f"'{path}' must hold a JSON object of trained-model values, got {type(data).__name__}")
    return data


def write_model_meta(ckpt_dir: str | os.PathLike, values: dict[str, Any]) -> Path:
    """Merge ``values`` into ``<ckpt_dir>/model_meta.json`` (atomic: the old file stays whole until replaced).

    Args:
        ckpt_dir: the bundle's ``models/`` folder (created when missing).
        values: JSON-serialisable values, e.g. ``{"class_names": [...], "normalise_mean": [...]}``.

    Returns:
        the path written.
    """
    if not isinstance(values, dict):
        raise TypeError(f"model meta values must be a dict, got {type(values).__name__}")
    merged = read_model_meta(ckpt_dir)
    merged.update({str(key): _plain(value) for key, value in values.items()})
    return write_json_atomically(model_meta_path(ckpt_dir), merged)


def model_meta_value(ckpt_dir: str | os.PathLike, key: str, default: Any = _MISSING) -> Any:
    """The value training stored under ``key``, else ``default``.

    Args:
        ckpt_dir: the bundle's ``models/`` folder.
        key: the value's name.
        default: what to use when the model did not store it (typically from ``metadata.json``).

    Raises:
        KeyError: no stored value and no default (the message names the file and the key).
    """
    stored = read_model_meta(ckpt_dir)
    if key in stored:
        return stored[key]
    if default is _MISSING:
        raise KeyError(f"'{model_meta_path(ckpt_dir)}' has no '{key}' (train the bundle, or set '{key}' in the config)")
    return default


def channel_names(channel_def: dict) -> list[str]:
    """A metadata ``channel_def`` (``{"0": "name", ...}``) as a list in channel order.

    Args:
        channel_def: the mapping of channel index to name, keys as strings or ints.
    """
    try:
        order = sorted(channel_def, key=int)
    except (TypeError, ValueError):
        raise ValueError(f"channel_def keys must be channel indices 0..n-1, got {list(channel_def)}") from None
    if [int(key) for key in order] != list(range(len(order))):
        raise ValueError(f"channel_def keys must be 0..{len(order) - 1}, got {order}")
    return [str(channel_def[key]) for key in order]


def _plain(value: Any) -> Any:
    """Config values as plain JSON (tuples, numpy scalars/arrays and tensors become lists / numbers)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def metadata_class_names(bundle_root: str | os.PathLike, output: str | None = None) -> list[str]:
    """The class (channel) names of an output in ``<bundle_root>/configs/metadata.json`` (the first output default).

    Args:
        bundle_root: the bundle folder.
        output: the key of ``network_data_format.outputs``; None for the first.

    Raises:
        ValueError: the metadata is missing, unreadable or has no ``channel_def`` there (the message names the file).
    """
    path = Path(bundle_root) / "configs" / "metadata.json"
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))["network_data_format"]["outputs"]
        spec = outputs[output if output is not None else next(iter(outputs))]
        return channel_names(spec["channel_def"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"'{path}' is not readable JSON ({error})") from None
    except (KeyError, TypeError, StopIteration):
        raise ValueError(
            f"'{path}' has no network_data_format.outputs[...].channel_def to take class names from"
        ) from None
