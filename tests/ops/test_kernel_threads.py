"""Threads of the compiled kernel: several processes on one machine share its cores unless OMP_NUM_THREADS says."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

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


@pytest.mark.parametrize("dstate,length,pretend_writing", [(16, 200, False), (16, 200, True), (5, 130, True)])
def test_B_is_read_time_major_tile_by_tile(dstate, length, pretend_writing):
    """The kernel transposes B and C one tile at a time as blocks first need them; a block that finds another thread
    writing a tile transposes its own copy (pretend_writing forces that path for every tile)."""
    import torch

    from mamba_monai.ops.compiled import load_kernel

    B = torch.randn(2, 3, dstate, length)
    assert torch.equal(load_kernel()._probe_time_major(B, pretend_writing), B.transpose(2, 3).contiguous())


_ONE_THREAD_CALL = """
import os, torch
from mamba_monai.ops.compiled import load_kernel
from tests.ops.scan_inputs import make_inputs
torch.set_num_threads(1)  # no OpenMP worker is created while the inputs are made
kernel = load_kernel()
t = make_inputs(batch=2, dim=32, length=2048, dstate=16, groups=2, requires_grad=False)
args = [t[name] for name in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
dout = torch.randn_like(t["u"])
torch.set_num_threads(2)
threads = lambda: len(os.listdir("/proc/self/task"))
before = threads()
out, last, checkpoints = kernel.fwd(*args, True, True, 1)
kernel.bwd(dout, *args, True, checkpoints, 1)
after_kernel = threads()
t["B"].transpose(2, 3).contiguous()  # a torch copy of that size runs on torch's 2 threads: it starts a worker
print(before, after_kernel, threads())
"""


def test_a_one_thread_call_runs_on_one_thread():
    """The kernel's own copies and sums run inside its parallel loop on the call's threads, not as torch ops on
    torch's: a call on 1 thread starts no OpenMP worker (one that would then spin beside it)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, "-c", _ONE_THREAD_CALL], capture_output=True, text=True, timeout=600, cwd=root
    )
    assert done.returncode == 0, done.stderr[-2000:]
    before, after_kernel, after_torch = map(int, done.stdout.split()[-3:])
    assert after_kernel == before
    assert after_torch > before  # the check can see a worker start


def _thread_masks() -> set[str]:
    """Cpus_allowed_list of every thread of this process."""
    masks = set()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/status", encoding="ascii") as f:
                masks.update(line.split(":", 1)[1].strip() for line in f if line.startswith("Cpus_allowed_list"))
        except OSError:  # a thread that ended meanwhile
            pass
    return masks


needs_two_cpus = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2, reason="needs Linux and 2 CPUs"
)


@needs_two_cpus
def test_a_worker_on_the_callers_cpu_moves_off_it_and_keeps_its_mask():
    """Woken with no CPU idle, Linux tends to put an OpenMP worker on the caller's CPU (the two then share a core while
    a busy neighbour has the other). Here the caller is pinned to its CPU and a neighbour keeps the other CPU busy, so
    the OS often puts the worker next to the caller: before each task the worker moves off, so no task of the worker
    starts on the caller's CPU, and every thread's affinity mask is as before."""
    from mamba_monai.ops.compiled import load_kernel

    kernel = load_kernel()
    assert kernel.spread_threads() is True  # the shipped default
    cpus = sorted(os.sched_getaffinity(0))
    caller_cpu, other_cpu = cpus[0], cpus[1]
    kernel._probe_placement(4, 2, 0)  # the OpenMP workers exist before the caller is pinned (they inherit its mask)
    before = _thread_masks()
    neighbour = subprocess.Popen(
        [sys.executable, "-c", f"import os; os.sched_setaffinity(0, {{{other_cpu}}})\nwhile True: pass"]
    )
    try:
        os.sched_setaffinity(0, {caller_cpu})  # this (the calling) thread only
        try:
            time.sleep(0.2)
            worker_tasks = []
            for _ in range(10):
                moves, where = kernel._probe_placement(16, 2, 500)
                assert moves >= 0
                worker_tasks += [cpu for thread, cpu in where if thread != 0]
                time.sleep(0.02)  # let the worker fall asleep: the next call wakes it
        finally:
            os.sched_setaffinity(0, cpus)
    finally:
        neighbour.kill()
        neighbour.wait()
    assert worker_tasks, "no task ran on the worker thread"
    assert caller_cpu not in worker_tasks
    assert _thread_masks() == before


@needs_two_cpus
def test_placement_is_left_alone_when_turned_off_or_on_one_thread():
    from mamba_monai.ops.compiled import load_kernel

    kernel = load_kernel()
    assert kernel._probe_placement(4, 1, 0)[0] == -1  # one thread: nothing to watch
    was = kernel.spread_threads(False)
    try:
        assert kernel._probe_placement(4, 2, 0)[0] == -1
    finally:
        kernel.spread_threads(was)


@needs_two_cpus
def test_placement_is_left_alone_when_the_user_binds_threads():
    code = "from mamba_monai.ops.compiled import load_kernel; print(load_kernel()._probe_placement(4, 2, 0)[0])"
    for bind, expect_watched in (("true", False), ("", True)):
        env = {k: v for k, v in os.environ.items() if k != "OMP_PROC_BIND"}
        if bind:
            env["OMP_PROC_BIND"] = bind
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert (int(done.stdout.split()[-1]) >= 0) == expect_watched, (bind, done.stdout)
