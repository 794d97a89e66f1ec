"""Configs a reader can follow: logic lives in named package helpers, not in long ``$`` expressions.

Project-MONAI/model-zoo's ``brats_mri_segmentation`` is the model: a reader sees the recipe, not code. Expressions over
120 characters (the old finalize prints, resume and Grad-CAM calls) and handlers referenced by list position
(``@train#handlers#2``, which silently points elsewhere when a handler is added) are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.bundles.bundle_runs import BUNDLES_DIR

CONFIGS = sorted(BUNDLES_DIR.glob("*/configs/*.json"))
MAX_EXPRESSION = 120
POSITIONAL_HANDLER = re.compile(r"@[\w#]*handlers#\d")


def _strings(node, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}#{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}#{index}")
    elif isinstance(node, str):
        yield path, node


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parts[-3]}/{p.name}")
def test_no_long_expressions_nor_positional_handlers(config):
    strings = list(_strings(json.loads(config.read_text())))
    long = [
        f"{path} ({len(text)} chars)" for path, text in strings if text.startswith("$") and len(text) > MAX_EXPRESSION
    ]
    assert not long, f"move these expressions into named helpers: {long}"
    positional = [path for path, text in strings if POSITIONAL_HANDLER.search(text)]
    assert not positional, f"reference handlers by id, not by list position: {positional}"


def test_the_checks_see_every_bundle():
    assert len({p.parts[-3] for p in CONFIGS}) == 5 and len(CONFIGS) >= 30


def test_configs_folders_hold_only_configs():
    """Every file a bundle ships in configs/ is a config that parses (a stray ``inference.json.failed`` from a merge
    once shipped there) or the logging configuration."""
    stray = []
    for path in sorted(BUNDLES_DIR.glob("*/configs/*")):
        if path.name == "logging.conf":
            continue
        if path.suffix != ".json":
            stray.append(str(path.relative_to(BUNDLES_DIR)))
            continue
        json.loads(path.read_text())
    assert not stray, f"not a bundle config: {stray}"
