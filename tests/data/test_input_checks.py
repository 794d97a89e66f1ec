"""Inputs checked before inference: unreadable, truncated and oversized images are skipped and named, the rest run;
an output folder that cannot be written is refused before any work."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from mamba_monai.data import check_image_2d, ensure_writable_dir, image_inputs, read_image_2d_info, usable_images


def _png(path, size=(48, 40)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _truncated(path):
    """A JPEG cut in half: its header reads fine, its pixels do not decode."""
    data = _png(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_truncated_png_passes_its_header_but_not_the_check(tmp_path):
    path = _truncated(tmp_path / "cut.jpg")
    assert read_image_2d_info(path).width == 48  # what the header-only check used to accept
    with pytest.raises(ValueError, match="cut.jpg"):
        check_image_2d(path)


def test_an_8000_pixel_square_png_is_refused_from_its_header(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (8000, 8000)).save(path)
    with pytest.raises(ValueError, match=r"huge.png' is 8000 x 8000 pixels \(64.0 megapixels\).*max_image_pixels"):
        check_image_2d(path)
    check_image_2d(path, max_pixels=None, decode=False)  # allowed when asked for


def test_bad_images_are_skipped_named_and_listed(tmp_path):
    good = [_png(tmp_path / "in" / f"ok_{i}.png") for i in range(2)]
    _truncated(tmp_path / "in" / "cut.jpg")
    (tmp_path / "in" / "text.png").write_text("not an image")
    _png(tmp_path / "in" / "big.png", size=(300, 200))
    with pytest.warns(UserWarning, match=r"3 of 5 input image\(s\) are skipped") as caught:
        items = image_inputs(tmp_path / "in", max_pixels="50000", report_dir=tmp_path / "out")
    assert [item["image"] for item in items] == [str(p) for p in good]
    message = str(caught[0].message)
    assert "cut.jpg" in message and "text.png" in message and "big.png" in message
    with open(tmp_path / "out" / "skipped_inputs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["file"].rsplit("/", 1)[-1] for row in rows) == ["big.png", "cut.jpg", "text.png"]
    # a clean run removes the list of an earlier one; 'None' lifts the size limit
    assert len(usable_images([{"image": str(p)} for p in good], "None", tmp_path / "out")) == 2
    assert not (tmp_path / "out" / "skipped_inputs.csv").exists()


def test_no_usable_image_is_an_error_listing_them(tmp_path):
    with pytest.raises(ValueError, match="none of the 1 input image.*cut.jpg"):
        usable_images([{"image": str(_truncated(tmp_path / "cut.jpg"))}])


def test_output_folder_must_be_writable(tmp_path):
    assert ensure_writable_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checked, not created: a run refused for its input leaves nothing behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"output_dir '.*file/out' is not a writable folder"):
        ensure_writable_dir(tmp_path / "file" / "out")
