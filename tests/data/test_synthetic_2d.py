"""Synthetic ultrasound and microscopy sets: on-disk format, determinism, speed, and learnability by a tiny CNN."""

from __future__ import annotations

import csv
import time

import numpy as np
import pytest
import torch
from PIL import Image

from mamba_monai.data.classification import make_classification_datalist
from mamba_monai.data.image_io import load_image_2d
from mamba_monai.data.synthetic.microscopy import MICROSCOPY_CLASSES, write_synthetic_microscopy
from mamba_monai.data.synthetic.ultrasound import ULTRASOUND_CLASSES, write_synthetic_ultrasound

WRITERS = {
    "ultrasound": (write_synthetic_ultrasound, ULTRASOUND_CLASSES, "L", 1),
    "microscopy": (write_synthetic_microscopy, MICROSCOPY_CLASSES, "RGB", 3),
}


def _rows(csv_path):
    with open(csv_path, newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_layout_csv_and_format(tmp_path, kind):
    writer, classes, mode, _ = WRITERS[kind]
    csv_path = writer(tmp_path, n_per_class=3, size=(48, 64), seed=0)
    assert csv_path == tmp_path / "labels.csv"
    rows = _rows(csv_path)
    assert list(rows[0]) == ["Image_path", "Plane", "Patient"]
    assert len(rows) == 3 * len(classes) and sorted({r["Plane"] for r in rows}) == sorted(classes)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(classes)
    for row in rows:
        path = tmp_path / row["Image_path"]
        assert path.parent.name == row["Plane"]
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == mode and image.size == (64, 48)  # (W, H)
    patients = {r["Patient"] for r in rows}
    assert len(patients) == 3  # default: n_per_class patients
    # every patient has an image of every class (as real patients have several planes)
    assert all({r["Plane"] for r in rows if r["Patient"] == p} == set(classes) for p in patients)
    assert len({r["Patient"] for r in _rows(writer(tmp_path / "few", n_per_class=4, size=(16, 16), n_patients=2))}) == 2
    # the CSV feeds a grouped datalist directly
    datalist = make_classification_datalist(csv_path, tmp_path / "dl.json", patient_column="Patient")
    assert datalist["classes"] == sorted(classes)


def test_ultrasound_sector_is_black_outside(tmp_path):
    csv_path = write_synthetic_ultrasound(tmp_path, n_per_class=1, size=(64, 64))
    for row in _rows(csv_path):
        pixels = np.asarray(Image.open(tmp_path / row["Image_path"]))
        assert pixels[:6, :6].max() == 0 and pixels[:6, -6:].max() == 0  # corners beside the apex
        assert pixels[20:50, 24:40].mean() > 10  # inside the fan there is tissue


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_same_seed_same_bytes(tmp_path, kind):
    writer = WRITERS[kind][0]
    writer(tmp_path / "a", n_per_class=2, size=(32, 32), seed=5)
    writer(tmp_path / "b", n_per_class=2, size=(32, 32), seed=5)
    writer(tmp_path / "c", n_per_class=2, size=(32, 32), seed=6)
    writer(tmp_path / "d", n_per_class=3, size=(32, 32), seed=5)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 2 * len(WRITERS[kind][1]) + 1
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    pngs = [name for name in files if name.suffix == ".png"]
    assert all((tmp_path / "a" / n).read_bytes() != (tmp_path / "c" / n).read_bytes() for n in pngs)
    # an image does not depend on how many others are drawn
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "d" / n).read_bytes() for n in pngs)


def test_bad_arguments():
    with pytest.raises(ValueError, match="2 to 6 class names"):
        write_synthetic_ultrasound("unused", classes=[f"c{i}" for i in range(7)])
    with pytest.raises(ValueError, match="unique"):
        write_synthetic_microscopy("unused", classes=["a", "a"])
    with pytest.raises(ValueError, match="folder name"):
        write_synthetic_microscopy("unused", classes=["a", "b/c"])
    with pytest.raises(ValueError, match="at least 8 x 8"):
        write_synthetic_ultrasound("unused", size=(4, 64))


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_generation_is_fast(tmp_path, kind):
    writer, classes = WRITERS[kind][:2]
    per_class = 100 // len(classes) + 1
    start = time.process_time()
    writer(tmp_path, n_per_class=per_class, size=(128, 128))
    assert time.process_time() - start < 5.0  # CPU seconds for 100+ images of 128 x 128


class _TinyCNN(torch.nn.Module):
    """Three strided convolutions and global max + mean pooling: ~6k parameters."""

    def __init__(self, in_channels: int, n_classes: int) -> None:
        super().__init__()
        layers, width = [], in_channels
        for out in (8, 16, 32):
            layers += [torch.nn.Conv2d(width, out, 3, stride=2, padding=1), torch.nn.ReLU()]
            width = out
        self.features = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(2 * width, n_classes)

    def forward(self, x):
        x = self.features(x)
        return self.head(torch.cat([x.amax((2, 3)), x.mean((2, 3))], 1))


def _load_set(root, channels, classes):
    rows = _rows(root / "labels.csv")
    images = np.stack([load_image_2d(root / r["Image_path"], channels=channels) for r in rows])
    labels = np.array([classes.index(r["Plane"]) for r in rows])
    return torch.from_numpy(images), torch.from_numpy(labels)


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_learnable_by_a_tiny_cnn_in_seconds(tmp_path, kind):
    """Trained on one seed's images, a tiny CNN classifies another seed's images (other patients) well above chance."""
    writer, classes, _, channels = WRITERS[kind]
    writer(tmp_path / "train", n_per_class=20, size=(64, 64), seed=0)
    writer(tmp_path / "test", n_per_class=8, size=(64, 64), seed=1)
    x_train, y_train = _load_set(tmp_path / "train", channels, classes)
    x_test, y_test = _load_set(tmp_path / "test", channels, classes)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads cost more than they give, above all on a busy machine
    try:
        accuracy, seconds = _train_and_test(channels, len(classes), x_train, y_train, x_test, y_test)
    finally:
        torch.set_num_threads(threads)
    print(f"{kind}: held-out accuracy {accuracy:.3f} after {seconds:.1f} s of training")
    assert accuracy >= 0.8, f"{kind}: held-out accuracy {accuracy:.3f} (chance {1 / len(classes):.3f})"


def _train_and_test(channels, n_classes, x_train, y_train, x_test, y_test):
    net = _TinyCNN(channels, n_classes)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    start = time.monotonic()
    for step in range(150):  # full batch; every other step horizontally flipped
        batch = x_train.flip(-1) if step % 2 else x_train
        loss = torch.nn.functional.cross_entropy(net(batch), y_train)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        accuracy = (net(x_test).argmax(1) == y_test).float().mean().item()
    return accuracy, time.monotonic() - start
