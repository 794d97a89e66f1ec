"""Synthetic dermoscopy data (deterministic, learnable) and lesion datalists (checked, split, written)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from monai.data import load_decathlon_datalist
from PIL import Image
from scipy.ndimage import binary_fill_holes, median_filter

from mamba_monai.data.lesion import LESION_SPLITS, ensure_lesion_datalist, make_lesion_datalist
from mamba_monai.data.synthetic.dermoscopy import write_synthetic_dermoscopy


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _threshold_dice(image_path, mask_path) -> float:
    """A colour threshold: darker than the skin (Otsu on the median-filtered grey level, the black frame excluded)."""
    rgb = np.asarray(Image.open(image_path)).astype(float)
    truth = np.asarray(Image.open(mask_path)) > 127
    grey = median_filter(rgb.mean(-1), 5)
    skin = grey > 25
    values = np.sort(grey[skin])
    # Otsu's threshold
    best, threshold = -1.0, values[0]
    for t in np.unique(values.astype(int)):
        low, high = values[values <= t], values[values > t]
        if len(low) and len(high):
            between = len(low) * len(high) * (low.mean() - high.mean()) ** 2
            if between > best:
                best, threshold = between, t
    predicted = binary_fill_holes((grey <= threshold) & skin)
    return 2 * (predicted & truth).sum() / (predicted.sum() + truth.sum())


@pytest.mark.parametrize("layout", ["isic", "kvasir"])
def test_synthetic_dermoscopy_layout_determinism_learnability(tmp_path, layout):
    root = write_synthetic_dermoscopy(tmp_path / "a", n_images=12, size=(96, 128), seed=3, layout=layout)
    write_synthetic_dermoscopy(tmp_path / "b", n_images=12, size=(96, 128), seed=3, layout=layout)
    files = _files(root)
    assert files == _files(tmp_path / "b")
    assert files != _files(
        write_synthetic_dermoscopy(tmp_path / "c", n_images=12, size=(96, 128), seed=4, layout=layout)
    )
    if layout == "isic":
        assert "images/ISIC_0000000.jpg" in files and "masks/ISIC_0000000_segmentation.png" in files
        mask_of = lambda image: root / "masks" / f"{image.stem}_segmentation.png"  # noqa: E731
    else:
        assert "images/synthetic_0000.jpg" in files and "masks/synthetic_0000.jpg" in files
        mask_of = lambda image: root / "masks" / image.name  # noqa: E731
    images = sorted((root / "images").glob("*.jpg"))
    assert len(images) == 12 and len(files) == 24
    dices, fractions = [], []
    for image in images:
        pixels = Image.open(image)
        assert pixels.mode == "RGB" and pixels.size == (128, 96)
        mask = np.asarray(Image.open(mask_of(image)))
        assert mask.shape == (96, 128)
        if layout == "isic":
            assert set(np.unique(mask).tolist()) <= {0, 255}
        fractions.append(np.mean(mask > 127))
        dices.append(_threshold_dice(image, mask_of(image)))
    assert 0.03 < min(fractions) and max(fractions) < 0.6  # a lesion in every image, never all of it
    assert np.mean(dices) > 0.8 and min(dices) > 0.6, dices


def test_make_lesion_datalist_splits_and_reads_back(tmp_path):
    root = write_synthetic_dermoscopy(tmp_path / "data", n_images=20, size=(64, 64), seed=0)
    out = tmp_path / "lists" / "datalist.json"
    datalist = make_lesion_datalist(root, out, fractions=(0.5, 0.2, 0.1, 0.2), seed=1)
    assert [len(datalist[k]) for k in LESION_SPLITS] == [10, 4, 2, 4]
    names = [entry["image"] for key in LESION_SPLITS for entry in datalist[key]]
    assert len(set(names)) == 20
    assert json.loads(out.read_text()) == datalist
    assert datalist == make_lesion_datalist(
        root, tmp_path / "lists" / "again.json", fractions=(0.5, 0.2, 0.1, 0.2), seed=1
    )
    other = make_lesion_datalist(root, tmp_path / "lists" / "other.json", fractions=(0.5, 0.2, 0.1, 0.2), seed=2)
    assert other["training"] != datalist["training"]
    items = load_decathlon_datalist(str(out), data_list_key="search", base_dir=str(out.parent))
    for item in items:
        assert item["label"].endswith(item["image"].rsplit("/", 1)[-1].replace(".jpg", "_segmentation.png"))
        assert (out.parent / item["image"]).is_file()

    kvasir = write_synthetic_dermoscopy(tmp_path / "kvasir", n_images=6, size=(64, 64), seed=0, layout="kvasir")
    listed = make_lesion_datalist(kvasir, tmp_path / "k.json", layout="kvasir", fractions=(0.5, 0.0, 0.0, 0.5))
    assert len(listed["training"]) == 3 and listed["search"] == []  # JPEG masks pass the near-binary check


def test_make_lesion_datalist_errors_name_the_files(tmp_path):
    root = write_synthetic_dermoscopy(tmp_path / "data", n_images=4, size=(64, 64), seed=0)
    out = tmp_path / "d.json"
    (root / "masks" / "ISIC_0000001_segmentation.png").unlink()
    with pytest.raises(ValueError, match=r"image '.*ISIC_0000001\.jpg' has no mask: expected '.*ISIC_0000001_segm"):
        make_lesion_datalist(root, out)
    assert not out.exists()
    Image.new("L", (32, 64)).save(root / "masks" / "ISIC_0000001_segmentation.png")
    with pytest.raises(ValueError, match=r"'.*ISIC_0000001\.jpg' is 64 x 64 \(H x W\) but its mask .* is 64 x 32"):
        make_lesion_datalist(root, out)
    grey = np.zeros((64, 64), np.uint8)
    grey[:10], grey[10:20] = 128, 255
    Image.fromarray(grey).save(root / "masks" / "ISIC_0000001_segmentation.png")
    with pytest.raises(ValueError, match=r"ISIC_0000001_segmentation\.png' holds values \[0, 128, 255\]"):
        make_lesion_datalist(root, out)
    Image.fromarray((grey > 0).astype(np.uint8)).save(root / "masks" / "ISIC_0000001_segmentation.png")
    make_lesion_datalist(root, out, fractions=(1, 0, 0, 0))  # 0 / 1 masks are fine
    with pytest.raises(ValueError, match="fractions must be"):
        make_lesion_datalist(root, out, fractions=(0.5, 0.5))
    with pytest.raises(ValueError, match="no images matching 'images/\\*.png'"):
        make_lesion_datalist(root, out, image_pattern="images/*.png")
    with pytest.raises(ValueError, match="must contain"):
        make_lesion_datalist(root, out, mask_pattern="masks/x.png")


def test_ensure_lesion_datalist(tmp_path, caplog):
    data, datalist = tmp_path / "data", tmp_path / "datalist.json"
    with pytest.raises(ValueError, match="no datalist at"):
        ensure_lesion_datalist(data, datalist, synthetic_if_empty=False)
    with caplog.at_level("WARNING"):
        path = ensure_lesion_datalist(
            data, datalist, synthetic_if_empty=True, n_images=10, size=(64, 64), layout="kvasir"
        )
    assert "SYNTHETIC" in caplog.text
    written = json.loads(datalist.read_text())
    assert path == str(datalist) and sum(len(written[k]) for k in LESION_SPLITS) == 10
    datalist.write_text('{"training": []}')  # an existing datalist is used as it is
    assert ensure_lesion_datalist(data, datalist) == str(datalist)
    assert json.loads(datalist.read_text()) == {"training": []}
