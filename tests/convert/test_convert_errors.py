"""The converter refuses what does not fit, and says what to do instead."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.convert import FAMILIES, convert_checkpoint, convert_state_dict, detect_families
from tests.convert.fixture_tools import load_fixture


@pytest.fixture(scope="module")
def fixtures():
    return {family: load_fixture(family) for family in ("medmamba", "medmambase", "senet", "slicemamba")}


def test_every_family_is_registered():
    assert set(FAMILIES) == {"medmamba", "medmambase", "msmamba", "slicemamba", "segmamba", "senet"}


@pytest.mark.parametrize("family", ["medmamba", "medmambase", "senet", "slicemamba"])
def test_detects_its_own_family_only(family, fixtures):
    assert detect_families(fixtures[family]["state_dict"]) == [family]


@pytest.mark.parametrize(
    "actual, requested",
    [
        ("medmambase", "medmamba"),
        ("medmamba", "medmambase"),
        ("senet", "slicemamba"),
        ("slicemamba", "senet"),
        ("medmamba", "segmamba"),
        ("slicemamba", "msmamba"),
    ],
)
def test_checkpoint_of_another_family_is_refused(actual, requested, fixtures, tmp_path):
    path = tmp_path / f"{actual}.pth"
    torch.save(fixtures[actual]["state_dict"], path)
    with pytest.raises(
        ValueError,
        match=rf"{actual}\.pth' looks like a {actual} checkpoint .*not {requested}: "
        rf"use --from {actual}",
    ):
        convert_checkpoint(requested, path, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_converted_checkpoint_is_recognised_again(fixtures, tmp_path):
    """Our own layout (e.g. a converted file converted twice) is that family too, and converts to itself."""
    first = convert_state_dict("medmambase", fixtures["medmambase"]["state_dict"])
    assert detect_families(first.state_dict) == ["medmambase"]
    again = convert_state_dict("medmambase", first.state_dict)
    assert again.state_dict.keys() == first.state_dict.keys()


def test_mismatch_lists_the_first_offending_keys(fixtures, tmp_path):
    state = dict(fixtures["medmamba"]["state_dict"])
    del state["layers.1.blocks.0.self_attention.A_logs"]
    state["layers.0.blocks.0.extra_gate.weight"] = torch.zeros(3)
    state["layers.0.blocks.0.conv33conv33conv11.0.weight"] = torch.zeros(5)
    for i in range(7):  # many unexpected keys: only the first few are listed, with a count
        state[f"aux_head.{i}.weight"] = torch.zeros(1)
    path = tmp_path / "edited.pth"
    torch.save(state, path)
    with pytest.raises(ValueError) as error:
        convert_checkpoint("medmamba", path, tmp_path / "out.pt")
    message = str(error.value)
    assert "edited.pth' does not fit MedMamba" in message
    assert "1 missing key(s): stages.1.0.ss2d.ssm.A_logs" in message
    assert "8 unexpected key(s): stages.0.0.extra_gate.weight, aux_head.0.weight" in message
    assert "... and 3 more" in message
    assert "1 tensor(s) of the wrong shape: stages.0.0.conv_branch.0.weight (5,) (network: (4,))" in message


def test_variant_is_checked(fixtures, tmp_path):
    path = tmp_path / "tiny.pth"
    torch.save(fixtures["medmamba"]["state_dict"], path)
    with pytest.raises(ValueError, match=r"not medmamba variant 't'.*'depths': \[1, 1, 2, 1\]"):
        convert_checkpoint("medmamba", path, tmp_path / "out.pt", variant="t")
    with pytest.raises(ValueError, match=r"unknown variant 'x'; known variants: t, s, b"):
        convert_checkpoint("medmamba", path, tmp_path / "out.pt", variant="x")


def test_full_size_variant_is_named(tmp_path):
    from mamba_monai.networks.nets import MedMamba

    state = MedMamba(num_classes=3, variant="t").state_dict()  # our layout, MedMamba-T sizes
    result = convert_state_dict("medmamba", state, variant="t")
    assert result.variant == "t" and result.network_kwargs["num_classes"] == 3


def test_output_is_not_overwritten_without_asking(fixtures, tmp_path):
    path = tmp_path / "a.pth"
    torch.save(fixtures["senet"]["state_dict"], path)
    out = tmp_path / "model.pt"
    out.write_bytes(b"trained weights")
    with pytest.raises(FileExistsError, match=r"model\.pt' exists; pass --overwrite"):
        convert_checkpoint("senet", path, out)
    assert out.read_bytes() == b"trained weights"
    convert_checkpoint("senet", path, out, overwrite=True)
    assert torch.load(out, weights_only=True).keys() >= {"layer0.conv1.weight", "last_linear.weight"}


def test_slicemamba_needs_a_fitting_genotype(fixtures, tmp_path):
    path = tmp_path / "retrained.pth"
    torch.save(fixtures["slicemamba"]["state_dict"], path)
    with pytest.raises(ValueError, match=r"does not record its architecture; pass --genotype"):
        convert_checkpoint("slicemamba", path, tmp_path / "out.pt")
    with pytest.raises(ValueError, match=r"genotype has 3 genes, expected 22"):
        convert_checkpoint("slicemamba", path, tmp_path / "out.pt", genotype=[0, 1, 2])
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['genotype'\]"):
        convert_state_dict("medmamba", fixtures["medmamba"]["state_dict"], genotype=[0])


def test_slicemamba_genotype_file_forms(fixtures, tmp_path):
    genotype = fixtures["slicemamba"]["genotype"]
    path = tmp_path / "retrained.pth"
    torch.save(fixtures["slicemamba"]["state_dict"], path)
    arch = tmp_path / "arch.pkl"  # the original's Evaluation/eval.py writes the architecture tuple with pickle
    import pickle

    arch.write_bytes(pickle.dumps(tuple(genotype), protocol=2))
    result = convert_checkpoint("slicemamba", path, tmp_path / "a" / "model.pt", genotype=str(arch))
    assert list(result.network_kwargs["genotype"].genes) == genotype
    # the written genotype.json is accepted back; a different one next to OUT is not replaced silently
    again = convert_checkpoint(
        "slicemamba", path, tmp_path / "a" / "model.pt", genotype=str(tmp_path / "a" / "genotype.json"), overwrite=True
    )
    assert list(again.network_kwargs["genotype"].genes) == genotype
    other = [3] * 13 + [0] * 4 + [3] * 5
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "genotype.json").write_text('{"genotype": ' + str(other) + "}")
    with pytest.raises(FileExistsError, match=r"holds another genotype"):
        convert_checkpoint("slicemamba", path, tmp_path / "b" / "model.pt", genotype=genotype)


def test_unknown_family():
    with pytest.raises(ValueError, match=r"unknown family 'vmamba'; --from must be one of: medmamba"):
        convert_state_dict("vmamba", {"a": torch.zeros(1)})


def test_unrelated_state_dict_says_what_it_saw(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).state_dict(), path)
    with pytest.raises(
        ValueError,
        match=r"resnet\.pth.*cannot convert as medmamba.*do not look like medmamba's; "
        r"first keys: 0\.weight",
    ):
        convert_checkpoint("medmamba", path, tmp_path / "out.pt")


def test_senet_backbone_without_head_points_to_pretrained_path(fixtures, tmp_path):
    state = {k: v for k, v in fixtures["senet"]["state_dict"].items() if not k.startswith("last_linear.")}
    path = tmp_path / "backbone.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"backbone\.pth.*no classifier head.*pretrained_path"):
        convert_checkpoint("senet", path, tmp_path / "out.pt")
