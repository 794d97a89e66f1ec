"""SeenItemsRecorder: which items a rank trained on, per epoch, written to a JSON file per rank."""

from __future__ import annotations

import json

import pytest
import torch
from ignite.engine import Engine
from monai.data import DataLoader, MetaTensor, decollate_batch, list_data_collate

from mamba_monai.engines.handlers.seen_items_recorder import SeenItemsRecorder, item_ids_from_batch


def items(n: int) -> list[dict]:
    def image(i: int) -> MetaTensor:
        return MetaTensor(torch.full((1, 2, 2), float(i)), meta={"filename_or_obj": f"case_{i}.png"})

    return [{"image": image(i)} for i in range(n)]


def test_collated_and_decollated_batches_give_one_id_per_item():
    batch = list_data_collate(items(3))
    assert item_ids_from_batch(batch) == ["case_0.png", "case_1.png", "case_2.png"]
    assert item_ids_from_batch(decollate_batch(batch)) == ["case_0.png", "case_1.png", "case_2.png"]


def test_an_item_named_by_several_files_is_named_by_the_first():
    item = {"image": MetaTensor(torch.zeros(4, 2), meta={"filename_or_obj": ["t1.nii", "t2.nii"]})}
    assert item_ids_from_batch([item]) == ["t1.nii"]


def test_records_every_item_of_every_epoch_and_writes_per_rank_file(tmp_path):
    loader = DataLoader(items(5), batch_size=2, shuffle=True)
    trainer = Engine(lambda engine, batch: None)
    recorder = SeenItemsRecorder(tmp_path / "seen_rank{rank}.json")
    recorder.attach(trainer)
    trainer.run(loader, max_epochs=2)
    record = json.loads((tmp_path / "seen_rank0.json").read_text())
    assert record["rank"] == 0 and record["world_size"] == 1
    assert set(record["epochs"]) == {"1", "2"}
    for seen in record["epochs"].values():
        assert sorted(seen) == [f"case_{i}.png" for i in range(5)]  # each item once per epoch


def test_without_rank_placeholder_rank_zero_writes_the_named_file(tmp_path):
    trainer = Engine(lambda engine, batch: None)
    recorder = SeenItemsRecorder(tmp_path / "seen.json")
    recorder.attach(trainer)
    trainer.run([list_data_collate(items(2))], max_epochs=1)
    assert json.loads((tmp_path / "seen.json").read_text())["epochs"] == {"1": ["case_0.png", "case_1.png"]}


def test_missing_key_or_metadata_is_named():
    with pytest.raises(ValueError, match="no key 'image'.*label"):
        item_ids_from_batch({"label": torch.zeros(1)})
    with pytest.raises(ValueError, match="carries no 'filename_or_obj' metadata"):
        item_ids_from_batch({"image": torch.zeros(1)})


def test_output_path_must_be_json(tmp_path):
    with pytest.raises(ValueError, match="must be a .json file.*seen.txt"):
        SeenItemsRecorder(tmp_path / "seen.txt")
