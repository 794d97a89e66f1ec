"""Single-path uniform sampling for training a weight-sharing supernet (SPOS, as SliceMamba's supernet training)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from mamba_monai.networks.blocks.genotype import Genotype, random_genotype
from mamba_monai.utils.wrapped_modules import unwrap_network

if TYPE_CHECKING:
    from ignite.engine import Engine

__all__ = ["RandomPathSampler"]


def _shared_seed(seed: int | None) -> int:
    """``seed``, or a fresh one; under ``torch.distributed`` rank 0's, so that every rank samples the same paths."""
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        box = [seed]
        torch.distributed.broadcast_object_list(box, src=0)
        seed = int(box[0])
    return int(seed)


class RandomPathSampler:
    """Ignite handler that gives the supernet a new uniformly random path (genotype) at every iteration, so that
    each training step trains one path of the weight-sharing supernet (single-path one-shot, uniform sampling, as the
    original SliceMamba's ``engine.py`` does with ``tuple(np.random.randint(4) for i in range(22))``).

    Attach it to MONAI's ``SupervisedTrainer`` (whose ``network(x)`` then runs the sampled path); it also works when
    the network is wrapped in ``DistributedDataParallel`` (the wrapper's ``.module`` gets the genotype; use
    ``find_unused_parameters=True``). Under ``torch.distributed`` every rank draws the same sequence of paths (the
    seed is broadcast from rank 0), so the gradients that DDP averages belong to one path. In a bundle config::

        "handlers": [{"_target_": "mamba_monai.engines.RandomPathSampler", "supernet": "@network", "seed": 42}]

    Args:
        supernet: a :class:`~mamba_monai.networks.nets.SliceMambaSupernet` (optionally wrapped), or any module with
            ``depths``, ``depths_decoder`` and a settable ``genotype``; ``None``: the engine's ``network``.
        seed: seed of the path sequence (``None``: a fresh one, shared across ranks).
        keep_history: how many of the latest sampled genotypes to keep in :attr:`history` (0: none).

    Attributes:
        num_sampled: how many paths were sampled so far.
        counts: how often each genotype was sampled (``collections.Counter`` keyed by :class:`Genotype`).
        last_genotype: the path of the current iteration.
        history: the latest ``keep_history`` sampled genotypes, oldest first.
    """

    def __init__(self, supernet: nn.Module | None = None, seed: int | None = None, keep_history: int = 1000) -> None:
        if keep_history < 0:
            raise ValueError(f"RandomPathSampler: keep_history must be >= 0, got {keep_history}")
        self.supernet = supernet
        self.seed = _shared_seed(seed)
        self.keep_history = int(keep_history)
        self._rng = np.random.default_rng(self.seed)
        self.num_sampled = 0
        self.counts: Counter[Genotype] = Counter()
        self.last_genotype: Genotype | None = None
        self.history: list[Genotype] = []

    def attach(self, engine: Engine) -> None:
        """Sample a path at every ``ITERATION_STARTED`` of ``engine``."""
        from ignite.engine import Events

        if not engine.has_event_handler(self, Events.ITERATION_STARTED):
            engine.add_event_handler(Events.ITERATION_STARTED, self)

    def _target(self, engine: Engine | None) -> nn.Module:
        network = self.supernet if self.supernet is not None else getattr(engine, "network", None)
        if network is None:
            raise ValueError("RandomPathSampler: no supernet given and the engine has no 'network' attribute")
        network = unwrap_network(network)
        for attribute in ("depths", "depths_decoder", "genotype"):
            if not hasattr(network, attribute):
                raise ValueError(
                    f"RandomPathSampler: {type(network).__name__} has no '{attribute}': expected a SliceMambaSupernet"
                )
        return network

    def sample(self, engine: Engine | None = None) -> Genotype:
        """Draw a uniformly random genotype, set it on the supernet and record it; returns it."""
        network = self._target(engine)
        genotype = random_genotype(self._rng, network.depths, network.depths_decoder)
        network.genotype = genotype
        self.num_sampled += 1
        self.counts[genotype] += 1
        self.last_genotype = genotype
        if self.keep_history:
            self.history.append(genotype)
            del self.history[: -self.keep_history]
        return genotype

    def __call__(self, engine: Engine) -> None:
        self.sample(engine)

    # --- checkpointing (ignite's CheckpointSaver / CheckpointLoader call these) ------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Seed, generator state and number of paths sampled, so that a resumed run continues the same sequence."""
        return {"seed": self.seed, "num_sampled": self.num_sampled, "rng_state": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (``counts`` and ``history`` restart empty)."""
        self.seed = int(state["seed"])
        self.num_sampled = int(state["num_sampled"])
        self._rng = np.random.default_rng(self.seed)
        self._rng.bit_generator.state = state["rng_state"]
