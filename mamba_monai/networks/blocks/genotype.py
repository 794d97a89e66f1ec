"""SliceMamba genotypes: which strip sizes each block of the U-shaped network slices its feature map into.

A genotype holds one gene per block: the encoder blocks stage by stage, then the decoder blocks stage by stage (22 genes
with SliceMamba's depths (2, 2, 9, 2) and decoder depths (2, 2, 2, 1)). A gene indexes :data:`SLICE_CHOICES`, the
candidate strip sizes ``(ih, iw)`` of SliceMamba's adaptive slicing search:
``0: (2, 2), 1: (2, 4), 2: (4, 2), 3: (4, 4)``.

Genotypes read and write JSON such as ``{"genotype": [3, 1, ...], "depths": [2, 2, 9, 2],
"depths_decoder": [2, 2, 2, 1], "score": 0.81}`` (only ``"genotype"`` is required; other keys are kept by the writer
and ignored by the reader), and the original code's ``arch.pkl`` tuples convert with ``Genotype(tuple_of_ints)``.
"""

from __future__ import annotations

import json
import operator
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "DEFAULT_DECODER_DEPTHS",
    "DEFAULT_ENCODER_DEPTHS",
    "SLICE_CHOICES",
    "Genotype",
    "GenotypeLike",
    "random_genotype",
]

SLICE_CHOICES: tuple[tuple[int, int], ...] = ((2, 2), (2, 4), (4, 2), (4, 4))
"""Candidate strip sizes ``(ih, iw)`` of SliceMamba's search space; a gene is an index into this tuple."""

DEFAULT_ENCODER_DEPTHS: tuple[int, ...] = (2, 2, 9, 2)
DEFAULT_DECODER_DEPTHS: tuple[int, ...] = (2, 2, 2, 1)


def _choices_text() -> str:
    return ", ".join(f"{i}: {strip}" for i, strip in enumerate(SLICE_CHOICES))


def _as_depths(value: Sequence[int], name: str) -> tuple[int, ...]:
    try:
        depths = tuple(operator.index(d) for d in value)
    except TypeError:
        raise ValueError(f"Genotype: {name} must be a sequence of ints, got {value!r}") from None
    if not depths or min(depths) < 1:
        raise ValueError(f"Genotype: {name} must be non-empty with every stage depth >= 1, got {value!r}")
    return depths


