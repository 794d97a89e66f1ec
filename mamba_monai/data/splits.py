"""Seeded data splits: proportional, optionally stratified by class and grouped by patient."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["require_items", "split_indices", "split_sizes"]


def split_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """Integer sizes of splits of ``n`` items in the given proportions.

    Largest-remainder rounding (the sizes add up to ``n``), then every split with a positive fraction gets at least
    one item while there are enough items (taken from the largest split), so that e.g. a 20 % validation split of
    three cases is not empty.

    Args:
        n: number of items.
        fractions: non-negative proportions adding up to 1.
    """
    fractions = _check_fractions(fractions)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"split_sizes: n must be a non-negative integer, got {n!r}")
    exact = [f * n for f in fractions]
    sizes = [math.floor(e) for e in exact]
    by_remainder = sorted(range(len(exact)), key=lambda j: (-(exact[j] - sizes[j]), j))
    for j in by_remainder[: n - sum(sizes)]:
        sizes[j] += 1
    for j, fraction in enumerate(fractions):
        if fraction > 0 and sizes[j] == 0:
            largest = max(range(len(sizes)), key=lambda k: (sizes[k], -k))
            if sizes[largest] > 1:
                sizes[largest] -= 1
                sizes[j] += 1
    return sizes


def split_indices(
    n: int,
    fractions: Sequence[float],
    seed: int = 0,
    stratify: Sequence[Hashable] | None = None,
    groups: Sequence[Hashable] | None = None,
) -> list[list[int]]:
    """Split ``range(n)`` into disjoint parts of the given proportions, reproducibly.

    Items (or, with ``groups``, whole groups) are shuffled with ``seed``, ordered stratum by stratum, then dealt to
    the splits by smooth weighted round robin: each item goes to the split furthest behind its share. Without groups
    the split sizes are exactly :func:`split_sizes` and every stratum is spread over the splits in proportion (each
    split's count of a stratum is off by less than two items). With groups, no group crosses splits, and sizes
    (counted in items) are as close to the proportions as whole groups allow.

    Args:
        n: number of items.
        fractions: proportions of the splits, non-negative and adding up to 1, e.g. ``(0.7, 0.2, 0.1)``.
        seed: seed of the shuffle; the same arguments always give the same split.
        stratify: optional class label of each item (length ``n``); each class is spread over the splits in
            proportion. With ``groups``, a group's stratum is its most frequent label.
        groups: optional group id of each item (length ``n``), e.g. the patient: all items of a group land in the
            same split.

    Returns:
        one sorted list of indices per fraction.

    Example::

        train, val = split_indices(10, (0.8, 0.2), seed=0)
        train, val, test = split_indices(len(labels), (0.7, 0.15, 0.15), stratify=labels, groups=patient_ids)
    """
    fractions = _check_fractions(fractions)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"split_indices: n must be a non-negative integer, got {n!r}")
    for name, values in (("stratify", stratify), ("groups", groups)):
        if values is not None and len(values) != n:
            raise ValueError(f"split_indices: {name} has {len(values)} entries but n is {n}")

    # units: the things that are dealt out (single items, or all items of a group)
    if groups is None:
        units = [[i] for i in range(n)]
    else:
        members: dict[Hashable, list[int]] = {}
        for i, group in enumerate(groups):
            members.setdefault(group, []).append(i)
        units = list(members.values())
    if stratify is None:
        unit_strata = [0] * len(units)
    else:
        unit_strata = [_majority(stratify[i] for i in unit) for unit in units]

    rng = np.random.default_rng(seed)
    strata = sorted(set(unit_strata), key=repr)
    rank = {strata[k]: position for position, k in enumerate(rng.permutation(len(strata)))}
    shuffle_keys = rng.random(len(units))
    order = sorted(range(len(units)), key=lambda u: (rank[unit_strata[u]], shuffle_keys[u]))

    targets = split_sizes(n, fractions) if groups is None else [f * n for f in fractions]
    assigned = [0] * len(fractions)
    dealt = 0
    splits: list[list[int]] = [[] for _ in fractions]
    for u in order:
        size = len(units[u])
        dealt += size
        behind = [targets[j] * dealt / max(n, 1) - assigned[j] for j in range(len(fractions))]
        j = max(range(len(fractions)), key=lambda k: (behind[k], -k))
        assigned[j] += size
        splits[j].extend(units[u])
    return [sorted(s) for s in splits]


def _majority(labels) -> Hashable:
    counts = Counter(labels)
    return min(counts, key=lambda label: (-counts[label], repr(label)))


def _check_fractions(fractions: Sequence[float]) -> list[float]:
    fractions = [float(f) for f in fractions]
    if not fractions:
        raise ValueError("split fractions must not be empty")
    if any(not math.isfinite(f) or f < 0 for f in fractions):
        raise ValueError(f"split fractions must be finite and non-negative, got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must add up to 1, got {fractions} (sum {sum(fractions):.6g})")
    return fractions


def require_items(items: list, split: str, datalist: str) -> list:
    """``items`` when there are any; otherwise a clear error naming the datalist and the split.

    Args:
        items: the entries of one split.
        split: its name (e.g. ``"search"``).
        datalist: the datalist file, for the message.

    Raises:
        ValueError: the split is empty.
    """
    if not items:
        raise ValueError(
            f"the datalist '{datalist}' has no {split} split: make it with split fractions that give the {split} split "
            "some images (e.g. split_fractions [0.6, 0.1, 0.1, 0.2])"
        )
    return items
