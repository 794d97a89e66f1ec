"""Atomic writes: complete replacement, folders created, no temporary file left after a failure."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from PIL import Image

import json

from mamba_monai.utils.atomic_files import (
    save_figure_atomically,
    update_json_atomically,
    write_bytes_atomically,
    write_text_atomically,
)


def test_write_replaces_and_creates_folders(tmp_path):
    path = tmp_path / "a" / "b" / "summary.json"
    write_text_atomically(path, "old")
    write_text_atomically(path, "new content")
    assert path.read_text() == "new content"
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]


def test_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "table.csv"
    write_text_atomically(path, "complete")
    with pytest.raises(TypeError):
        write_bytes_atomically(path, "not bytes")  # fails while writing the temporary file
    assert path.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_save_figure_atomically_writes_a_png(tmp_path):
    figure = Figure(figsize=(4, 3), dpi=50)
    figure.subplots().plot([0, 1], [1, 0])
    path = save_figure_atomically(figure, tmp_path / "plot.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (200, 150)


def test_update_json_adds_keys_and_names_a_bad_file(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"dice": 0.5, "n": 1}))
    update_json_atomically(path, {"n": 2, "genotype": [1, 2]})
    assert json.loads(path.read_text()) == {"dice": 0.5, "n": 2, "genotype": [1, 2]}
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="summary.json.*not a JSON object"):
        update_json_atomically(path, {"n": 3})
    with pytest.raises(ValueError, match="cannot update .*absent.json"):
        update_json_atomically(tmp_path / "absent.json", {})