@dataclass(frozen=True)
class Genotype:
    """The strip sizes of every block of a SliceMamba network, as one gene (an index into :data:`SLICE_CHOICES`)
    per block: encoder blocks first (stage 0 block 0, stage 0 block 1, ...), then decoder blocks (decoder stage 0 is
    the deepest, at the encoder's last resolution).

    Immutable and hashable, so search code can key dictionaries by it; ``tuple(genotype)`` gives the original code's
    architecture tuple.

    Args:
        genes: one int in ``0 .. len(SLICE_CHOICES) - 1`` per block (any sequence of ints, e.g. a list, a tuple, a
            numpy or torch integer array).
        depths: encoder blocks per stage.
        depths_decoder: decoder blocks per stage; the number of genes must be ``sum(depths) + sum(depths_decoder)``.

    Raises:
        ValueError: wrong number of genes (e.g. "genotype has 21 genes, expected 22 ..."), or a gene that is not an
            int or not a valid choice (the message names the gene, its block and the valid choices).
    """

    genes: tuple[int, ...]
    depths: tuple[int, ...] = DEFAULT_ENCODER_DEPTHS
    depths_decoder: tuple[int, ...] = DEFAULT_DECODER_DEPTHS

    def __post_init__(self) -> None:
        depths = _as_depths(self.depths, "depths")
        depths_decoder = _as_depths(self.depths_decoder, "depths_decoder")
        object.__setattr__(self, "depths", depths)
        object.__setattr__(self, "depths_decoder", depths_decoder)
        if isinstance(self.genes, (str, bytes)) or not hasattr(self.genes, "__len__"):
            raise ValueError(f"genotype must be a sequence of ints, got {self.genes!r}")
        raw = self.genes.tolist() if isinstance(self.genes, (np.ndarray, torch.Tensor)) else list(self.genes)
        expected = sum(depths) + sum(depths_decoder)
        if len(raw) != expected:
            raise ValueError(
                f"genotype has {len(raw)} genes, expected {expected} (one per block: sum(depths) = {sum(depths)} "
                f"encoder blocks for depths {depths}, sum(depths_decoder) = {sum(depths_decoder)} decoder blocks "
                f"for depths_decoder {depths_decoder})"
            )
        genes = []
        for i, value in enumerate(raw):
            try:
                if isinstance(value, bool):
                    raise TypeError
                gene = operator.index(value)
            except TypeError:
                raise ValueError(
                    f"genotype gene {i} ({_block_name(i, depths, depths_decoder)}) is {value!r} of type "
                    f"{type(value).__name__}; genes must be ints, valid choices are {_choices_text()}"
                ) from None
            if not 0 <= gene < len(SLICE_CHOICES):
                raise ValueError(
                    f"genotype gene {i} ({_block_name(i, depths, depths_decoder)}) is {gene}, not a valid choice; "
                    f"valid choices (gene: strip sizes (ih, iw)) are {_choices_text()}"
                )
            genes.append(gene)
        object.__setattr__(self, "genes", tuple(genes))

    # --- views ---------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.genes)

    def __iter__(self) -> Iterator[int]:
        return iter(self.genes)

    @property
    def encoder_genes(self) -> tuple[int, ...]:
        """The first ``sum(depths)`` genes."""
        return self.genes[: sum(self.depths)]

    @property
    def decoder_genes(self) -> tuple[int, ...]:
        """The last ``sum(depths_decoder)`` genes."""
        return self.genes[sum(self.depths) :]

    def encoder_stage_genes(self) -> list[tuple[int, ...]]:
        """Genes of each encoder stage, e.g. ``[g[0:2], g[2:4], g[4:13], g[13:15]]`` at the default depths."""
        return _split(self.encoder_genes, self.depths)

    def decoder_stage_genes(self) -> list[tuple[int, ...]]:
        """Genes of each decoder stage (deepest first), e.g. ``[g[15:17], g[17:19], g[19:21], g[21:22]]``."""
        return _split(self.decoder_genes, self.depths_decoder)

    def encoder_strips(self) -> list[list[tuple[int, int]]]:
        """Strip sizes ``(ih, iw)`` of each encoder block, per stage."""
        return [[SLICE_CHOICES[g] for g in stage] for stage in self.encoder_stage_genes()]

    def decoder_strips(self) -> list[list[tuple[int, int]]]:
        """Strip sizes ``(ih, iw)`` of each decoder block, per stage (deepest first)."""
        return [[SLICE_CHOICES[g] for g in stage] for stage in self.decoder_stage_genes()]

    def block_name(self, index: int) -> str:
        """Where gene ``index`` sits, e.g. ``"encoder stage 2, block 0"``."""
        if not 0 <= index < len(self.genes):
            raise IndexError(f"gene index {index} out of range for a genotype of {len(self.genes)} genes")
        return _block_name(index, self.depths, self.depths_decoder)

    def __str__(self) -> str:
        return f"Genotype({list(self.genes)})"

    # --- construction and IO -------------------------------------------------------------------------------------
    @classmethod
    def uniform(
        cls,
        gene: int = 3,
        depths: Sequence[int] = DEFAULT_ENCODER_DEPTHS,
        depths_decoder: Sequence[int] = DEFAULT_DECODER_DEPTHS,
    ) -> Genotype:
        """Every block with the same choice (default 3: strips (4, 4), the original BSS module's default)."""
        n = sum(_as_depths(depths, "depths")) + sum(_as_depths(depths_decoder, "depths_decoder"))
        return cls((gene,) * n, tuple(depths), tuple(depths_decoder))

    def to_dict(self, **extra: Any) -> dict[str, Any]:
        """JSON-ready dict ``{"genotype": [...], "depths": [...], "depths_decoder": [...], **extra}``."""
        return {
            "genotype": list(self.genes),
            "depths": list(self.depths),
            "depths_decoder": list(self.depths_decoder),
            **extra,
        }

    @classmethod
    def from_dict(
        cls,
        record: Mapping[str, Any],
        depths: Sequence[int] | None = None,
        depths_decoder: Sequence[int] | None = None,
        source: str = "genotype record",
    ) -> Genotype:
        """Read ``{"genotype": [...]}`` (plus optional ``"depths"``, ``"depths_decoder"``; other keys ignored).

        Args:
            record: the mapping.
            depths: encoder depths expected by the caller; checked against the record's if both are given, used if
                the record has none (default: SliceMamba's).
            depths_decoder: as ``depths``, for the decoder.
            source: how to name the record in error messages (e.g. the file path).
        """
        if not isinstance(record, Mapping) or "genotype" not in record:
            keys = sorted(record) if isinstance(record, Mapping) else type(record).__name__
            raise ValueError(f"{source}: expected a JSON object with a 'genotype' list, got {keys}")
        resolved = []
        for key, wanted, default in (
            ("depths", depths, DEFAULT_ENCODER_DEPTHS),
            ("depths_decoder", depths_decoder, DEFAULT_DECODER_DEPTHS),
        ):
            stored = record.get(key)
            if stored is not None and wanted is not None and tuple(stored) != tuple(wanted):
                raise ValueError(
                    f"{source}: the genotype is for {key} {tuple(stored)}, but {key} {tuple(wanted)} was requested"
                )
            resolved.append(tuple(stored if stored is not None else wanted if wanted is not None else default))
        try:
            return cls(record["genotype"], resolved[0], resolved[1])
        except ValueError as e:
            raise ValueError(f"{source}: {e}") from None

    def to_json(self, path: str | os.PathLike, **extra: Any) -> None:
        """Write ``to_dict(**extra)`` as JSON to ``path`` (e.g. ``genotype.to_json("best.json", score=0.81)``)."""
        with open(path, "w") as f:
            json.dump(self.to_dict(**extra), f, indent=2)
            f.write("\n")

    @classmethod
    def from_json(
        cls,
        path: str | os.PathLike,
        depths: Sequence[int] | None = None,
        depths_decoder: Sequence[int] | None = None,
    ) -> Genotype:
        """Read a genotype JSON file: an object with a ``"genotype"`` list (see :meth:`from_dict`) or a bare list.

        Args:
            path: the JSON file.
            depths: encoder depths expected by the caller (see :meth:`from_dict`).
            depths_decoder: decoder depths expected by the caller.
        """
        source = f"genotype file {os.fspath(path)!r}"
        try:
            with open(path) as f:
                record = json.load(f)
        except FileNotFoundError:
            raise ValueError(f"{source} does not exist") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{source} is not valid JSON: {e}") from None
        if isinstance(record, list):
            record = {"genotype": record}
        return cls.from_dict(record, depths, depths_decoder, source=source)

    @classmethod
    def parse(
        cls,
        value: GenotypeLike,
        depths: Sequence[int] | None = None,
        depths_decoder: Sequence[int] | None = None,
    ) -> Genotype:
        """A genotype from a :class:`Genotype`, a sequence of ints, a dict as in :meth:`from_dict` or a JSON path.

        Args:
            value: the genotype in any of those forms.
            depths: encoder depths the genotype must have (default: the value's own, else SliceMamba's).
            depths_decoder: decoder depths the genotype must have.
        """
        if isinstance(value, Genotype):
            for key, wanted in (("depths", depths), ("depths_decoder", depths_decoder)):
                if wanted is not None and tuple(getattr(value, key)) != tuple(wanted):
                    raise ValueError(
                        f"the genotype is for {key} {getattr(value, key)}, but {key} {tuple(wanted)} was requested"
                    )
            return value
        if isinstance(value, (str, os.PathLike)):
            return cls.from_json(value, depths, depths_decoder)
        if isinstance(value, Mapping):
            return cls.from_dict(value, depths, depths_decoder)
        return cls(
            value,
            DEFAULT_ENCODER_DEPTHS if depths is None else tuple(depths),
            DEFAULT_DECODER_DEPTHS if depths_decoder is None else tuple(depths_decoder),
        )


