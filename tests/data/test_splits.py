"""Seeded, stratified, grouped splits."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamba_monai.data.splits import split_indices, split_sizes


@pytest.mark.parametrize(
    "n, fractions, sizes",
    [
        (10, (0.8, 0.2), [8, 2]),
        (9, (0.6, 0.25, 0.15), [6, 2, 1]),
        (3, (0.8, 0.2), [2, 1]),  # a positive fraction gets at least one item
        (2, (0.8, 0.1, 0.1), [1, 1, 0]),  # ... while there are items to spare
        (5, (1.0, 0.0), [5, 0]),
        (0, (0.5, 0.5), [0, 0]),
    ],
)
def test_split_sizes(n, fractions, sizes):
    assert split_sizes(n, fractions) == sizes


def test_seeded_disjoint_and_complete():
    first = split_indices(20, (0.7, 0.2, 0.1), seed=5)
    assert first == split_indices(20, (0.7, 0.2, 0.1), seed=5)
    assert [len(s) for s in first] == [14, 4, 2]
    assert sorted(i for s in first for i in s) == list(range(20))
    assert any(split_indices(20, (0.7, 0.2, 0.1), seed=s) != first for s in range(6, 9))


def test_stratified_split_keeps_class_proportions():
    labels = ["benign"] * 30 + ["malignant"] * 10
    for seed in range(5):
        train, val = split_indices(len(labels), (0.5, 0.5), seed=seed, stratify=labels)
        assert Counter(labels[i] for i in val) == {"benign": 15, "malignant": 5}
        assert len(train) == len(val) == 20


def test_unstratified_split_can_unbalance_classes():
    # the property above is not automatic: without stratification some seeds put 6+ malignant cases in one half
    labels = ["benign"] * 30 + ["malignant"] * 10
    counts = {Counter(labels[i] for i in split_indices(40, (0.5, 0.5), seed=s)[1])["malignant"] for s in range(10)}
    assert counts != {5}


def test_groups_never_cross_splits():
    patients = [f"p{i // 3}" for i in range(30)]  # 10 patients, 3 images each
    labels = [i // 15 for i in range(30)]
    parts = split_indices(30, (0.6, 0.2, 0.2), seed=0, stratify=labels, groups=patients)
    owners = [{patients[i] for i in part} for part in parts]
    assert not (owners[0] & owners[1]) and not (owners[0] & owners[2]) and not (owners[1] & owners[2])
    assert [len(p) for p in parts] == [18, 6, 6]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 4, "fractions": (0.5, 0.4)}, "add up to 1"),
        ({"n": 4, "fractions": (1.5, -0.5)}, "non-negative"),
        ({"n": 4, "fractions": ()}, "empty"),
        ({"n": -1, "fractions": (1.0,)}, "non-negative integer"),
        ({"n": 4, "fractions": (1.0,), "stratify": [0, 1]}, "stratify has 2 entries"),
        ({"n": 4, "fractions": (1.0,), "groups": [0]}, "groups has 1 entries"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_indices(**kwargs)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 60),
    weights=st.lists(st.integers(0, 10), min_size=1, max_size=4).filter(any),
    n_classes=st.integers(1, 4),
    group_size=st.one_of(st.none(), st.integers(1, 5)),
    seed=st.integers(0, 2**31),
)
def test_split_properties(n, weights, n_classes, group_size, seed):
    fractions = [w / sum(weights) for w in weights]
    labels = [i % n_classes for i in range(n)]
    groups = None if group_size is None else [i // group_size for i in range(n)]
    parts = split_indices(n, fractions, seed=seed, stratify=labels, groups=groups)
    assert parts == split_indices(n, fractions, seed=seed, stratify=labels, groups=groups)
    assert len(parts) == len(fractions)
    assert sorted(i for p in parts for i in p) == list(range(n))  # disjoint and complete
    if groups is None:
        sizes = split_sizes(n, fractions)
        assert [len(p) for p in parts] == sizes
        for c in range(n_classes):  # every class spread in proportion, to within one item per split
            members = [i for i in range(n) if labels[i] == c]
            for part, size in zip(parts, sizes):
                assert abs(sum(labels[i] == c for i in part) - size / max(n, 1) * len(members)) < 2
    else:
        for part in parts:
            for i in part:
                assert all(j in part for j in range(n) if groups[j] == groups[i])
        for part, fraction in zip(parts, fractions):  # within one group of its share
            assert abs(len(part) - fraction * n) <= group_size * len(fractions)
        for part, fraction in zip(parts, fractions):
            if fraction == 0:
                assert part == []
