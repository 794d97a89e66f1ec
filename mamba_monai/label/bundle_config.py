"""Reading a bundle's config for MONAI Label: the base config plus extra override files, checked early."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monai.bundle import ConfigParser

from mamba_monai.label.discovery import ServableBundle

__all__ = ["check_config_keys", "read_bundle_config"]


def read_bundle_config(bundle: ServableBundle, base: str = "inference.json") -> ConfigParser:
    """``configs/<base>`` of ``bundle`` merged with its extra config files, with ``bundle_root`` set to the bundle.

    Args:
        bundle: the bundle.
        base: base config file name inside ``configs/`` (``inference.json`` or ``train.json``).
    """
    parser = ConfigParser()
    parser.read_config(bundle.config_files(base))
    parser.config.update({"bundle_root": str(bundle.path)})  # type: ignore[union-attr]
    return parser


def check_config_keys(parser: ConfigParser, bundle: ServableBundle, keys: Sequence[str]) -> None:
    """Build each config item of ``keys`` once, so that a bundle that cannot run fails at start-up, clearly.

    Args:
        parser: the bundle's config.
        bundle: the bundle (named in the message).
        keys: config ids to build, e.g. ``("network_def", "preprocessing")``.

    Raises:
        ValueError: a key is missing or cannot be built; the message names the bundle, the key and the cause.
    """
    for key in keys:
        if key not in parser:
            raise ValueError(f"bundle '{bundle.name}' ({bundle.path}): its config has no '{key}'")
        try:
            parser.get_parsed_content(key, instantiate=True)
        except Exception as error:  # any failure to build is reported with its cause
            raise ValueError(
                f"bundle '{bundle.name}' ({bundle.path}): cannot build config item '{key}' from "
                f"{[Path(f).name for f in bundle.config_files()]}: {type(error).__name__}: {error}"
            ) from error
