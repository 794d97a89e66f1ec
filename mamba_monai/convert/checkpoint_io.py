"""Read a checkpoint file safely and find the state dict inside it; write a converted state dict atomically.

Checkpoints of the original repositories come in several wrappings: a bare state dict, a dict holding it under
``"model"``, ``"state_dict"``, ``"model_state_dict"``, ``"network"``, ``"net"`` (often next to optimizer state and an
epoch counter), and keys prefixed by ``module.`` when the model was wrapped in ``DataParallel`` /
``DistributedDataParallel``. Files are read with ``torch.load(weights_only=True)``: a pickle that holds anything
else than tensors and plain containers (e.g. a whole pickled model, which would run code while loading) is refused.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from mamba_monai.utils.atomic_files import write_bytes_atomically

__all__ = ["WRAPPER_KEYS", "load_checkpoint_file", "save_state_dict", "strip_prefix", "unwrap_state_dict"]

#: keys under which training scripts store the model's state dict, tried in this order
WRAPPER_KEYS: tuple[str, ...] = ("state_dict", "model_state_dict", "model", "network", "net", "module")

#: prefixes of wrapped models, removed when every key carries them
_WRAPPING_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")  # DataParallel / DDP, torch.compile


def load_checkpoint_file(path: str | os.PathLike) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with errors that name the file and say what is
    wrong with it.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is empty, truncated or not a PyTorch checkpoint, or it holds objects other than tensors
            and plain containers (``weights_only=True`` refuses to run the code a pickled object would need).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file '{path}' does not exist")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"checkpoint file '{path}' is empty")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling problem: say which file and what it means
        text = str(error)
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if refused:
            raise ValueError(
                f"checkpoint file '{path}' holds objects other than tensors and plain containers (e.g. "
                f"{refused.group(1)}), refused because loading them could run arbitrary code. Save the model's "
                "state dict instead: torch.save(model.state_dict(), 'weights.pth')"
            ) from None
        if zipfile.is_zipfile(path) or _looks_truncated(path, error):
            raise ValueError(
                f"checkpoint file '{path}' ({size} bytes) cannot be read; it looks truncated or corrupt "
                f"(an incomplete download or copy?): {_reason(text, error)}"
            ) from None
        raise ValueError(
            f"checkpoint file '{path}' ({size} bytes) is not a PyTorch checkpoint that torch.load(weights_only=True) "
            f"can read (a state dict saved with torch.save): {_reason(text, error)}"
        ) from None


def _reason(text: str, error: Exception) -> str:
    """The informative line of torch.load's (long) message."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if line.startswith(("Unsupported", "WeightsUnpickler")) and len(line) > 20]
    return (useful or [line for line in lines if "Unsupported" in line] or lines or [type(error).__name__])[0]


def _looks_truncated(path: Path, error: Exception) -> bool:
    """A zip-format checkpoint cut short loses its central directory (at the end), so is no zip file any more."""
    with open(path, "rb") as stream:
        starts_like_zip = stream.read(4) == b"PK\x03\x04"
    return starts_like_zip or isinstance(error, (EOFError, RuntimeError)) and "EOF" in str(error)


def strip_prefix(state: Mapping[str, Any], every_key: bool = True) -> dict[str, Any]:
    """Remove ``module.`` (DataParallel / DDP) / ``_orig_mod.`` (torch.compile) when every key starts with it.

    Args:
        state: a state dict.
        every_key: ``False`` removes the prefixes from each key that has them, even if others do not (the
            converters of original checkpoints, whose networks have no submodule called ``module``).
    """
    if not every_key:
        return {_strip_key(key): value for key, value in state.items()}
    state = dict(state)
    changed = True
    while changed and state:
        changed = False
        for prefix in _WRAPPING_PREFIXES:
            if all(key.startswith(prefix) for key in state):
                state = {key[len(prefix) :]: value for key, value in state.items()}
                changed = True
    return state


def _strip_key(key: str) -> str:
    stripped = True
    while stripped:
        stripped = False
        for prefix in _WRAPPING_PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix) :], True
    return key


def unwrap_state_dict(checkpoint: Any, source: str = "checkpoint") -> dict[str, Any]:
    """The state dict inside a loaded checkpoint: looks under :data:`WRAPPER_KEYS` (nested wrappings too) and
    removes ``module.`` prefixes.

    Values must be tensors, except ``_extra_state`` entries (module extra state, e.g. SliceMamba's genotype).

    Args:
        checkpoint: what ``torch.load`` returned.
        source: how to name the checkpoint in error messages (e.g. ``"checkpoint file 'a.pth'"``).

    Raises:
        ValueError: no mapping of names to tensors was found; the message lists what the file holds.
    """
    state = checkpoint
    for _ in range(3):  # e.g. {"model": {"state_dict": ...}}
        if not isinstance(state, Mapping) or _is_state_dict(state):
            break
        inner = next((state[key] for key in WRAPPER_KEYS if isinstance(state.get(key), Mapping)), None)
        if inner is None:
            break
        state = inner
    if not isinstance(state, Mapping) or not _is_state_dict(state):
        raise ValueError(f"{source} does not hold a state dict: {_describe(checkpoint)}")
    return strip_prefix(state)


def _is_state_dict(state: Mapping) -> bool:
    if not state or not all(isinstance(key, str) for key in state):
        return False
    tensors = [value for key, value in state.items() if not key.endswith("_extra_state")]
    return bool(tensors) and all(isinstance(value, torch.Tensor) for value in tensors)


def _describe(obj: Any) -> str:
    if isinstance(obj, Mapping):
        items = [f"{key!r}: {type(value).__name__}" for key, value in list(obj.items())[:8]]
        more = f", ... ({len(obj)} entries)" if len(obj) > 8 else ""
        return (
            f"a {type(obj).__name__} with {{{', '.join(items)}{more}}}; expected a mapping of parameter names to "
            f"tensors, possibly under one of the keys {list(WRAPPER_KEYS)}"
        )
    return f"a {type(obj).__name__}; expected a mapping of parameter names to tensors"


def save_state_dict(state: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` a state dict to ``path`` atomically (a reader never sees half a file); returns the path."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return write_bytes_atomically(path, buffer.getvalue())