GenotypeLike = Genotype | Sequence[int] | Mapping[str, Any] | str | os.PathLike


def _block_name(index: int, depths: tuple[int, ...], depths_decoder: tuple[int, ...]) -> str:
    part, offset, stages = "encoder", index, depths
    if index >= sum(depths):
        part, offset, stages = "decoder", index - sum(depths), depths_decoder
    for stage, depth in enumerate(stages):
        if offset < depth:
            return f"{part} stage {stage}, block {offset}"
        offset -= depth
    return f"block {index}"


def _split(genes: tuple[int, ...], depths: tuple[int, ...]) -> list[tuple[int, ...]]:
    out, start = [], 0
    for depth in depths:
        out.append(genes[start : start + depth])
        start += depth
    return out


def random_genotype(
    rng: int | random.Random | np.random.Generator | np.random.RandomState | torch.Generator | None = None,
    depths: Sequence[int] = DEFAULT_ENCODER_DEPTHS,
    depths_decoder: Sequence[int] = DEFAULT_DECODER_DEPTHS,
) -> Genotype:
    """A genotype with every gene drawn uniformly from the choices (SPOS path sampling, as the original's
    ``tuple(np.random.randint(4) for i in range(22))``).

    Args:
        rng: source of randomness: a seed, ``random.Random``, numpy ``Generator`` / ``RandomState``,
            ``torch.Generator``, or None for numpy's global generator (what the original uses).
        depths: encoder blocks per stage.
        depths_decoder: decoder blocks per stage.
    """
    depths, depths_decoder = _as_depths(depths, "depths"), _as_depths(depths_decoder, "depths_decoder")
    n, k = sum(depths) + sum(depths_decoder), len(SLICE_CHOICES)
    if rng is None:
        genes = np.random.randint(k, size=n).tolist()
    elif isinstance(rng, random.Random):
        genes = [rng.randrange(k) for _ in range(n)]
    elif isinstance(rng, np.random.Generator):
        genes = rng.integers(k, size=n).tolist()
    elif isinstance(rng, np.random.RandomState):
        genes = rng.randint(k, size=n).tolist()
    elif isinstance(rng, torch.Generator):
        genes = torch.randint(k, (n,), generator=rng).tolist()
    elif isinstance(rng, int) and not isinstance(rng, bool):
        genes = np.random.default_rng(rng).integers(k, size=n).tolist()
    else:
        raise ValueError(
            "random_genotype: rng must be None, an int seed, random.Random, numpy Generator / RandomState or "
            f"torch.Generator, got {type(rng).__name__}"
        )
    return Genotype(tuple(genes), depths, depths_decoder)
