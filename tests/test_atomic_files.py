"""Atomic writes: complete replacement, folders created, no temporary file left after a failure."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from PIL import Image

from mamba_monai.utils.atomic_files import save_figure_atomically, write_bytes_atomically, write_text_atomically


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
