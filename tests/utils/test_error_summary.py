"""A failing bundle run ends with the innermost cause, naming the option, not MONAI's generic wrapper message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mamba_monai.utils.error_summary import root_cause

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "segmamba_brats"


def test_root_cause_follows_the_chain():
    try:
        try:
            raise ValueError("option 'epochs' must be a whole number, got 'abc'")
        except ValueError as inner:
            raise RuntimeError("Failed to evaluate ConfigExpression") from inner
    except RuntimeError as outer:
        assert str(root_cause(outer)) == "option 'epochs' must be a whole number, got 'abc'"


def test_monai_bundle_run_ends_with_the_readable_cause(tmp_path):
    command = [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", str(BUNDLE / "configs" / "train.json"),
        "--bundle_root", str(tmp_path), "--epochs", "abc", "--dataset_dir", str(tmp_path / "data"),
        "--synthetic_if_empty", "false",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode != 0
    last = [line for line in result.stderr.strip().splitlines() if line.strip()][-1]
    assert last == "error: ValueError: option 'epochs' must be a whole number, got 'abc'", result.stderr[-2000:]
