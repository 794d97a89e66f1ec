"""Synthetic data sets appear whole or not at all; an interrupted set is refused with the fix, never trained on."""

from __future__ import annotations

import pytest

from mamba_monai.data import ensure_brats_datalist, ensure_classification_datalist
from mamba_monai.data.synthetic import staging
from mamba_monai.data.synthetic.ultrasound import write_synthetic_ultrasound


def test_a_writer_killed_mid_set_leaves_the_folder_empty_and_the_rerun_is_whole(tmp_path, monkeypatch):
    data = tmp_path / "data"
    calls = {"n": 0}

    def dies_half_way(folder, **kwargs):
        write_synthetic_ultrasound(folder, **kwargs)  # writes part of the set ...
        calls["n"] += 1
        raise KeyboardInterrupt("killed")  # ... then the process is stopped

    with pytest.raises(KeyboardInterrupt):
        staging.write_staged(data, dies_half_way, n_per_class=2, size=(32, 32), seed=0)
    assert calls["n"] == 1
    assert not any(data.iterdir()), "a half-written synthetic set was left in the data folder"
    assert not list(tmp_path.glob(".data.synthetic-*")), "the stage folder was left behind"

    path = ensure_classification_datalist(data, tmp_path / "datalist.json", synthetic="ultrasound", n_per_class=2,
                                          size=(32, 32))  # fmt: skip
    assert (tmp_path / "datalist.json").is_file() and path == str(tmp_path / "datalist.json")
    assert not (data / staging.INCOMPLETE_MARKER).exists()


def test_a_set_interrupted_while_moving_in_is_refused_with_the_fix(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "BraTS2021_00000").mkdir()  # part of a set ...
    (data / staging.INCOMPLETE_MARKER).touch()  # ... and the marker of the interrupted move
    with pytest.raises(ValueError, match="writing was interrupted.*Delete the folder"):
        ensure_brats_datalist(data, tmp_path / "datalist.json", synthetic_if_empty=True)
    with pytest.raises(ValueError, match="writing was interrupted"):
        ensure_classification_datalist(data, tmp_path / "datalist2.json", synthetic="ultrasound")


def test_write_staged_maps_returned_paths_into_the_data_folder(tmp_path):
    csv_path = staging.write_staged(tmp_path / "d", write_synthetic_ultrasound, n_per_class=1, size=(16, 16), seed=1)
    assert str(csv_path).startswith(str(tmp_path / "d")) and (tmp_path / "d" / "labels.csv").is_file()
