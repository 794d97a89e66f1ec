"""Reading checkpoint files: wrappings are unwrapped, bad files are refused with messages naming the file."""

from __future__ import annotations

import collections
import pickle

import pytest
import torch

from mamba_monai.convert import convert_checkpoint, load_checkpoint_file, unwrap_state_dict
from tests.convert.fixture_tools import load_fixture


@pytest.fixture(scope="module")
def medmamba_state():
    return load_fixture("medmamba")["state_dict"]


@pytest.mark.parametrize(
    "wrap",
    [
        lambda s: {"model": s, "optimizer": {"state": {}}, "epoch": 7},
        lambda s: {"state_dict": s, "best_acc": 0.9},
        lambda s: {"model_state_dict": s},
        lambda s: {"net": s},
        lambda s: {f"module.{k}": v for k, v in s.items()},  # DataParallel
        lambda s: {"state_dict": {f"module.{k}": v for k, v in s.items()}},
        lambda s: {"checkpoint": 1, "model": {"state_dict": s}},
        lambda s: collections.OrderedDict(s),
    ],
    ids=["model", "state_dict", "model_state_dict", "net", "module-prefix", "nested-prefix", "double", "ordered"],
)
def test_wrapped_checkpoints_are_unwrapped(wrap, medmamba_state, tmp_path):
    path = tmp_path / "wrapped.pth"
    torch.save(wrap(medmamba_state), path)
    state = unwrap_state_dict(load_checkpoint_file(path))
    assert state.keys() == medmamba_state.keys()
    result = convert_checkpoint("medmamba", path, tmp_path / "out.pt")
    assert result.num_tensors == len(medmamba_state)


def test_truncated_file_is_refused(medmamba_state, tmp_path):
    path = tmp_path / "cut.pth"
    torch.save(medmamba_state, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.pth.*truncated or corrupt"):
        convert_checkpoint("medmamba", path, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_empty_and_missing_files_are_refused(tmp_path):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.pth' is empty"):
        load_checkpoint_file(empty)
    with pytest.raises(FileNotFoundError, match=r"nothere\.pth"):
        load_checkpoint_file(tmp_path / "nothere.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint at all\n")
    with pytest.raises(ValueError, match=r"notes\.pth.*not a PyTorch checkpoint"):
        load_checkpoint_file(text)


class Pickled:  # a class weights_only=True does not allow: loading it would import and run code
    def __init__(self):
        self.weight = torch.ones(2)


def test_pickled_objects_are_refused_not_executed(tmp_path):
    path = tmp_path / "model_object.pth"
    torch.save({"model": Pickled()}, path)
    with pytest.raises(ValueError, match=r"model_object\.pth.*objects other than tensors.*Pickled.*state_dict\(\)"):
        convert_checkpoint("medmamba", path, tmp_path / "out.pt")
    whole = tmp_path / "whole_module.pth"
    torch.save(torch.nn.Linear(2, 2), whole)
    with pytest.raises(ValueError, match=r"whole_module\.pth.*objects other than tensors.*Linear"):
        load_checkpoint_file(whole)
    legacy = tmp_path / "legacy.pkl"
    legacy.write_bytes(pickle.dumps({"a": Pickled()}, protocol=2))
    with pytest.raises(ValueError, match=r"legacy\.pkl"):
        load_checkpoint_file(legacy)


@pytest.mark.parametrize(
    "content, match",
    [
        ({"epoch": 3, "lr": 0.1}, r"does not hold a state dict.*'epoch': int"),
        ([torch.ones(2)], r"does not hold a state dict: a list"),
        ({"model": {"weight": [1, 2]}}, r"does not hold a state dict"),
        ({}, r"does not hold a state dict"),
    ],
)
def test_non_state_dict_contents_are_refused(content, match, tmp_path):
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(ValueError, match=r"odd\.pth.*" + match):
        convert_checkpoint("medmamba", path, tmp_path / "out.pt")
