"""SliceMamba, its supernet and genotypes: parameter counts of the originals, structure, shapes, size rule, paths,
gradients, extraction, checkpoints, JSON IO."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from mamba_monai.networks.blocks.genotype import SLICE_CHOICES, Genotype, random_genotype
from mamba_monai.networks.blocks.patch_expand import PatchExpand2D
from mamba_monai.networks.nets.slicemamba import SliceMamba, SliceMambaBlock, SliceMambaSupernet

TINY = {"dims": (8, 16, 32, 64), "depths": (1, 1, 1, 1), "depths_decoder": (1, 1, 1, 1), "d_state": 4}
TINY_GENES = 8  # sum(depths) + sum(depths_decoder)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# Counts of the original fAnchao1/SliceMamba @ 44c61b4 as built (VSSM(in_chans=3, num_classes=1, depths [2,2,9,2],
# depths_decoder [2,2,2,1]): Evaluation/template's retrained network and models/smunet's supernet). Published 35.80 M.
@pytest.mark.parametrize(
    "cls, expected, published",
    [(SliceMamba, 35_797_993, 35.80e6), (SliceMambaSupernet, 133_756_585, 133.76e6)],
)
def test_parameter_counts_of_the_originals(cls, expected, published):
    with torch.device("meta"):
        net = cls()
    assert n_params(net) == expected
    assert abs(expected - published) / published < 0.005


def test_structure_and_drop_path_schedule():
    genotype = random_genotype(0)
    with torch.device("meta"):
        net = SliceMamba(genotype=genotype)
        supernet = SliceMambaSupernet()
    assert [len(s) for s in net.encoder] == [2, 2, 9, 2] and [len(s) for s in net.decoder] == [2, 2, 2, 1]
    assert [b.dim for s in net.decoder for b in s] == [768, 768, 384, 384, 192, 192, 96]
    assert [b.strip for b in net.blocks()] == [SLICE_CHOICES[g] for g in genotype]
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for b in net.blocks()]  # Identity where the rate is 0
    assert np.allclose(rates[:15], np.linspace(0, 0.2, 15)) and np.allclose(rates[15:], np.linspace(0.2, 0, 7))
    position = supernet.encoder[2][4]
    assert [c.strip for c in position] == list(SLICE_CHOICES)
    assert all(c.drop_path.drop_prob == position[0].drop_path.drop_prob for c in position)
    assert [u.in_channels for u in net.upsamples] == [768, 384, 192] and net.final_expand.out_channels == 24


def test_patch_expand_is_a_pixel_shuffle():
    layer = PatchExpand2D(8, scale=2, norm_layer=lambda c: nn.Identity())
    x = torch.randn(2, 3, 5, 8)
    y = layer(x)
    expanded = layer.expand(x)  # (2, 3, 5, 16): channel (p1 * 2 + p2) * 4 + c goes to (2h + p1, 2w + p2, c)
    assert y.shape == (2, 6, 10, 4)
    for p1 in range(2):
        for p2 in range(2):
            assert torch.equal(y[:, p1::2, p2::2, :], expanded[..., (p1 * 2 + p2) * 4 : (p1 * 2 + p2 + 1) * 4])
    with pytest.raises(ValueError, match="multiple of scale"):
        PatchExpand2D(6, scale=4)


def test_block_is_prenorm_residual():
    block = SliceMambaBlock(8, strip=(2, 4), d_state=4).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x), x + block.mixer(block.norm(x)))
    assert block.strip == (2, 4)


def test_tiny_forward_non_square_and_grey_input():
    net = SliceMamba(in_channels=3, out_channels=2, **TINY).eval()
    assert len(net.genotype) == TINY_GENES and set(net.genotype) == {3}
    x = torch.randn(2, 3, 128, 256)
    with torch.no_grad():
        y = net(x)
        grey = net(x[:, :1])
    assert y.shape == (2, 2, 128, 256) and torch.isfinite(y).all()
    with torch.no_grad():
        assert torch.allclose(grey, net(x[:, :1].expand(-1, 3, -1, -1)))
    one = SliceMamba(in_channels=1, out_channels=1, **TINY)
    assert one(torch.randn(1, 1, 128, 128)).shape == (1, 1, 128, 128)
    with pytest.raises(ValueError, match=r"expects \(batch, 1, H, W\)"):
        one(torch.randn(1, 3, 128, 128))


def test_size_rule_follows_the_genotype():
    uniform = SliceMamba(**TINY)  # all (4, 4): stride-32 blocks need multiples of 4 * 32
    assert uniform.size_divisors() == (128, 128)
    with pytest.raises(ValueError, match=r"H must be a multiple of 128 .*strip ih = 4 at stride 32"):
        uniform(torch.randn(1, 3, 64, 128))
    with pytest.raises(ValueError, match=r"W of 128"):
        uniform(torch.randn(1, 3, 128, 96))
    # (4, 2) at the two stride-32 blocks (encoder stage 3, decoder stage 0): W only needs 64
    narrow = SliceMamba(genotype=[3, 3, 3, 2, 2, 3, 3, 3], **TINY)
    assert narrow.size_divisors() == (128, 64)
    assert narrow(torch.randn(1, 3, 128, 64)).shape == (1, 1, 128, 64)
    with pytest.raises(ValueError, match=r"\(64, 64\) is not supported"):
        narrow(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"W of 64 \(set by strip iw = 2 at stride 32 \(encoder stage 3 block 0\)\)"):
        SliceMamba(genotype=[0] * TINY_GENES, **TINY)(torch.randn(1, 3, 64, 96))
    with torch.device("meta"):
        supernet = SliceMambaSupernet()
    assert supernet.size_divisors() == (128, 128) and supernet.size_divisors([0] * 22) == (64, 64)


def test_supernet_paths_outputs_and_gradients():
    supernet = SliceMambaSupernet(out_channels=1, **TINY).eval()
    a, b = [3, 0, 1, 2, 3, 0, 1, 2], [0, 1, 2, 3, 0, 1, 2, 0]
    x = torch.randn(1, 3, 128, 128)
    y_a = supernet(x, a)
    with torch.no_grad():
        assert not torch.allclose(y_a, supernet(x, b))
    supernet.genotype = a  # as a path-sampling handler does before SupervisedTrainer calls network(x)
    with torch.no_grad():
        assert torch.equal(supernet(x), y_a)
    y_a.square().mean().backward()
    for part, genes in (("encoder", a[:4]), ("decoder", a[4:])):
        for s, gene in enumerate(genes):
            for choice, candidate in enumerate(getattr(supernet, part)[s][0]):
                grads = [p.grad for p in candidate.parameters()]
                if choice == gene:
                    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
                else:
                    assert all(g is None for g in grads), f"{part} stage {s} candidate {choice} got gradients"
    assert supernet.patch_embed.proj.weight.grad is not None and supernet.final_conv.weight.grad is not None
    supernet.genotype = None
    with pytest.raises(ValueError, match="no path to run"):
        supernet(x)


def test_extracted_network_reproduces_the_supernet_path():
    supernet = SliceMambaSupernet(out_channels=2, **TINY).eval()
    genotype = random_genotype(7, TINY["depths"], TINY["depths_decoder"])
    net = supernet.extract(genotype)
    assert isinstance(net, SliceMamba) and not net.training and net.genotype == genotype
    assert not any(t.is_meta for t in (*net.parameters(), *net.buffers()))
    assert n_params(net) == n_params(SliceMamba(out_channels=2, **TINY))
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(net(x), supernet(x, genotype))
        next(net.parameters()).add_(1.0)  # a copy: the supernet is untouched
        assert torch.equal(supernet(x, genotype), supernet(x, genotype.genes))
    assert not torch.equal(net.patch_embed.proj.weight, supernet.patch_embed.proj.weight)


def test_checkpoint_carries_the_genotype(tmp_path):
    source = SliceMamba(genotype=[0, 1, 2, 3, 0, 1, 2, 3], **TINY).eval()
    torch.save(source.state_dict(), tmp_path / "model.pt")
    state = torch.load(tmp_path / "model.pt", weights_only=True)
    assert state["_extra_state"]["genotype"] == [0, 1, 2, 3, 0, 1, 2, 3]
    target = SliceMamba(**TINY).eval()  # built with the default genotype
    target.load_state_dict(state)
    assert target.genotype == source.genotype and [b.strip for b in target.blocks()] == [
        b.strip for b in source.blocks()
    ]
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))
    deeper = SliceMamba(dims=(8, 16, 32, 64), depths=(1, 1, 2, 1), depths_decoder=(1, 1, 1, 1), d_state=4)
    with pytest.raises(ValueError, match="depths"):
        deeper.set_extra_state(state["_extra_state"])


def test_genotype_views_and_errors():
    genes = list(range(4)) * 5 + [0, 1]
    g = Genotype(genes)
    assert len(g) == 22 and tuple(g) == tuple(genes) and hash(g) == hash(Genotype(np.array(genes)))
    assert g.encoder_stage_genes() == [tuple(genes[0:2]), tuple(genes[2:4]), tuple(genes[4:13]), tuple(genes[13:15])]
    assert g.decoder_stage_genes() == [tuple(genes[15:17]), tuple(genes[17:19]), tuple(genes[19:21]), (genes[21],)]
    assert g.encoder_strips()[0] == [(2, 2), (2, 4)] and g.block_name(13) == "encoder stage 3, block 0"
    assert g.block_name(21) == "decoder stage 3, block 0"
    with pytest.raises(ValueError, match=r"genotype has 21 genes, expected 22"):
        Genotype(genes[:21])
    bad = genes.copy()
    bad[5] = 7
    with pytest.raises(ValueError, match=r"gene 5 \(encoder stage 2, block 1\) is 7.*0: \(2, 2\), 1: \(2, 4\)"):
        Genotype(bad)
    for value in (1.5, True, "3"):
        bad[5] = value
        with pytest.raises(ValueError, match="gene 5 .*must be ints"):
            Genotype(bad)
    with pytest.raises(ValueError, match="expected 8"):
        SliceMamba(genotype=genes, **TINY)
    assert len(Genotype.uniform(0, (1, 1), (1,))) == 3


def test_genotype_json_round_trip_and_errors(tmp_path):
    g = random_genotype(3)
    g.to_json(tmp_path / "best.json", score=0.81)
    record = json.loads((tmp_path / "best.json").read_text())
    assert record["genotype"] == list(g.genes) and record["score"] == 0.81 and record["depths"] == [2, 2, 9, 2]
    assert Genotype.from_json(tmp_path / "best.json") == g == Genotype.parse(str(tmp_path / "best.json"))
    (tmp_path / "bare.json").write_text(json.dumps(list(g.genes)))
    assert Genotype.from_json(tmp_path / "bare.json") == g
    (tmp_path / "short.json").write_text(json.dumps({"genotype": list(g.genes)[:21], "score": 1}))
    with pytest.raises(ValueError, match=r"short.json.*genotype has 21 genes, expected 22"):
        Genotype.from_json(tmp_path / "short.json")
    (tmp_path / "nokey.json").write_text(json.dumps({"arch": [0]}))
    with pytest.raises(ValueError, match="'genotype' list"):
        Genotype.from_json(tmp_path / "nokey.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        Genotype.from_json(tmp_path / "broken.json")
    with pytest.raises(ValueError, match="does not exist"):
        Genotype.from_json(tmp_path / "missing.json")
    tiny = random_genotype(3, TINY["depths"], TINY["depths_decoder"])
    tiny.to_json(tmp_path / "tiny.json")
    assert SliceMamba(genotype=tmp_path / "tiny.json", **TINY).genotype == tiny
    with pytest.raises(ValueError, match=r"for depths \(1, 1, 1, 1\), but depths \(2, 2, 9, 2\) was requested"):
        Genotype.from_json(tmp_path / "tiny.json", depths=(2, 2, 9, 2))


def test_random_genotype_sources():
    draws = [
        random_genotype(5),
        random_genotype(random.Random(5)),
        random_genotype(np.random.default_rng(5)),
        random_genotype(np.random.RandomState(5)),
        random_genotype(torch.Generator().manual_seed(5)),
        random_genotype(),
    ]
    assert all(len(d) == 22 and set(d) <= {0, 1, 2, 3} for d in draws)
    assert random_genotype(5) == draws[0] and len({d.genes for d in draws}) > 1
    assert len(set().union(*(random_genotype(i).genes for i in range(5)))) == 4
    with pytest.raises(ValueError, match="rng must be"):
        random_genotype("seed")
