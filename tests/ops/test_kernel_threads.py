"""Threads of the compiled kernel: several processes on one machine share its cores unless OMP_NUM_THREADS says."""

from __future__ import annotations

import logging

import pytest

from mamba_monai.ops import compiled
from mamba_monai.ops.compiled import kernel_threads


@pytest.mark.parametrize(
    "env,cores,torch_threads,expected",
    [
        ({}, 8, 8, 8),  # one process: torch's choice
        ({"LOCAL_WORLD_SIZE": "4", "WORLD_SIZE": "8"}, 8, 8, 2),  # torchrun, 4 processes on this node
        ({"WORLD_SIZE": "2"}, 8, 8, 4),  # no local size: the world is taken as local
        ({"LOCAL_WORLD_SIZE": "3"}, 2, 2, 1),  # more processes than cores: still one thread
        ({"LOCAL_WORLD_SIZE": "2"}, 16, 4, 4),  # never more than torch's own setting
        ({"LOCAL_WORLD_SIZE": "4", "OMP_NUM_THREADS": "6"}, 8, 6, 6),  # the user's choice is kept
        ({"LOCAL_WORLD_SIZE": "1"}, 8, 8, 8),
        ({"LOCAL_WORLD_SIZE": "x"}, 8, 8, 8),  # unreadable: ignored
    ],
)
def test_kernel_threads(env, cores, torch_threads, expected):
    assert kernel_threads(env, cores=cores, torch_threads=torch_threads) == expected


def test_shared_machine_is_logged(caplog, monkeypatch):
    monkeypatch.setattr(compiled, "_logged_threads", None)  # logged once per thread count
    with caplog.at_level(logging.INFO, logger="mamba_monai.ops.compiled"):
        kernel_threads({"LOCAL_WORLD_SIZE": "5"}, cores=10, torch_threads=10)
    assert "2 thread(s) per process (10 cores shared by 5 processes" in caplog.text


def test_result_does_not_depend_on_thread_count():
    """Blocks are handed out dynamically; each writes only its own outputs, so 1 and 2 threads agree bit for bit."""
    import torch

    from mamba_monai.ops.compiled import load_kernel
    from tests.ops.scan_inputs import make_inputs

    kernel = load_kernel()
    t = make_inputs(batch=2, dim=40, length=300, dstate=16, groups=2, requires_grad=False)
    args = [t[name] for name in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    dout = torch.randn_like(t["u"])
    results = []
    for threads in (1, 2):
        out, last, checkpoints = kernel.fwd(*args, True, True, threads)
        results.append([out, last, *kernel.bwd(dout, *args, True, checkpoints, threads)])
    for one, two in zip(*results):
        assert torch.equal(one, two)
