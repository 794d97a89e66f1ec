"""RandomPathSampler: one random path per iteration of a real SupervisedTrainer; only that path learns."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Events
from monai.engines import SupervisedTrainer
from torch import nn

from mamba_monai.engines.path_sampler import RandomPathSampler
from mamba_monai.utils import unwrap_network
from mamba_monai.networks.blocks.genotype import Genotype
from mamba_monai.networks.nets.slicemamba import SliceMambaSupernet

TINY = {"dims": (8, 16, 32, 64), "depths": (1, 1, 1, 1), "depths_decoder": (1, 1, 1, 1), "d_state": 4}


def _positions(supernet):
    return [position for stage in (*supernet.encoder, *supernet.decoder) for position in stage]


def _candidates_with_gradients(supernet) -> list[tuple[int, ...]]:
    """Per block position, the candidate indices whose parameters all received a gradient."""
    out = []
    for position in _positions(supernet):
        got = []
        for choice, candidate in enumerate(position):
            grads = [p.grad for p in candidate.parameters()]
            if all(g is not None for g in grads):
                got.append(choice)
            else:
                assert all(g is None for g in grads), "a candidate was only partly used"
        out.append(tuple(got))
    return out


def test_sampler_in_supervised_trainer():
    torch.manual_seed(0)
    supernet = SliceMambaSupernet(in_channels=3, out_channels=1, **TINY)
    size = supernet.size_divisors()  # every genotype of the space runs at this size
    data = [{"image": torch.rand(1, 3, *size), "label": (torch.rand(1, 1, *size) > 0.5).float()} for _ in range(3)]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=data,
        network=supernet,
        optimizer=torch.optim.SGD(supernet.parameters(), lr=1e-3),
        loss_function=nn.BCEWithLogitsLoss(),
        optim_set_to_none=True,  # unused candidates keep grad None, so the check below sees one iteration only
    )
    sampler = RandomPathSampler(supernet, seed=3)
    sampler.attach(trainer)
    seen: list[tuple[Genotype, list[tuple[int, ...]]]] = []

    @trainer.on(Events.ITERATION_COMPLETED)
    def record(engine):
        seen.append((supernet.genotype, _candidates_with_gradients(supernet)))

    trainer.run()
    assert sampler.num_sampled == 3 and sum(sampler.counts.values()) == 3
    genotypes = [g for g, _ in seen]
    assert genotypes == sampler.history
    assert len(set(genotypes)) == 3, "the same path was sampled twice in a row"
    for genotype, with_grad in seen:
        assert with_grad == [(gene,) for gene in genotype.genes]


def test_sampler_unwraps_data_parallel_and_is_seeded():
    supernet = SliceMambaSupernet(**TINY)
    wrapped = nn.DataParallel(supernet)  # same `.module` contract as DistributedDataParallel
    assert unwrap_network(wrapped) is supernet

    class FakeEngine:
        network = wrapped

    first, second = RandomPathSampler(seed=7), RandomPathSampler(wrapped, seed=7)
    a = [first.sample(FakeEngine()) for _ in range(5)]
    b = [second.sample() for _ in range(5)]
    assert a == b and supernet.genotype == b[-1]
    assert len(set(a)) > 1

    resumed = RandomPathSampler(wrapped, seed=0)
    state = RandomPathSampler(wrapped, seed=7)
    state.sample()
    resumed.load_state_dict(state.state_dict())
    assert resumed.sample() == a[1] and resumed.num_sampled == 2


def test_sampler_rejects_a_plain_network():
    with pytest.raises(ValueError, match="no 'depths'"):
        RandomPathSampler(nn.Linear(2, 2), seed=0).sample()
    with pytest.raises(ValueError, match="keep_history"):
        RandomPathSampler(seed=0, keep_history=-1)
