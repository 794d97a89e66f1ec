"""Classification datalists: folder and CSV sources, stratified / grouped seeded splits, up-front errors."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mamba_monai.data.classification import (
    ensure_classification_datalist,
    load_classification_classes,
    load_classification_datalist,
    make_classification_datalist,
)

SPLITS = ("training", "validation", "testing")
COUNTS = {"benign": 25, "malignant": 15, "normal": 10}


def _png(path: Path, size=(16, 16), value=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size, value, np.uint8)).save(path)
    return path


def _class_folders(root: Path, counts=COUNTS) -> None:
    for name, count in counts.items():
        for i in range(count):
            _png(root / name / f"{name}_{i:03d}.png", value=i)


def _resolved(datalist_path: Path, key: str) -> list[str]:
    return [item["image"] for item in load_classification_datalist(datalist_path, key)]


def test_class_folders_are_split_stratified_seeded_and_disjoint(tmp_path):
    _class_folders(tmp_path / "data")
    out = tmp_path / "lists" / "datalist.json"
    datalist = make_classification_datalist(tmp_path / "data", out, seed=3)
    assert json.loads(out.read_text()) == datalist
    assert datalist["classes"] == ["benign", "malignant", "normal"]

    # disjoint, complete, relative to the JSON's folder, labels follow the sorted class names
    seen = [entry["image"] for key in SPLITS for entry in datalist[key]]
    assert len(seen) == len(set(seen)) == sum(COUNTS.values())
    for key in SPLITS:
        for entry in datalist[key]:
            assert not os.path.isabs(entry["image"]) and entry["image"].startswith("../data/")
            assert (out.parent / entry["image"]).is_file()
            assert entry["label"] == datalist["classes"].index(entry["class_name"])
            assert Path(entry["image"]).parent.name == entry["class_name"]
    # 64 / 16 / 20 within every class (stratified: off by less than 2 images)
    for name, count in COUNTS.items():
        for key, fraction in zip(SPLITS, (0.64, 0.16, 0.20)):
            found = sum(entry["class_name"] == name for entry in datalist[key])
            assert abs(found - fraction * count) < 2, (name, key, found)
    # seeded: the same seed gives the same split, another seed another one
    again = make_classification_datalist(tmp_path / "data", tmp_path / "again.json", seed=3, relative=False)
    other = make_classification_datalist(tmp_path / "data", tmp_path / "other.json", seed=4)
    for key in SPLITS:
        assert _resolved(out, key) == [entry["image"] for entry in again[key]]
    assert _resolved(out, "testing") != _resolved(tmp_path / "other.json", "testing")
    assert other["classes"] == datalist["classes"]


def test_split_folders_are_kept_and_a_missing_validation_is_carved_from_training(tmp_path):
    root = tmp_path / "data"
    _class_folders(root / "train", {"a": 10, "b": 10})
    _class_folders(root / "val", {"a": 2, "b": 3})
    _class_folders(root / "test", {"a": 4, "b": 1})
    datalist = make_classification_datalist(root, tmp_path / "list.json")
    for key, folder in zip(SPLITS, ("train", "val", "test")):
        assert {Path(e["image"]).parts[-3] for e in datalist[key]} == {folder}
    assert Counter(e["class_name"] for e in datalist["testing"]) == {"a": 4, "b": 1}

    carved = tmp_path / "carved"
    _class_folders(carved / "Training", {"a": 10, "b": 10})
    with pytest.warns(UserWarning, match="no test folder"):
        datalist = make_classification_datalist(carved, tmp_path / "carved.json")
    assert datalist["testing"] == []
    assert Counter(e["class_name"] for e in datalist["validation"]) == {"a": 2, "b": 2}  # 0.16 / 0.8 of 10 each
    assert len(datalist["training"]) == 16


def test_csv_with_relative_and_absolute_paths_semicolons_and_suffix(tmp_path):
    images = tmp_path / "Images"
    rows = ["Image_name;Patient_num;Plane"]
    for i in range(30):
        plane = ("Fetal brain", "Fetal femur", "Other")[i % 3]
        path = _png(images / f"Patient{i // 3:05d}_Plane{i % 3}_{i}.png")
        name = f"Images/{path.stem}" if i % 2 else str(path.with_suffix(""))  # relative or absolute, no extension
        rows.append(f"{name};Patient{i // 3:05d};{plane}")
    (tmp_path / "FETAL_PLANES.csv").write_text("\n".join(rows) + "\n")
    datalist = make_classification_datalist(
        tmp_path / "FETAL_PLANES.csv",
        tmp_path / "out" / "datalist.json",
        csv_image_column="Image_name",
        csv_label_column="Plane",
        image_suffix=".png",
    )
    assert datalist["classes"] == ["Fetal brain", "Fetal femur", "Other"]
    assert sorted(len(datalist[k]) for k in SPLITS) == [5, 6, 19]  # largest remainder of 30 * (0.64, 0.16, 0.2)
    for key in SPLITS:
        for item in load_classification_datalist(tmp_path / "out" / "datalist.json", key):
            assert Path(item["image"]).is_file() and Path(item["image"]).parent == images
    assert load_classification_classes(tmp_path / "out" / "datalist.json") == datalist["classes"]


def test_patient_grouping_keeps_every_patient_in_one_split(tmp_path):
    rows = ["Image_path,Plane,Patient"]
    for i in range(60):
        patient = f"p{i % 15:02d}"
        plane = ("abdomen", "brain", "femur", "thorax")[(i * 7) % 4]
        rows.append(f"img/{i:03d}.png,{plane},{patient}")
        _png(tmp_path / "img" / f"{i:03d}.png")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    datalist = make_classification_datalist(tmp_path / "labels.csv", tmp_path / "dl.json", patient_column="Patient")
    patients = {key: {entry["patient"] for entry in datalist[key]} for key in SPLITS}
    assert all(patients[key] for key in SPLITS)
    assert not patients["training"] & patients["validation"]
    assert not patients["training"] & patients["testing"]
    assert not patients["validation"] & patients["testing"]
    assert sum(len(p) for p in patients.values()) == 15
    assert sum(len(datalist[key]) for key in SPLITS) == 60
    # without the patient column, patients do cross splits
    ungrouped = make_classification_datalist(tmp_path / "labels.csv", tmp_path / "ungrouped.json")
    assert "patient" not in ungrouped["training"][0]


def test_csv_errors_name_the_file_or_column(tmp_path):
    for i in range(6):
        _png(tmp_path / f"{i}.png")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("path,diagnosis\n" + "".join(f"{i}.png,{'ab'[i % 2]}\n" for i in range(6)))
    out = tmp_path / "dl.json"
    with pytest.raises(ValueError, match=r"no column 'Image_path', 'Plane'.*\['path', 'diagnosis'\]"):
        make_classification_datalist(csv_path, out)
    with pytest.raises(ValueError, match="no column 'Patient'"):
        make_classification_datalist(csv_path, out, "path", "diagnosis", patient_column="Patient")

    csv_path.write_text("path,diagnosis\n" + "".join(f"{i}.png,{'ab'[i % 2]}\n" for i in range(6)) + "gone.png,a\n")
    with pytest.raises(ValueError, match=r"gone\.png.*line 8"):
        make_classification_datalist(csv_path, out, "path", "diagnosis")

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    csv_path.write_text("path,diagnosis\n" + "".join(f"{i}.png,{'ab'[i % 2]}\n" for i in range(6)) + "broken.png,a\n")
    with pytest.raises(ValueError, match=r"cannot be read.*broken\.png"):
        make_classification_datalist(csv_path, out, "path", "diagnosis")

    _png(tmp_path / "tiny.png", size=(20, 40))
    csv_path.write_text("path,diagnosis\n" + "".join(f"{i}.png,{'ab'[i % 2]}\n" for i in range(6)) + "tiny.png,a\n")
    with pytest.raises(ValueError, match=r"smaller than the minimum size 32x32.*tiny\.png.* is 20x40"):
        make_classification_datalist(csv_path, out, "path", "diagnosis", min_size=32)
    make_classification_datalist(csv_path, out, "path", "diagnosis", min_size=(16, 16))  # 16 x 16 images pass
    with pytest.raises(ValueError, match=r"classes \['b'\].*not in classes"):
        make_classification_datalist(csv_path, tmp_path / "other.json", "path", "diagnosis", classes=["a", "c"])
    assert not (tmp_path / "other.json").exists()  # checks come before any writing

    # integer labels keep their numeric order (2 before 10)
    csv_path.write_text("path,diagnosis\n" + "".join(f"{i}.png,{(2, 10)[i % 2]}\n" for i in range(6)))
    assert make_classification_datalist(csv_path, out, "path", "diagnosis")["classes"] == ["2", "10"]


def test_folder_errors_name_the_class(tmp_path):
    root = tmp_path / "data"
    _class_folders(root, {"cats": 5, "dogs": 5})
    (root / "birds").mkdir()
    with pytest.raises(ValueError, match=r"class folder '.*birds' \(class 'birds'\) holds no images"):
        make_classification_datalist(root, tmp_path / "dl.json")

    split_root = tmp_path / "split"
    _class_folders(split_root / "train", {"cats": 5, "dogs": 5})
    _class_folders(split_root / "val", {"cats": 2, "dogs": 2, "birds": 1})
    _class_folders(split_root / "test", {"cats": 2, "dogs": 2})
    with pytest.raises(ValueError, match=r"'birds' \(1 image\(s\).*appear in validation but never in training"):
        make_classification_datalist(split_root, tmp_path / "dl.json")
    assert not (tmp_path / "dl.json").exists()

    # a class that misses training after the split is reported too: its only image belongs to a patient whose other
    # images (hence the patient's stratum) are of the common class, and that patient lands in validation or testing
    rare = tmp_path / "rare.csv"
    rows = [f"{i}.png,{'rare' if i == 0 else 'common'},p{i % 10}" for i in range(30)]  # 3 images per patient
    for i in range(30):
        _png(tmp_path / f"{i}.png")
    rare.write_text("Image_path,Plane,Patient\n" + "\n".join(rows) + "\n")
    for seed in range(20):
        try:
            make_classification_datalist(rare, tmp_path / "rare.json", seed=seed, patient_column="Patient")
        except ValueError as error:
            assert "'rare'" in str(error) and "never in training" in str(error)
            break
    else:
        pytest.fail("patient p0 reached training for every seed")

    stray = tmp_path / "stray"
    _class_folders(stray, {"cats": 3, "dogs": 3})
    _png(stray / "loose.png")
    with pytest.raises(ValueError, match=r"stray. holds images outside class folders \(loose\.png\)"):
        make_classification_datalist(stray, tmp_path / "dl.json")
    with pytest.raises(ValueError, match="does not exist"):
        make_classification_datalist(tmp_path / "nowhere", tmp_path / "dl.json")


def test_ensure_writes_synthetic_data_once_and_load_checks_keys(tmp_path):
    data, datalist = tmp_path / "data", tmp_path / "datalist.json"
    with pytest.raises(ValueError, match="no images under"):
        ensure_classification_datalist(data, datalist)
    with pytest.raises(ValueError, match="synthetic must be"):
        ensure_classification_datalist(data, datalist, synthetic="mri")
    with pytest.warns(UserWarning, match="SYNTHETIC microscopy"):
        path = ensure_classification_datalist(data, datalist, synthetic="microscopy", n_per_class=8, size=(32, 32))
    assert path == str(datalist) and (data / "labels.csv").is_file()
    content = json.loads(datalist.read_text())
    assert len(content["classes"]) == 4 and all("patient" in e for k in SPLITS for e in content[k])
    stamp = datalist.stat().st_mtime_ns
    assert ensure_classification_datalist(data, datalist, synthetic="microscopy") == str(datalist)
    assert datalist.stat().st_mtime_ns == stamp  # an existing datalist is used as it is

    # real data present: no synthetic data, the folder (or the named CSV) is used
    real = tmp_path / "real"
    _class_folders(real, {"x": 5, "y": 5})
    ensure_classification_datalist(real, tmp_path / "real.json", synthetic="ultrasound")
    assert load_classification_classes(tmp_path / "real.json") == ["x", "y"]

    with pytest.raises(ValueError, match=r"no list 'train'.*\['training', 'validation', 'testing'\]"):
        load_classification_datalist(datalist, "train")
    with pytest.raises(ValueError, match="does not exist"):
        load_classification_datalist(tmp_path / "missing.json")
