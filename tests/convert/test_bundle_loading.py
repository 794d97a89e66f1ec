"""A converted checkpoint loads into a bundle's ``network_def`` through MONAI's ``CheckpointLoader``, as the bundles'
inference.json / evaluate.json load ``models/model.pt``. The tiny fixtures need the sizes the converter reports as
overrides (exactly what a user passes for a checkpoint whose sizes differ from the bundle's defaults)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ignite.engine import Engine
from monai.bundle import ConfigParser
from monai.handlers import CheckpointLoader

from mamba_monai.convert import convert_checkpoint
from tests.convert.fixture_tools import load_fixture

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


def _bundle_network(bundle: str, overrides: dict) -> torch.nn.Module:
    parser = ConfigParser()
    parser.read_config(BUNDLES / bundle / "configs" / "inference.json")
    parser["bundle_root"] = str(BUNDLES / bundle)
    for key, value in overrides.items():
        parser[key] = value
    return parser.get_parsed_content("network_def", instantiate=True)


def _load_with_checkpoint_loader(network: torch.nn.Module, path: Path) -> None:
    """What the bundles' handlers do: CheckpointLoader(load_path=models/model.pt, load_dict={"model": network})."""
    engine = Engine(lambda engine, batch: None)
    CheckpointLoader(load_path=str(path), load_dict={"model": network}, map_location="cpu").attach(engine)
    engine.run([0], max_epochs=1)


def _convert(family: str, tmp_path: Path, **options):
    fixture = load_fixture(family)
    original = tmp_path / "original.pth"
    torch.save(fixture["state_dict"], original)
    out = tmp_path / "models" / "model.pt"
    return fixture, convert_checkpoint(family, original, out, **options), out


@pytest.mark.parametrize(
    "family, bundle, keys",
    [
        ("medmambase", "medmambase_ultrasound", ("in_channels", "depths", "dims", "d_state", "se_reduction")),
        ("senet", "senet_ultrasound", ("in_channels", "layers", "groups", "reduction", "inplanes")),
    ],
)
def test_bundle_network_loads_converted_checkpoint(family, bundle, keys, tmp_path, backend):
    backend("reference")
    fixture, result, out = _convert(family, tmp_path)
    overrides = {"num_classes": result.network_kwargs["num_classes"]}
    overrides.update({f"network_def#{key}": result.network_kwargs[key] for key in keys})
    network = _bundle_network(bundle, overrides).eval()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    _load_with_checkpoint_loader(network, out)
    assert any(not torch.equal(before[k], v) for k, v in network.state_dict().items())
    with torch.no_grad():
        output = network(fixture["input"])
    assert (output - fixture["output"]).abs().max() <= 1e-4 * fixture["output"].abs().max()


def test_bundle_network_with_wrong_sizes_is_refused_by_checkpoint_loader(tmp_path):
    """The bundle's default network (MedMambaSE 96..768) does not take the tiny checkpoint: loading fails loudly."""
    _, result, out = _convert("medmambase", tmp_path)
    network = _bundle_network("medmambase_ultrasound", {"num_classes": result.network_kwargs["num_classes"]})
    with pytest.raises(Exception, match=r"size mismatch|Missing key|Unexpected key"):
        _load_with_checkpoint_loader(network, out)


@pytest.mark.skipif(
    not (BUNDLES / "slicemamba_lesion" / "configs" / "inference.json").is_file(),
    reason="bundle slicemamba_lesion not present",
)
def test_slicemamba_bundle_loads_converted_checkpoint_and_genotype(tmp_path, backend):
    backend("reference")
    fixture, result, out = _convert("slicemamba", tmp_path, genotype=load_fixture("slicemamba")["genotype"])
    kwargs = result.network_kwargs
    overrides = {"ckpt_dir": str(out.parent), "network_def#out_channels": kwargs["out_channels"]}
    overrides.update({key: kwargs[key] for key in ("in_channels", "dims", "depths", "depths_decoder", "d_state")})
    network = _bundle_network("slicemamba_lesion", overrides).eval()
    assert list(network.genotype.genes) == fixture["genotype"]  # read from the genotype.json written next to OUT
    _load_with_checkpoint_loader(network, out)
    with torch.no_grad():
        output = network(fixture["input"])
    assert (output - fixture["output"]).abs().max() <= 1e-4 * fixture["output"].abs().max()
