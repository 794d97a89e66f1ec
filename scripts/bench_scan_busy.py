#!/usr/bin/env python
"""The compiled scan on 1 and 2 threads while another process keeps one core busy (a shared machine, a torchrun
neighbour, a MONAI Label server), and without it: forward and forward+backward at the 2D shape.

A statically split parallel loop waits on the thread the OS deschedules, so on a busy machine 2 threads could be
slower than 1; the kernel hands out (batch, channel block) tasks one at a time, so 2 threads should never lose.
Prints medians and the 2-thread / 1-thread ratio per case. Example::

    python scripts/bench_scan_busy.py --repeats 5
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
from bench_common import log, time_repeats  # noqa: E402
from bench_scan import SHAPES, make_inputs  # noqa: E402


def median_ms(call, threads: int, repeats: int) -> float:
    torch.set_num_threads(threads)
    return 1e3 * statistics.median(time_repeats(call, repeats, warmup=1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="2d", choices=sorted(SHAPES))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from mamba_monai.ops.compiled import load_kernel

    kernel = load_kernel()
    x = make_inputs(SHAPES[args.shape], False)
    inputs = (x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"], True)
    _, _, checkpoints = kernel.fwd(*inputs, True, 0)  # threads 0: torch.get_num_threads()
    dout = torch.randn_like(x["u"])
    calls = {
        "forward": lambda: kernel.fwd(*inputs, False, 0),
        "backward": lambda: kernel.bwd(dout, *inputs, checkpoints, 0),
    }
    rows = []
    for label, busy in (("one core busy", True), ("no neighbour", False)):
        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            time.sleep(1.0 if busy else 0.0)
            for name, call in calls.items():
                one, two = median_ms(call, 1, args.repeats), median_ms(call, 2, args.repeats)
                rows.append((label, name, one, two))
                log(f"{label}: {name} done")
        finally:
            if neighbour is not None:
                neighbour.kill()
                neighbour.wait()
    print(f"{'machine':16}{'pass':10}{'1 thread':>12}{'2 threads':>12}{'2t / 1t':>9}")
    for label, name, one, two in rows:
        print(f"{label:16}{name:10}{one:>10.1f}ms{two:>10.1f}ms{two / one:>9.2f}")
    print(f"1-min load average at the end: {os.getloadavg()[0]:.1f} (the busy neighbour counts as 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
