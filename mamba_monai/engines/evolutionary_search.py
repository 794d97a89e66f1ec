"""Evolutionary architecture search over SliceMamba genotypes (SPOS style, as SliceMamba's ``search.py``), resumable.
The default scorer (paths of a trained supernet on a search split) is
:class:`~mamba_monai.engines.supernet_scorer.SupernetScorer`; the progress plot is
:func:`~mamba_monai.engines.search_plot.plot_search_progress`.

The search: a random initial population; after each generation the top-k of everything evaluated so far are the
parents; the next generation is ``mutations`` mutated parents (each gene resampled with ``mutation_prob``),
``crossovers`` children of two parents (each gene from one of them, uniformly) and random genotypes up to
``population``. No genotype is evaluated twice, and only genotypes the search images can run through are proposed
(the network's size rule: every block's map must be divisible by its strip sizes). Fitness is whatever the scorer
returns, compared lexicographically when it is a tuple (the default: ``(IoU, Dice)``, as the original's).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mamba_monai.engines.search_plot import plot_search_progress
from mamba_monai.networks.blocks.genotype import (
    DEFAULT_DECODER_DEPTHS,
    DEFAULT_ENCODER_DEPTHS,
    SLICE_CHOICES,
    Genotype,
)
from mamba_monai.utils.atomic_files import write_json_atomically
from mamba_monai.utils.wrapped_modules import unwrap_network

__all__ = ["EvolutionarySearch", "Score", "evolutionary_search"]

logger = logging.getLogger(__name__)

Score = tuple[float, ...]
_FORMAT = "mamba_monai.evolutionary_search/1"
_TRIES_PER_CANDIDATE = 10  # as the original: at most 10 x the wanted number of attempts per kind of candidate
_RESUMABLE_SETTINGS = ("generations",)  # settings that may change when a search is resumed


def _as_score(value: Any, genotype: Genotype) -> Score:
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        value = (value,)
    try:
        score = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"evolutionary search: the scorer returned {value!r} for {genotype}; expected a number or a tuple of "
            "numbers (higher is better, compared lexicographically)"
        ) from None
    if not score or not all(math.isfinite(v) for v in score):
        raise ValueError(f"evolutionary search: the scorer returned {value!r} for {genotype}, not finite numbers")
    return score


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"EvolutionarySearch: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class EvolutionarySearch:
    """Evolutionary search of the genotype with the best score (SliceMamba's adaptive slicing search).

    Every generation is written to ``output_json`` (atomically): the settings and seed, every candidate evaluated
    with its score and generation, per generation the best candidate of that generation, the best so far and the
    mean score of the top-k, and the overall best. With ``plot_path`` a PNG shows the best and mean top-k (first)
    score per generation; with ``genotype_json`` the best genotype is written as
    ``{"genotype": [...], "depths": [...], "depths_decoder": [...], "score": ...}``, which
    ``SliceMamba(genotype=path)`` / :meth:`Genotype.from_json` read.

    Resumable: when ``output_json`` exists (and ``resume``), the search continues after its last completed
    generation, and candidates already scored (also those of an interrupted generation) are not scored again. The
    result equals that of an uninterrupted run: the candidates of generation ``g`` are drawn from a generator seeded
    with ``(seed, g)`` and depend only on the generations before.

    From a bundle config (``search.json``)::

        "search": {"_target_": "mamba_monai.engines.EvolutionarySearch", "supernet": "@network",
                   "scorer": {"_target_": "mamba_monai.engines.SupernetScorer", "supernet": "@network",
                              "data": "@search#dataloader"},
                   "output_json": "$@output_dir + '/search.json'", "genotype_json": "$@bundle_root + '/genotype.json'"},
        "run": "$@search.run()"

    Args:
        scorer: ``scorer(genotype) -> score``, a number or a tuple of numbers, higher is better (e.g.
            :class:`SupernetScorer`).
        output_json: the search record (read to resume, rewritten after every evaluation).
        supernet: the supernet (optionally wrapped); gives ``depths``/``depths_decoder`` and, with ``image_size``,
            the size rule. Without it give ``depths`` and ``depths_decoder``.
        image_size: (H, W) of the search images: only genotypes whose size rule they meet are proposed. Default:
            ``scorer.image_size()`` when the scorer has it (as :class:`SupernetScorer`), else no size rule.
        depths: encoder depths (default: the supernet's, else SliceMamba's).
        depths_decoder: decoder depths (default: the supernet's, else SliceMamba's).
        population: candidates per generation (original: 50).
        top_k: parents kept from everything evaluated so far (original: 10).
        mutations: mutated parents per generation (original: 25).
        crossovers: crossed parents per generation (original: 25).
        mutation_prob: per-gene probability to resample it in a mutation (original: 0.1).
        generations: number of generations (original: 20).
        seed: seed of the search (``None``: the resumed record's, else a fresh one, recorded).
        constraint: optional ``constraint(genotype) -> bool`` that proposed genotypes must also meet.
        plot_path: PNG of the score per generation (optional).
        genotype_json: the best genotype in :meth:`Genotype.to_json` format (optional).
        resume: continue an existing ``output_json`` (``False``: start again and overwrite it).
        score_names: names of the score's entries, for the record and the plot (default: ``scorer.names`` if any).
        progress: show a tqdm progress bar.
    """

    def __init__(
        self,
        scorer: Callable[[Genotype], Any],
        output_json: str | os.PathLike,
        supernet: nn.Module | None = None,
        image_size: Sequence[int] | None = None,
        depths: Sequence[int] | None = None,
        depths_decoder: Sequence[int] | None = None,
        population: int = 50,
        top_k: int = 10,
        mutations: int = 25,
        crossovers: int = 25,
        mutation_prob: float = 0.1,
        generations: int = 20,
        seed: int | None = None,
        constraint: Callable[[Genotype], bool] | None = None,
        plot_path: str | os.PathLike | None = None,
        genotype_json: str | os.PathLike | None = None,
        resume: bool = True,
        score_names: Sequence[str] | None = None,
        progress: bool = True,
    ) -> None:
        if not callable(scorer):
            raise ValueError(f"EvolutionarySearch: scorer must be callable, got {type(scorer).__name__}")
        self.population = _count("population", population, 1)
        self.top_k = _count("top_k", top_k, 1)
        self.mutations = _count("mutations", mutations, 0)
        self.crossovers = _count("crossovers", crossovers, 0)
        self.generations = _count("generations", generations, 1)
        if self.top_k > self.population:
            raise ValueError(f"EvolutionarySearch: top_k ({top_k}) must not exceed population ({population})")
        if self.mutations + self.crossovers > self.population:
            raise ValueError(
                f"EvolutionarySearch: mutations + crossovers ({mutations} + {crossovers}) must not exceed population "
                f"({population})"
            )
        if isinstance(mutation_prob, bool) or not 0.0 <= float(mutation_prob) <= 1.0:
            raise ValueError(f"EvolutionarySearch: mutation_prob must be in [0, 1], got {mutation_prob!r}")
        self.mutation_prob = float(mutation_prob)
        if seed is not None:
            seed = _count("seed", seed, 0)
        self.seed = seed
        self.scorer = scorer
        self.constraint = constraint
        self.output_json = Path(output_json)
        self.plot_path = None if plot_path is None else Path(plot_path)
        self.genotype_json = None if genotype_json is None else Path(genotype_json)
        self.resume = bool(resume)
        self.progress = bool(progress)

        network = None if supernet is None else unwrap_network(supernet)
        if depths is None:
            depths = getattr(network, "depths", DEFAULT_ENCODER_DEPTHS)
        if depths_decoder is None:
            depths_decoder = getattr(network, "depths_decoder", DEFAULT_DECODER_DEPTHS)
        reference = Genotype.uniform(0, depths, depths_decoder)  # validates the depths
        self.depths, self.depths_decoder = reference.depths, reference.depths_decoder
        self.n_genes = len(reference)
        if network is not None and (tuple(network.depths), tuple(network.depths_decoder)) != (
            self.depths,
            self.depths_decoder,
        ):
            raise ValueError(
                f"EvolutionarySearch: depths {self.depths}/{self.depths_decoder} differ from the supernet's "
                f"{tuple(network.depths)}/{tuple(network.depths_decoder)}"
            )
        if image_size is None and hasattr(scorer, "image_size"):
            image_size = scorer.image_size()
        if image_size is not None:
            image_size = tuple(int(s) for s in image_size)
            if len(image_size) != 2 or min(image_size) < 1:
                raise ValueError(f"EvolutionarySearch: image_size must be (H, W), got {image_size}")
        self.image_size = image_size
        if score_names is None:
            score_names = getattr(scorer, "names", None)
        self.score_names = None if score_names is None else [str(n) for n in score_names]
        self.choices = self._allowed_choices(network)

    # --- search space ----------------------------------------------------------------------------------------------
    def _allowed_choices(self, network: nn.Module | None) -> list[tuple[int, ...]]:
        """The choices each gene may take at ``image_size``. The size rule is one condition per block, so a genotype
        is valid exactly when each of its genes is valid on its own (checked against the least demanding strips)."""
        every = [tuple(range(len(SLICE_CHOICES)))] * self.n_genes
        if self.image_size is None:
            return every
        if network is None or not hasattr(network, "size_divisors"):
            raise ValueError("EvolutionarySearch: image_size needs the supernet (its size rule decides what is valid)")
        h, w = self.image_size

        def fits(genes: Sequence[int]) -> bool:
            dh, dw = network.size_divisors(Genotype(tuple(genes), self.depths, self.depths_decoder))
            return h % dh == 0 and w % dw == 0

        smallest = min(range(len(SLICE_CHOICES)), key=lambda c: SLICE_CHOICES[c][0] * SLICE_CHOICES[c][1])
        base = [smallest] * self.n_genes
        if not fits(base):
            dh, dw = network.size_divisors(Genotype(tuple(base), self.depths, self.depths_decoder))
            raise ValueError(
                f"EvolutionarySearch: no genotype can run on search images of size {self.image_size}: H must be a "
                f"multiple of at least {dh} and W of {dw}"
            )
        allowed = []
        for i in range(self.n_genes):
            allowed.append(tuple(c for c in range(len(SLICE_CHOICES)) if fits(base[:i] + [c] + base[i + 1 :])))
        return allowed

    def _genotype(self, genes: Sequence[int]) -> Genotype:
        return Genotype(tuple(int(g) for g in genes), self.depths, self.depths_decoder)

    def _acceptable(self, genotype: Genotype) -> bool:
        if any(g not in allowed for g, allowed in zip(genotype.genes, self.choices)):
            return False
        return self.constraint is None or bool(self.constraint(genotype))

    def _random(self, rng: np.random.Generator) -> Genotype:
        return self._genotype([allowed[rng.integers(len(allowed))] for allowed in self.choices])

    def _mutate(self, rng: np.random.Generator, parents: list[Genotype]) -> Genotype:
        parent = parents[rng.integers(len(parents))]
        genes = list(parent.genes)
        for i, allowed in enumerate(self.choices):
            if rng.random() < self.mutation_prob:
                genes[i] = allowed[rng.integers(len(allowed))]
        return self._genotype(genes)

    def _cross(self, rng: np.random.Generator, parents: list[Genotype]) -> Genotype:
        first = parents[rng.integers(len(parents))]
        second = parents[rng.integers(len(parents))]
        take_first = rng.random(self.n_genes) < 0.5
        return self._genotype([a if t else b for a, b, t in zip(first.genes, second.genes, take_first)])

    def propose(self, generation: int, seen: set[Genotype], parents: list[Genotype], seed: int) -> list[Genotype]:
        """The candidates of ``generation``: mutations and crossovers of ``parents`` (none in generation 0), then
        random genotypes up to ``population``; never one in ``seen``, never twice."""
        rng = np.random.default_rng([seed, generation])
        chosen: list[Genotype] = []
        taken = set(seen)

        def fill(make: Callable[[], Genotype], wanted: int) -> None:
            target = len(chosen) + wanted
            for _ in range(_TRIES_PER_CANDIDATE * wanted):
                if len(chosen) >= target:
                    break
                genotype = make()
                if genotype not in taken and self._acceptable(genotype):
                    taken.add(genotype)
                    chosen.append(genotype)

        if parents:
            fill(lambda: self._mutate(rng, parents), self.mutations)
            fill(lambda: self._cross(rng, parents), self.crossovers)
        fill(lambda: self._random(rng), self.population - len(chosen))
        return chosen

    # --- record ----------------------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """What defines the search (compared with the record's when resuming)."""
        return {
            "population": self.population,
            "top_k": self.top_k,
            "mutations": self.mutations,
            "crossovers": self.crossovers,
            "mutation_prob": self.mutation_prob,
            "generations": self.generations,
            "depths": list(self.depths),
            "depths_decoder": list(self.depths_decoder),
            "image_size": None if self.image_size is None else list(self.image_size),
            "allowed_choices": [list(c) for c in self.choices],
        }

    def _load(self) -> dict[str, Any] | None:
        if not (self.resume and self.output_json.is_file()):
            return None
        import json

        try:
            record = json.loads(self.output_json.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(
                f"search record '{self.output_json}' is not valid JSON ({e}); delete it to start again"
            ) from None
        if not isinstance(record, dict) or record.get("format") != _FORMAT:
            raise ValueError(f"'{self.output_json}' is not an evolutionary search record (no format {_FORMAT!r})")
        stored, current = record["settings"], self.settings()
        for key in current:
            if key not in _RESUMABLE_SETTINGS and stored.get(key) != current[key]:
                raise ValueError(
                    f"cannot resume the search in '{self.output_json}': its {key} is {stored.get(key)!r} but this "
                    f"search has {current[key]!r} (use another output_json or resume=False)"
                )
        if self.seed is not None and record["seed"] != self.seed:
            raise ValueError(
                f"cannot resume the search in '{self.output_json}': it was run with seed {record['seed']}, not "
                f"{self.seed}"
            )
        return record

    def _entry(self, genotype: Genotype, score: Score, generation: int) -> dict[str, Any]:
        return {"genotype": list(genotype.genes), "score": list(score), "generation": generation}

    def _write(self, record: dict[str, Any]) -> None:
        write_json_atomically(self.output_json, record)

    def _summarise(self, record: dict[str, Any], scores: dict[Genotype, Score], born: dict[Genotype, int]) -> None:
        ranked = sorted(scores, key=lambda g: scores[g], reverse=True)  # stable: earlier candidates win ties
        top = ranked[: self.top_k]
        generation = record["completed_generations"]
        own = [g for g in ranked if born[g] == generation]
        mean = np.mean([scores[g] for g in top], axis=0).tolist()
        record["generations"].append(
            {
                "generation": generation,
                "evaluated": len(own),
                "best_in_generation": self._entry(own[0], scores[own[0]], generation) if own else None,
                "best": self._entry(top[0], scores[top[0]], born[top[0]]),
                "top_k_mean_score": mean,
                "top_k": [self._entry(g, scores[g], born[g]) for g in top],
            }
        )
        record["best"] = self._entry(top[0], scores[top[0]], born[top[0]])
        record["completed_generations"] = generation + 1

    # --- run -------------------------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Run (or continue) the search; returns the record written to ``output_json``."""
        from tqdm.auto import tqdm

        record = self._load()
        if record is None:
            seed = self.seed if self.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
            record = {
                "format": _FORMAT,
                "seed": seed,
                "settings": self.settings(),
                "score_names": self.score_names,
                "completed_generations": 0,
                "candidates": [],
                "generations": [],
                "best": None,
            }
        else:
            record["settings"] = self.settings()
            if self.score_names is not None:
                record["score_names"] = self.score_names
        seed = record["seed"]
        scores: dict[Genotype, Score] = {}
        born: dict[Genotype, int] = {}
        for entry in record["candidates"]:
            genotype = self._genotype(entry["genotype"])
            scores[genotype], born[genotype] = tuple(entry["score"]), int(entry["generation"])

        start = record["completed_generations"]
        total = max(self.generations - start, 0) * self.population
        with tqdm(total=total, desc="evolutionary search", disable=not self.progress, dynamic_ncols=True) as bar:
            for generation in range(start, self.generations):
                seen = {g for g, b in born.items() if b < generation}
                parents = self._parents(scores, seen)
                candidates = self.propose(generation, seen, parents, seed)
                if not candidates:
                    raise ValueError(
                        f"evolutionary search: no new valid genotype left to propose in generation {generation} "
                        f"({len(seen)} evaluated; the search space at this image size is exhausted)"
                    )
                for genotype in candidates:
                    if genotype not in scores:  # an interrupted generation's candidates keep their scores
                        scores[genotype] = _as_score(self.scorer(genotype), genotype)
                        born[genotype] = generation
                        record["candidates"].append(self._entry(genotype, scores[genotype], generation))
                        self._write(record)
                    bar.update(1)
                bar.update(self.population - len(candidates))
                self._summarise(record, {g: scores[g] for g in scores if born[g] <= generation}, born)
                best = record["best"]
                bar.set_postfix(best=",".join(f"{v:.4f}" for v in best["score"]))
                logger.info("generation %d: best %s score %s", generation, best["genotype"], best["score"])
                self._write(record)
                self._outputs(record)
        if start >= self.generations:
            self._outputs(record)
        return record

    def _parents(self, scores: dict[Genotype, Score], seen: set[Genotype]) -> list[Genotype]:
        ranked = sorted((g for g in scores if g in seen), key=lambda g: scores[g], reverse=True)
        return ranked[: self.top_k]

    def best_genotype(self, record: dict[str, Any] | None = None) -> Genotype:
        """The best genotype of a record (default: the one in ``output_json``)."""
        if record is None:
            import json

            record = json.loads(self.output_json.read_text())
        if not record.get("best"):
            raise ValueError(f"search record '{self.output_json}' has no completed generation yet")
        return self._genotype(record["best"]["genotype"])

    def _outputs(self, record: dict[str, Any]) -> None:
        if self.genotype_json is not None and record["best"]:
            best = record["best"]
            genotype = self._genotype(best["genotype"])
            extra = {"score": best["score"], "generation": best["generation"]}
            if record.get("score_names"):
                extra["score_names"] = record["score_names"]
            write_json_atomically(self.genotype_json, genotype.to_dict(**extra))
        if self.plot_path is not None and record["generations"]:
            plot_search_progress(record, self.plot_path)


def evolutionary_search(scorer: Callable[[Genotype], Any], output_json: str | os.PathLike, **kwargs: Any) -> Genotype:
    """Run :class:`EvolutionarySearch` (same arguments) and return the best genotype, e.g. from a bundle config
    ``"run": "$mamba_monai.engines.evolutionary_search(@scorer, @output_json, supernet=@network)"``."""
    search = EvolutionarySearch(scorer, output_json, **kwargs)
    return search.best_genotype(search.run())
