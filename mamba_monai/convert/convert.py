"""Convert a checkpoint of an original repository into a state dict of this package's network."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from mamba_monai.convert.checkpoint_io import load_checkpoint_file, save_state_dict, unwrap_state_dict
from mamba_monai.convert.families import FAMILIES, detect_families, get_family
from mamba_monai.convert.state_fit import fit_problems
from mamba_monai.networks.blocks.genotype import Genotype
from mamba_monai.utils.atomic_files import write_json_atomically
from mamba_monai.utils.listing import listing
from mamba_monai.utils.model_meta import write_model_meta

__all__ = ["ConversionResult", "convert_checkpoint", "convert_state_dict"]


@dataclass
class ConversionResult:
    """What :func:`convert_checkpoint` did.

    Attributes:
        family: the ``--from`` family.
        network: our network's class name.
        network_kwargs: the constructor arguments the checkpoint implies (build the network with them to load it).
        variant: the named variant these arguments equal, or ``None`` (custom sizes).
        num_tensors: tensors written.
        state_dict: the converted state dict (our keys).
        out_path: the written checkpoint (None when only converting in memory).
        extra_files: other files written (e.g. SliceMamba's ``genotype.json``).
        notes: what to know when using the checkpoint (options reproducing the original, bundle settings).
    """

    family: str
    network: str
    network_kwargs: dict[str, Any]
    variant: str | None
    num_tensors: int
    state_dict: dict[str, Any] = field(repr=False)
    out_path: Path | None = None
    extra_files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the terminal."""
        args = ", ".join(f"{k}={_plain(v)}" for k, v in self.network_kwargs.items())
        lines = [
            f"family:   {self.family} (variant: {self.variant or 'custom sizes'})",
            f"network:  {self.network}({args})",
            f"tensors:  {self.num_tensors} converted",
        ]
        if self.out_path is not None:
            lines.append(f"written:  {self.out_path}")
        lines += [f"written:  {path}" for path in self.extra_files]
        lines += [f"note:     {note}" for note in self.notes]
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    if hasattr(value, "genes"):  # a Genotype
        return list(value.genes)
    return list(value) if isinstance(value, tuple) else value


def convert_state_dict(
    family: str,
    state_dict: dict[str, Any],
    variant: str | None = None,
    source: str = "checkpoint",
    **options: Any,
) -> ConversionResult:
    """Convert an (unwrapped) original state dict; see :func:`convert_checkpoint`. Nothing is written."""
    spec = get_family(family)
    unknown = sorted({k for k, v in options.items() if v is not None} - set(spec.options))
    if unknown:
        raise ValueError(f"{family}: unknown option(s) {unknown}; this family takes {list(spec.options) or 'none'}")
    if variant is not None and variant not in spec.variants:
        raise ValueError(f"{family}: unknown variant {variant!r}; known variants: {', '.join(spec.variants)}")
    keys = list(state_dict)
    seen = detect_families(state_dict)
    if seen and family not in seen:
        example = next((k for k in keys if FAMILIES[seen[0]].looks_like([k])), keys[0])
        raise ValueError(
            f"{source} looks like a {' / '.join(seen)} checkpoint (e.g. key '{example}'), not {family}: "
            f"use --from {seen[0]}"
        )
    try:
        converted = spec.rename(state_dict, **{k: v for k, v in options.items() if v is not None})
        kwargs = spec.infer(converted)
    except (ValueError, KeyError) as error:
        hint = "" if seen else f" (its keys do not look like {family}'s; first keys: {listing(keys, 5)})"
        raise ValueError(f"{source}: cannot convert as {family}: {error}{hint}") from None
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        network = spec.build(kwargs)
    problems = fit_problems(network, converted)
    if problems:
        raise ValueError(
            f"{source} does not fit {type(network).__name__} as converted from {family} (sizes inferred from the "
            f"checkpoint: {kwargs}): " + "; ".join(problems)
        )
    try:
        network.load_state_dict(converted, strict=True, assign=True)  # also checks extra state (e.g. the genotype)
    except (RuntimeError, ValueError) as error:
        name = type(network).__name__
        raise ValueError(f"{source}: the converted tensors do not load into {name}: {error}") from None
    matching = [name for name, fixed in spec.variants.items() if all(_same(kwargs.get(k), v) for k, v in fixed.items())]
    if variant is not None and variant not in matching:
        actual = {k: _plain(kwargs.get(k)) for k in spec.variants[variant]}
        raise ValueError(
            f"{source} is not {family} variant {variant!r} ({dict(spec.variants[variant])}); the checkpoint has "
            f"{actual}" + (f", which is variant {matching[0]!r}" if matching else "")
        )
    return ConversionResult(
        family=family,
        network=type(network).__name__,
        network_kwargs=kwargs,
        variant=variant or (matching[0] if matching else None),
        num_tensors=sum(isinstance(v, torch.Tensor) for v in converted.values()),
        state_dict=converted,
        notes=spec.notes(kwargs, keys),
    )


def _same(a: Any, b: Any) -> bool:
    return list(a) == list(b) if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) else a == b


