"""Which bundles the MONAI Label app serves, and as what: segmentation or classification.

This module does not import ``monailabel``, so the command line can check bundles (and say clearly what is wrong)
before the server starts, and the checks can be tested where MONAI Label is not installed.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "INFERENCE_CONFIG",
    "LABEL_TASKS",
    "ServableBundle",
    "bundle_task",
    "default_bundles_dir",
    "find_bundles",
    "parse_names",
    "select_bundles",
]

logger = logging.getLogger(__name__)

#: the config MONAI Label serves a bundle from (relative to the bundle folder)
INFERENCE_CONFIG = "configs/inference.json"
#: the weights MONAI Label loads (relative to the bundle folder)
MODEL_FILE = "models/model.pt"
#: the kinds of task a bundle can be served as
LABEL_TASKS = ("segmentation", "classification")


@dataclass(frozen=True)
class ServableBundle:
    """A bundle the app serves.

    Args:
        name: bundle folder name, used as the MONAI Label model name.
        path: bundle folder.
        task: ``"segmentation"`` or ``"classification"`` (see :func:`bundle_task`).
        extra_configs: config files (names inside ``configs/``) merged on top of ``inference.json`` (and of
            ``train.json`` for trainers), e.g. ``("demo.json",)`` for weights trained by ``mamba-monai demo``.
    """

    name: str
    path: Path
    task: str
    extra_configs: tuple[str, ...] = field(default=())

    def config_files(self, base: str = "inference.json") -> list[str]:
        """``configs/<base>`` followed by the extra config files that exist in this bundle, as paths."""
        configs = self.path / "configs"
        return [str(configs / base)] + [str(configs / c) for c in self.extra_configs if (configs / c).is_file()]


def default_bundles_dir() -> Path:
    """``bundles/`` of the source checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "bundles"


def parse_names(names: str | Sequence[str] | None) -> list[str]:
    """Split ``"a,b"`` (or take ``["a", "b"]``, as python-fire passes ``--models a,b``) into a list of names."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else [str(n) for n in names]
    return [n.strip() for n in items if n.strip()]


def bundle_task(bundle: str | os.PathLike) -> str:
    """``"segmentation"`` or ``"classification"``, from the first output of the bundle's ``network_data_format``.

    An output whose ``format`` is ``"segmentation"`` is a segmentation; one whose ``format`` is ``"classes"`` (or
    whose ``type`` is ``"probabilities"``) is a classification.

    Args:
        bundle: bundle folder.

    Raises:
        ValueError: no ``configs/metadata.json``, no output in it, or an output of another kind.
    """
    metadata_file = Path(bundle) / "configs" / "metadata.json"
    if not metadata_file.is_file():
        raise ValueError(f"bundle '{bundle}' has no configs/metadata.json")
    metadata = json.loads(metadata_file.read_text())
    outputs = metadata.get("network_data_format", {}).get("outputs", {})
    if not outputs:
        raise ValueError(f"{metadata_file}: network_data_format has no outputs")
    key, output = next(iter(outputs.items()))
    if output.get("format") == "segmentation":
        return "segmentation"
    if output.get("format") == "classes" or output.get("type") == "probabilities":
        return "classification"
    raise ValueError(
        f"{metadata_file}: output '{key}' (type {output.get('type')!r}, format {output.get('format')!r}) is neither a "
        "segmentation (format 'segmentation') nor a classification (format 'classes'); MONAI Label cannot serve it"
    )


def find_bundles(bundles_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The bundle folders under ``bundles_dir`` that have a ``configs/inference.json``, by name (sorted).

    Args:
        bundles_dir: folder of bundles; default :func:`default_bundles_dir`.

    Raises:
        ValueError: ``bundles_dir`` is not a folder.
    """
    root = Path(bundles_dir) if bundles_dir else default_bundles_dir()
    if not root.is_dir():
        raise ValueError(f"bundles folder '{root}' does not exist (pass --bundles_dir DIR)")
    return {p.name: p for p in sorted(root.iterdir()) if (p / INFERENCE_CONFIG).is_file()}


def select_bundles(
    bundles_dir: str | os.PathLike | None = None,
    models: str | Sequence[str] | None = None,
    extra_configs: str | Sequence[str] | None = None,
) -> dict[str, ServableBundle]:
    """The bundles to serve, checked: each has an inference config, metadata of a known task, and weights.

    Weights are required: MONAI Label would otherwise serve a randomly initialised network. A bundle named in
    ``models`` without ``models/model.pt`` is an error; when ``models`` is not given, bundles without weights are
    skipped with a warning, and it is an error if none is left.

    Args:
        bundles_dir: folder of bundles; default ``bundles/`` of the source checkout.
        models: names to serve (``"a,b"`` or a list); default every bundle found that has weights.
        extra_configs: config files merged on top of each bundle's ``inference.json`` / ``train.json`` when the
            bundle has them (``"demo.json"`` for weights trained by ``mamba-monai demo``).

    Raises:
        ValueError: unknown name, missing weights, a bundle MONAI Label cannot serve, or nothing to serve.
    """
    found = find_bundles(bundles_dir)
    root = Path(bundles_dir) if bundles_dir else default_bundles_dir()
    requested = parse_names(models)
    unknown = [n for n in requested if n not in found]
    if unknown:
        raise ValueError(
            f"unknown bundle(s) {unknown} in {root}; bundles with a {INFERENCE_CONFIG} there: {sorted(found) or 'none'}"
        )
    extras = tuple(parse_names(extra_configs))
    selected: dict[str, ServableBundle] = {}
    without_weights = []
    for name in requested or list(found):
        path = found[name].resolve()
        if not (path / MODEL_FILE).is_file():
            if requested:
                raise ValueError(
                    f"bundle '{name}' has no trained weights: {path / MODEL_FILE} is missing. Train the bundle first "
                    f"(`python -m monai.bundle run --config_file {path}/configs/train.json --bundle_root {path}`, or "
                    f"on synthetic data `mamba-monai demo --bundle {name}` and then serve with --configs demo.json) "
                    "or copy a checkpoint there"
                )
            without_weights.append(name)
            continue
        selected[name] = ServableBundle(name, path, bundle_task(path), extras)
    if without_weights:
        logger.warning(
            "NOT serving bundle(s) without trained weights (models/model.pt missing): %s", ", ".join(without_weights)
        )
    if not selected:
        raise ValueError(
            f"no bundle to serve in {root}: none has trained weights ({MODEL_FILE}); train one first, e.g. "
            "`mamba-monai demo --bundle segmamba_brats` (then serve with --configs demo.json)"
        )
    return selected
