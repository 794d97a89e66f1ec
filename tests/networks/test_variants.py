"""Variants by name: one table per network, looked up by ``variant=``; explicit sizes override the variant's; the
converter's families read the same tables."""

from __future__ import annotations

import pytest
import torch

from mamba_monai.convert import FAMILIES
from mamba_monai.networks import nets
from mamba_monai.networks.variants import variant_arguments

# network class -> (its table, the converter family that names its checkpoints)
TABLES = {
    nets.MedMamba: (nets.MEDMAMBA_VARIANTS, "medmamba"),
    nets.MedMambaSE: (nets.MEDMAMBASE_VARIANTS, "medmambase"),
    nets.MSMamba: (nets.MSMAMBA_VARIANTS, "msmamba"),
    nets.SegMamba: (nets.SEGMAMBA_VARIANTS, "segmamba"),
    nets.SliceMamba: (nets.SLICEMAMBA_VARIANTS, "slicemamba"),
}


@pytest.mark.parametrize("network", list(TABLES), ids=lambda cls: cls.__name__)
def test_every_variant_builds_with_its_sizes_and_the_converter_reads_the_same_table(network):
    table, family = TABLES[network]
    assert FAMILIES[family].variants is table
    for name, sizes in table.items():
        with torch.device("meta"):
            built = network(variant=name)
        built_sizes = {argument: getattr(built, argument) for argument in sizes}
        assert built_sizes == dict(sizes), name


def test_explicit_sizes_override_the_variant_and_unknown_names_are_listed():
    with torch.device("meta"):
        net = nets.SegMamba(variant="default", feature_size=(16, 32, 64, 128), hidden_size=128)
    assert net.feature_size == (16, 32, 64, 128) and net.hidden_size == 128
    assert variant_arguments("X", {"a": {"depths": (1,)}}, "a", depths=None) == {"depths": (1,)}
    with pytest.raises(ValueError, match=r"SliceMambaSupernet: variant must be one of \['default'\], got 'xl'"):
        nets.SliceMambaSupernet(variant="xl")
    with pytest.raises(ValueError, match=r"MSMamba: variant must be one of \['b', 's', 't'\], got 'T'"):
        nets.MSMamba(variant="T")


def test_earlier_names_still_resolve_for_existing_bundle_configs():
    from mamba_monai.convert import load_seresnext_pretrained

    assert nets.MicroscopicMamba is nets.MSMamba
    assert nets.load_seresnext_pretrained is load_seresnext_pretrained
    with pytest.raises(AttributeError, match="no attribute 'medmamba_t'"):
        nets.medmamba_t  # noqa: B018 - the factories were removed for variant="t"