def convert_checkpoint(
    family: str,
    in_path: str | os.PathLike,
    out_path: str | os.PathLike,
    variant: str | None = None,
    genotype: Any = None,
    overwrite: bool = False,
) -> ConversionResult:
    """Map a checkpoint of an original repository onto this package's network and write it as a plain state dict
    that bundles load with MONAI's ``CheckpointLoader`` (``models/model.pt``).

    The file is read with ``weights_only=True``; a state dict wrapped in ``{"model": ...}``, ``{"state_dict": ...}``
    (etc.) or carrying ``module.`` prefixes is unwrapped. The network's sizes (stages, widths, classes, input
    channels, ...) are inferred from the tensors, the network is built and the converted tensors must fit it
    exactly; otherwise a ValueError lists the first missing / unexpected / mis-shaped keys.

    Args:
        family: one of :data:`~mamba_monai.convert.families.FAMILIES` (medmamba, medmambase, msmamba, slicemamba,
            segmamba, senet).
        in_path: the original checkpoint.
        out_path: where to write the converted state dict (its folder is created).
        variant: check that the checkpoint is this named variant (e.g. "t" for MedMamba-T).
        genotype: slicemamba only: the architecture (a list of ints, a JSON file, the original's ``arch.pkl``);
            required for a retrained network's checkpoint, and for a supernet checkpoint it selects the path to
            extract. Written to ``genotype.json`` next to ``out_path``.
        overwrite: replace an existing ``out_path``.

    Returns:
        a :class:`ConversionResult` (``.summary()`` for the terminal).
    """
    in_path, out_path = Path(in_path), Path(out_path)
    get_family(family)
    if out_path.exists() and not overwrite:
        raise FileExistsError(f"output file '{out_path}' exists; pass --overwrite to replace it")
    if out_path.exists() and in_path.exists() and out_path.resolve() == in_path.resolve():
        raise ValueError(f"output file '{out_path}' is the input file; write the converted checkpoint elsewhere")
    source = f"checkpoint file '{in_path}'"
    state = unwrap_state_dict(load_checkpoint_file(in_path), source)
    result = convert_state_dict(family, state, variant=variant, source=source, genotype=genotype)
    genotype_value = result.network_kwargs.get("genotype")
    genotype_path = out_path.parent / "genotype.json"
    if genotype_value is not None and genotype_path.exists() and not overwrite:
        _check_same_genotype(genotype_path, genotype_value)
    result.out_path = save_state_dict(result.state_dict, out_path)
    if genotype_value is not None:
        result.extra_files.append(write_json_atomically(genotype_path, genotype_value.to_dict()))
        # what the slicemamba_lesion bundle's inference reads (one rule for every bundle: models/model_meta.json)
        result.extra_files.append(write_model_meta(out_path.parent, {"genotype": genotype_value.to_dict()}))
    return result


def _check_same_genotype(path: Path, genotype: Any) -> None:
    """Refuse to replace a different genotype.json (e.g. a bundle's searched architecture) without --overwrite."""
    try:
        existing = Genotype.from_json(path, genotype.depths, genotype.depths_decoder)
    except ValueError:
        existing = None
    if existing is None or existing.genes != genotype.genes:
        raise FileExistsError(
            f"'{path}' exists and holds another genotype than the converted checkpoint's {list(genotype.genes)}; "
            "pass --overwrite to replace it"
        )
