#!/usr/bin/env python
"""The compiled scan on 1 and 2 threads while another process keeps one core busy (a shared machine, a torchrun
neighbour, a MONAI Label server), and without it: forward and forward+backward at the 2D shape.

A statically split parallel loop waits on the thread the OS deschedules, so on a busy machine 2 threads could be
slower than 1; the kernel hands out (batch, channel block) tasks one at a time, so a late thread holds back at most
the block it holds. The 1- and 2-thread calls alternate (the kernel's own ``threads`` argument), so the neighbour's
drift reaches both alike. Prints per case the medians, their ratio, and the spread of the per-round ratios (the worst
single call shows what the OS scheduler's placement costs). Example::

    python scripts/bench_scan_busy.py --repeats 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import time_interleaved  # noqa: E402
from bench_scan import SHAPES, make_inputs  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="2d", choices=sorted(SHAPES))
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (each runs every case once)")
    args = parser.parse_args(argv)
    from mamba_monai.ops.compiled import load_kernel

    kernel = load_kernel()
    x = make_inputs(SHAPES[args.shape], False)
    inputs = (x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"], True)
    _, _, checkpoints = kernel.fwd(*inputs, True, 0)  # threads 0: torch.get_num_threads()
    dout = torch.randn_like(x["u"])
    # the kernel's own `threads` argument: 1 and 2 threads alternate call by call, so drift in the neighbour's load
    # (and the OS's placement of it) reaches both alike
    calls = {}
    for threads in (1, 2):
        calls[("forward", threads)] = lambda t=threads: kernel.fwd(*inputs, False, t)
        calls[("backward", threads)] = lambda t=threads: kernel.bwd(dout, *inputs, checkpoints, t)
    rows = []
    for label, busy in (("one core busy", True), ("no neighbour", False)):
        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            time.sleep(1.0 if busy else 0.0)
            times, loads = time_interleaved(calls, args.repeats)
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
        for name in ("forward", "backward"):
            one, two = (1e3 * statistics.median(times[(name, t)]) for t in (1, 2))
            paired = sorted(b / a for a, b in zip(times[(name, 1)], times[(name, 2)]))
            slower = sum(r > 1.0 for r in paired)
            rows.append((label, name, one, two, paired, slower, max(loads)))
    print(
        f"{'machine':16}{'pass':10}{'1 thread':>12}{'2 threads':>12}{'2t / 1t':>9}{'pairs 2t/1t: min-median-max':>32}"
    )
    for label, name, one, two, paired, slower, load in rows:
        spread = f"{paired[0]:.2f} - {statistics.median(paired):.2f} - {paired[-1]:.2f}"
        print(
            f"{label:16}{name:10}{one:>10.1f}ms{two:>10.1f}ms{two / one:>9.2f}{spread:>32}"
            f"   2t slower in {slower}/{len(paired)} pairs; max load {load:.1f}"
        )
    print("medians of the interleaved calls; a pair = the 1-thread and 2-thread call of one round")
    print(f"1-min load average at the end: {os.getloadavg()[0]:.1f} (the busy neighbour counts as 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
