"""The ``mamba-monai convert`` command (python-fire): ``mamba-monai convert --from FAMILY IN.pth OUT.pt``."""

from __future__ import annotations

from typing import Any

__all__ = ["convert_command"]


def convert_command(
    in_path: str | None = None,
    out_path: str | None = None,
    variant: str | None = None,
    genotype: Any = None,
    overwrite: bool = False,
    **kwargs: Any,
) -> None:
    """Convert a checkpoint of an original repository into a checkpoint of this package's network.

    mamba-monai convert --from {medmamba,medmambase,msmamba,slicemamba,segmamba,senet} IN.pth OUT.pt [--variant V]
    [--genotype G] [--overwrite]

    The input is read with torch.load(weights_only=True) (pickled objects other than tensors are refused); state
    dicts under "model" / "state_dict" / ... and "module." prefixes are unwrapped. The network's sizes are inferred
    from the tensors, which must fit it exactly (otherwise the first mismatching keys are listed). OUT.pt is a plain
    state dict for a bundle's models/model.pt (MONAI CheckpointLoader).

    Args:
        in_path: the original checkpoint (.pth / .pt / .bin).
        out_path: the converted checkpoint to write.
        variant: check the checkpoint is this named variant, from the network's *_VARIANTS table (medmamba /
            msmamba: t, s, b; medmambase, segmamba, slicemamba: default; senet: seresnext50, seresnext101).
        genotype: slicemamba: the architecture (JSON file, the original's arch.pkl, or a list such as
            [3,1,...]); written to genotype.json next to OUT.pt.
        overwrite: replace OUT.pt if it exists.
        kwargs: --from FAMILY (also --family / --from_).
    """
    from mamba_monai.convert.convert import convert_checkpoint
    from mamba_monai.convert.families import FAMILIES

    if kwargs.pop("help", False) or kwargs.pop("h", False):  # fire hands --help to **kwargs
        print(convert_command.__doc__)
        return
    family = kwargs.pop("from", None) or kwargs.pop("from_", None) or kwargs.pop("family", None)
    if kwargs:
        raise SystemExit(f"mamba-monai convert: unknown option(s) {', '.join('--' + k for k in kwargs)}")
    if family is None or in_path is None or out_path is None:
        raise SystemExit(
            f"usage: mamba-monai convert --from {{{','.join(FAMILIES)}}} IN.pth OUT.pt [--variant V] "
            "[--genotype G] [--overwrite]"
        )
    try:
        result = convert_checkpoint(
            str(family), in_path, out_path, variant=variant, genotype=genotype, overwrite=overwrite
        )
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        raise SystemExit(f"mamba-monai convert: {error}") from None
    print(result.summary())
