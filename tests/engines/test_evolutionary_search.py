"""Evolutionary search: improves towards a target, resumes exactly, rejects bad settings, runs on a real supernet."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mamba_monai.engines.evolutionary_search import EvolutionarySearch, evolutionary_search
from mamba_monai.engines.supernet_scorer import SupernetScorer
from mamba_monai.networks.blocks.genotype import Genotype
from mamba_monai.networks.nets.slicemamba import SliceMamba, SliceMambaSupernet

TARGET = Genotype(tuple(np.random.default_rng(123).integers(4, size=22).tolist()))
SMALL = {"population": 12, "top_k": 4, "mutations": 5, "crossovers": 5, "mutation_prob": 0.1, "progress": False}


class MatchScorer:
    """Cheap fitness: how many genes equal the target's (second entry breaks ties by the first gene)."""

    names = ("matches", "first_gene")

    def __init__(self, fail_after: int | None = None):
        self.calls: list[Genotype] = []
        self.fail_after = fail_after

    def __call__(self, genotype):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls.append(genotype)
        return (sum(a == b for a, b in zip(genotype, TARGET)), genotype.genes[0])


def test_search_improves_towards_the_target_and_is_deterministic(tmp_path):
    runs = []
    for name in ("a", "b"):
        scorer = MatchScorer()
        record = EvolutionarySearch(
            scorer,
            tmp_path / f"{name}.json",
            generations=8,
            seed=5,
            plot_path=tmp_path / f"{name}.png",
            genotype_json=tmp_path / f"{name}_best.json",
            **SMALL,
        ).run()
        runs.append((scorer, record))
    (scorer, record), (_, other) = runs
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    best = [row["best"]["score"][0] for row in record["generations"]]
    assert best == sorted(best), "the best score so far can never drop"
    assert best[-1] >= best[0] + 6, f"no real progress: {best}"  # random genotypes match ~5.5 of 22
    # every candidate is recorded once, with its generation; nothing was scored twice
    genotypes = [tuple(c["genotype"]) for c in record["candidates"]]
    assert len(genotypes) == len(set(genotypes)) == len(scorer.calls) == 8 * SMALL["population"]
    assert [c["generation"] for c in record["candidates"]] == sorted(c["generation"] for c in record["candidates"])
    assert record["best"]["score"] == max(c["score"] for c in record["candidates"])
    assert (
        record["seed"] == 5
        and record["settings"]["population"] == 12
        and record["score_names"] == ["matches", "first_gene"]
    )
    # the best genotype file is what SliceMamba reads
    best_genotype = Genotype.from_json(tmp_path / "a_best.json")
    assert list(best_genotype.genes) == record["best"]["genotype"]
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_gives_the_uninterrupted_result_without_rescoring(tmp_path):
    full = MatchScorer()
    EvolutionarySearch(full, tmp_path / "full.json", generations=4, seed=1, **SMALL).run()

    first = MatchScorer()
    EvolutionarySearch(first, tmp_path / "resumed.json", generations=2, seed=1, **SMALL).run()
    assert json.loads((tmp_path / "resumed.json").read_text())["completed_generations"] == 2
    second = MatchScorer()
    EvolutionarySearch(second, tmp_path / "resumed.json", generations=4, seed=None, **SMALL).run()
    assert (tmp_path / "resumed.json").read_text() == (tmp_path / "full.json").read_text()
    assert not set(first.calls) & set(second.calls)
    assert len(first.calls) + len(second.calls) == len(full.calls)

    # interrupted in the middle of generation 1: the scored candidates of that generation are not scored again
    broken = MatchScorer(fail_after=SMALL["population"] + 5)
    with pytest.raises(KeyboardInterrupt):
        EvolutionarySearch(broken, tmp_path / "broken.json", generations=4, seed=1, **SMALL).run()
    rest = MatchScorer()
    EvolutionarySearch(rest, tmp_path / "broken.json", generations=4, seed=1, **SMALL).run()
    assert not set(broken.calls) & set(rest.calls)
    assert (tmp_path / "broken.json").read_text() == (tmp_path / "full.json").read_text()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"population": 0}, "population must be an integer >= 1"),
        ({"top_k": 20, "population": 10, "mutations": 2, "crossovers": 2}, r"top_k \(20\) must not exceed"),
        ({"population": 10, "top_k": 2, "mutations": 6, "crossovers": 6}, "mutations \\+ crossovers"),
        ({"mutation_prob": 1.5}, "mutation_prob must be in"),
        ({"generations": 2.5}, "generations must be an integer"),
        ({"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_invalid_settings_raise(tmp_path, settings, message):
    with pytest.raises(ValueError, match=message):
        EvolutionarySearch(MatchScorer(), tmp_path / "s.json", **{**SMALL, **settings})


def test_resume_with_other_settings_or_seed_raises(tmp_path):
    EvolutionarySearch(MatchScorer(), tmp_path / "s.json", generations=1, seed=0, **SMALL).run()
    with pytest.raises(ValueError, match="its population is 12"):
        EvolutionarySearch(MatchScorer(), tmp_path / "s.json", **{**SMALL, "population": 13}).run()
    with pytest.raises(ValueError, match="seed 0, not 9"):
        EvolutionarySearch(MatchScorer(), tmp_path / "s.json", seed=9, **SMALL).run()
    with pytest.raises(ValueError, match="must be callable"):
        EvolutionarySearch("not a scorer", tmp_path / "s.json")


def test_tiny_supernet_with_default_scorer(tmp_path):
    torch.manual_seed(0)
    tiny = {"dims": (8, 16, 32, 64), "depths": (1, 1, 1, 1), "depths_decoder": (1, 1, 1, 1), "d_state": 4}
    supernet = SliceMambaSupernet(in_channels=3, out_channels=1, **tiny)
    # 64 x 64 images: the stride-32 blocks (encoder stage 3, decoder stage 0) see 2 x 2 maps, so only strips (2, 2)
    data = [(torch.rand(2, 3, 64, 64), (torch.rand(2, 1, 64, 64) > 0.5).float())]
    scorer = SupernetScorer(supernet, data)
    supernet.train()
    best = evolutionary_search(
        scorer,
        tmp_path / "search.json",
        supernet=supernet,
        population=4,
        top_k=2,
        mutations=1,
        crossovers=1,
        generations=2,
        seed=0,
        progress=False,
        genotype_json=tmp_path / "genotype.json",
        plot_path=tmp_path / "p.png",
    )
    record = json.loads((tmp_path / "search.json").read_text())
    assert record["settings"]["image_size"] == [64, 64]
    assert record["settings"]["allowed_choices"][3] == [0] and record["settings"]["allowed_choices"][4] == [0]
    assert len(record["candidates"]) == 8 and record["score_names"] == ["iou", "dice"]
    for candidate in record["candidates"]:
        iou, dice = candidate["score"]
        assert 0 <= iou <= dice <= 1 and dice == pytest.approx(2 * iou / (1 + iou))
        assert candidate["genotype"][3] == candidate["genotype"][4] == 0
    assert supernet.training and supernet.genotype is None  # mode and path restored
    net = SliceMamba(genotype=tmp_path / "genotype.json", **tiny)
    assert net.genotype == best
    assert (tmp_path / "p.png").is_file()
    # the default scorer reproduces the recorded score
    assert list(scorer(best)) == pytest.approx(record["best"]["score"])


def test_image_size_no_genotype_fits(tmp_path):
    supernet = SliceMambaSupernet(dims=(8, 16, 32, 64), depths=(1, 1, 1, 1), depths_decoder=(1, 1, 1, 1), d_state=4)
    with pytest.raises(ValueError, match="no genotype can run on search images of size"):
        EvolutionarySearch(MatchScorer(), tmp_path / "s.json", supernet=supernet, image_size=(48, 64))
