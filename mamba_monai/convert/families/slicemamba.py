"""SliceMamba (fAnchao1/SliceMamba) checkpoints: retrained networks (with their genotype) and supernets."""

from __future__ import annotations

import json
import pickle
from typing import Any

import torch
from torch import nn

from mamba_monai.convert.families.family import (
    Family,
    StateDict,
    any_key,
    load_strict,
    ssm_state_size,
    stage_depths,
    tensor_shape,
)
from mamba_monai.convert.renames.slicemamba import convert_slicemamba_state_dict
from mamba_monai.networks.blocks.genotype import Genotype
from mamba_monai.networks.nets.slicemamba import SLICEMAMBA_VARIANTS, SliceMamba, SliceMambaSupernet

__all__ = ["SLICEMAMBA"]


_SLICEMAMBA_PREFIX = r"^(?:module\.)?(?:smunet\.)?"


_NO_GENOTYPE = (
    "a retrained SliceMamba checkpoint does not record its architecture; pass --genotype (a JSON file such as the "
    "bundle's models/genotype.json, the original's arch.pkl, or a list of {n} ints in 0..3)"
)


def _slicemamba_rename(state: StateDict, genotype: Any = None) -> StateDict:
    depths = stage_depths(state, _SLICEMAMBA_PREFIX + r"(?:layers\.|encoder\.)(\d+)\.(?:blocks\.)?(\d+)\.")
    depths_decoder = stage_depths(state, _SLICEMAMBA_PREFIX + r"(?:layers_up\.|decoder\.)(\d+)\.(?:blocks\.)?(\d+)\.")
    parsed = None
    if genotype is not None:
        if not depths or not depths_decoder:
            raise ValueError("slicemamba: cannot tell the encoder / decoder depths from the checkpoint's keys")
        parsed = Genotype.parse(_read_genotype(genotype), depths, depths_decoder)
    retrained = _SLICEMAMBA_PREFIX + r"layers(?:_up)?\.\d+\.blocks\.\d+\.(?:ln_1|self_attention)\."
    if parsed is None and any_key(list(state), retrained):
        raise ValueError(_NO_GENOTYPE.format(n=sum(depths) + sum(depths_decoder)))
    converted = convert_slicemamba_state_dict(state, parsed)
    if parsed is not None and "_extra_state" not in converted:
        if any_key(list(converted), r"^encoder\.\d+\.\d+\.\d+\."):  # a supernet: take the path of the genotype
            kwargs = _slicemamba_infer(converted)
            with torch.device("meta"):
                supernet = SliceMambaSupernet(**kwargs)
            load_strict(supernet, converted, "slicemamba supernet")
            converted = supernet.subnet_state_dict(parsed)
        else:  # our own layout without a stored genotype
            converted["_extra_state"] = parsed.to_dict()
    elif parsed is not None:
        converted["_extra_state"] = parsed.to_dict()  # the given genotype wins over a stored one
    return converted


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Unpickles plain data only (tuples, lists, ints...): any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only plain data is accepted")


def _read_genotype(value: Any) -> Any:
    """The original's ``arch.pkl`` (a pickled tuple of ints) is read without allowing any class; anything else is
    passed to :meth:`Genotype.parse` (a list, a JSON file or a JSON list as text, a dict)."""
    if isinstance(value, str) and value.endswith((".pkl", ".pickle")):
        try:
            with open(value, "rb") as stream:
                loaded = _NoGlobalsUnpickler(stream).load()
            return [int(gene) for gene in loaded]
        except (OSError, pickle.UnpicklingError, EOFError, TypeError, ValueError) as error:
            raise ValueError(f"genotype file '{value}' cannot be read as a pickled sequence of ints: {error}") from None
    if isinstance(value, str) and value.strip().startswith("["):
        return json.loads(value)
    return value


def _slicemamba_infer(state: StateDict) -> dict[str, Any]:
    supernet = any_key(list(state), r"^encoder\.\d+\.\d+\.\d+\.")
    block = r"^{}\.(\d+)\.(\d+)\.(?:\d+\.)?norm\.weight$"
    depths = stage_depths(state, block.format("encoder"))
    depths_decoder = stage_depths(state, block.format("decoder"))
    if not depths or not depths_decoder:
        raise ValueError("slicemamba: cannot tell the encoder / decoder depths from the checkpoint's keys")
    norm = "encoder.{}.0.0.norm.weight" if supernet else "encoder.{}.0.norm.weight"
    kwargs: dict[str, Any] = {
        "in_channels": int(tensor_shape(state, "patch_embed.proj.weight", "slicemamba")[1]),
        "out_channels": int(tensor_shape(state, "final_conv.weight", "slicemamba")[0]),
        "dims": [int(tensor_shape(state, norm.format(s), "slicemamba")[0]) for s in range(len(depths))],
        "depths": depths,
        "depths_decoder": depths_decoder,
        "d_state": ssm_state_size(state, "slicemamba"),
    }
    if not supernet:
        if "_extra_state" not in state:
            raise ValueError(_NO_GENOTYPE.format(n=sum(depths) + sum(depths_decoder)))
        kwargs["genotype"] = Genotype.from_dict(state["_extra_state"], depths, depths_decoder, "slicemamba checkpoint")
    return kwargs


def _slicemamba_build(kwargs: dict[str, Any]) -> nn.Module:
    return SliceMamba(**kwargs) if "genotype" in kwargs else SliceMambaSupernet(**kwargs)


def _slicemamba_looks_like(keys: list[str]) -> bool:
    original = any_key(keys, _SLICEMAMBA_PREFIX + r"(layers_up\.\d+\.blocks\.|final_up\.)")
    ours = any_key(keys, r"^final_expand\.") and any_key(keys, r"^decoder\.\d+\.")
    return original or ours


def _slicemamba_notes(kwargs: dict[str, Any], keys: list[str]) -> list[str]:
    notes = [
        "the network outputs logits; the original's SMUNet wrapper applies a sigmoid when there is one class "
        "(use Activations(sigmoid=True) / DiceCELoss(sigmoid=True))"
    ]
    if "genotype" in kwargs:
        notes.append(
            "the genotype is stored in the checkpoint (extra state) and written to genotype.json next to it; "
            "bundle slicemamba_lesion: copy model.pt, genotype.json and model_meta.json into models/"
        )
    else:
        notes.append(
            "this is a supernet checkpoint (every strip choice at every block), for SliceMambaSupernet / "
            "models/supernet.pt; pass --genotype to extract one path as a SliceMamba for models/model.pt"
        )
    return notes


SLICEMAMBA = Family(
    name="slicemamba",
    original="fAnchao1/SliceMamba (supernet_mamba.py, VSSM / SMUNet)",
    network="mamba_monai.networks.nets.SliceMamba",
    rename=_slicemamba_rename,
    infer=_slicemamba_infer,
    build=_slicemamba_build,
    looks_like=_slicemamba_looks_like,
    variants=SLICEMAMBA_VARIANTS,
    notes=_slicemamba_notes,
    options=("genotype",),
)
