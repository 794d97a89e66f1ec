"""Which data items each rank trained on: a JSON file per rank, to check how a distributed sampler split the data.

With ``DistributedSampler`` every rank should see its own share of the training list; nothing in MONAI or Ignite
writes down what a rank actually received, so a wrong sampler (or none) goes unnoticed until the curves look odd.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ignite.distributed as idist
from ignite.engine import Engine, Events

from mamba_monai.utils.atomic_files import write_json_atomically

__all__ = ["SeenItemsRecorder", "item_ids_from_batch"]


def item_ids_from_batch(batch: Any, key: str = "image", meta_key: str = "filename_or_obj") -> list[str]:
    """Identifiers of the items of one batch: ``batch[key].meta[meta_key]`` of MONAI's MetaTensor, one per item.

    Works on a collated batch (a dict whose metadata holds one entry per item) and on a decollated one (a list of
    dicts, one per item, as MONAI's engines leave ``engine.state.batch`` after an iteration). An item named by
    several files (a list) is named by its first file. Each identifier is a string.

    Args:
        batch: a collated batch (a dict) or a list of per-item dicts.
        key: the batch key whose metadata names the items.
        meta_key: the metadata entry that names each item.

    Raises:
        ValueError: the batch has no ``key`` or ``key`` carries no ``meta_key`` metadata.
    """
    if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
        return [_first(_names(item, key, meta_key)) for item in batch]
    names = _names(batch, key, meta_key)
    if isinstance(names, (str, os.PathLike)):  # a single item that was never collated
        return [str(names)]
    return [_first(name) for name in names]


def _names(batch: Any, key: str, meta_key: str) -> Any:
    if not isinstance(batch, dict) or key not in batch:
        found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"SeenItemsRecorder: the batch has no key {key!r} (it has {found})")
    meta = getattr(batch[key], "meta", None)
    if not isinstance(meta, dict) or meta_key not in meta:
        raise ValueError(
            f"SeenItemsRecorder: batch[{key!r}] carries no {meta_key!r} metadata; load it with MONAI's LoadImaged "
            f"(a MetaTensor) or pass the key whose metadata names the items"
        )
    return meta[meta_key]


def _first(name: Any) -> str:
    return str(name[0] if isinstance(name, (list, tuple)) else name)


class SeenItemsRecorder:
    """Ignite handler: records the identifiers of the items a rank trained on, per epoch, and writes them to a JSON
    file of that rank after every epoch::

        {"rank": 0, "world_size": 2, "epochs": {"1": ["case_003_flair.nii.gz", ...]}}

    An identifier is ``batch[key].meta[meta_key]`` (the source file for images loaded by ``LoadImaged``), in the
    order the items arrived. Comparing the files of all ranks shows whether the ranks' shares were disjoint and
    covered the training list.

    Example (an override merged on top of ``multi_gpu_train.json``; attach it in ``run`` before the trainer runs)::

        {"seen_items": {"_target_": "mamba_monai.engines.handlers.seen_items_recorder.SeenItemsRecorder",
                        "output_path": "$@output_dir + '/seen_items_rank{rank}.json'"},
         "run": ["$@seen_items.attach(@train#trainer)", "$@train#trainer.run()"]}

    Args:
        output_path: the JSON file to write; ``{rank}`` in it is replaced by the process's rank (0 when not
            distributed). Without ``{rank}``, only rank 0 writes, so ranks never overwrite each other's file.
        key: the batch key whose metadata names the items.
        meta_key: the metadata entry that names each item.
    """

    def __init__(self, output_path: str | os.PathLike, key: str = "image", meta_key: str = "filename_or_obj") -> None:
        self.output_template = str(output_path)
        if not self.output_template.lower().endswith(".json"):
            raise ValueError(f"SeenItemsRecorder: output_path must be a .json file, got '{output_path}'")
        self.key = key
        self.meta_key = meta_key
        self.epochs: dict[str, list[str]] = {}

    @property
    def output_path(self) -> Path | None:
        """This rank's file, or ``None`` when the template has no ``{rank}`` and this is not rank 0."""
        rank = idist.get_rank()
        if "{rank}" in self.output_template:
            return Path(self.output_template.replace("{rank}", str(rank)))
        return Path(self.output_template) if rank == 0 else None

    def attach(self, engine: Engine) -> None:
        """Record after every iteration of ``engine``, write after every epoch."""
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.iteration_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)

    def iteration_completed(self, engine: Engine) -> None:
        """Add the identifiers of ``engine.state.batch`` to the current epoch's list."""
        ids = item_ids_from_batch(engine.state.batch, self.key, self.meta_key)
        self.epochs.setdefault(str(engine.state.epoch), []).extend(ids)

    def write(self, engine: Engine | None = None) -> Path | None:
        """Write this rank's record (atomically); returns the file written, if any."""
        path = self.output_path
        if path is None:
            return None
        record = {"rank": idist.get_rank(), "world_size": idist.get_world_size(), "epochs": self.epochs}
        return write_json_atomically(path, record)
