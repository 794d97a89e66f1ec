#!/usr/bin/env python
"""Profile one SegMamba sliding window: time and GFLOP/s per module against the machine's GEMM and conv throughput.

In one process: (1) the machine's throughput, measured now: a 2048^3 GEMM and a 96->96 channel 3x3x3 convolution on a
48^3 map (contiguous and channels-last), float32 and bfloat16; (2) the FLOPs of every top-level module of SegMamba on
a ``(1, 4, W, W, W)`` window (``torch.utils.flop_counter``: convolutions and matrix products; the scan and the
elementwise work count zero), and (3) its time per module (forward hooks, after a warm-up on the same shape) in float32
and under bfloat16 autocast, for SegMamba as shipped (CPU fast path) and, with ``--plain``, without the fast path.

Example::

    python scripts/profile_segmamba.py --window 128        # the BraTS window; ~1-2 min on 2 cores
    python scripts/profile_segmamba.py --window 64 --plain
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict


def timed(fn, repeats: int = 2) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def machine_throughput() -> dict[str, float]:
    """GFLOP/s of a GEMM and of a 3D convolution, float32 and bfloat16, measured now."""
    import torch
    import torch.nn.functional as F

    out = {}
    a = torch.randn(2048, 2048)
    for name, t in (("fp32", a), ("bf16", a.bfloat16())):
        out[f"gemm {name}"] = 2 * 2048**3 / timed(lambda t=t: t @ t, 3) / 1e9
    x, w = torch.randn(1, 96, 48, 48, 48), torch.randn(96, 96, 3, 3, 3)
    flops = 2 * 96 * 96 * 27 * 48**3
    for layout, xx in (("contiguous", x), ("channels-last", x.contiguous(memory_format=torch.channels_last_3d))):
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            xd, wd = xx.to(dtype), w.to(dtype)
            out[f"conv3d {name} {layout}"] = flops / timed(lambda xd=xd, wd=wd: F.conv3d(xd, wd, padding=1)) / 1e9
    return out


def module_list(net):
    """(name, module) of the parts worth timing: the encoder's stages and the UNETR blocks."""
    enc = net.mamba_encoder
    parts = []
    for i in range(len(enc.stages)):
        parts += [(f"enc.down{i}", enc.downsample_layers[i]), (f"enc.gsc{i}", enc.gscs[i])]
        parts += [(f"enc.mamba{i}", enc.stages[i]), (f"enc.skip{i}", [enc.norms[i], enc.mlps[i]])]
    parts += [(n, m) for n, m in net.named_children() if n not in ("mamba_encoder", "deep_supervision_heads")]
    return parts


def flops_per_module(net, x) -> dict[str, float]:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(x)
    by_module = counter.get_flop_counts()
    out = {}
    for name, module in module_list(net):
        mods = module if isinstance(module, list) else [module]
        total = 0
        for m in mods:
            key = next((k for k, sub in net.named_modules() if sub is m), None)
            total += sum(by_module.get(f"SegMamba.{key}", {}).values()) if key else 0
        out[name] = total
    out["total"] = sum(by_module.get("Global", {}).values())
    return out


def time_per_module(net, x, autocast: bool) -> dict[str, float]:
    import torch

    times, starts, handles = defaultdict(float), {}, []
    for name, module in module_list(net):
        mods = module if isinstance(module, list) else [module]
        for m in mods:
            handles.append(
                m.register_forward_pre_hook(lambda _m, _i, n=name: starts.__setitem__(n, time.perf_counter()))
            )
            handles.append(
                m.register_forward_hook(
                    lambda _m, _i, _o, n=name: times.__setitem__(n, times[n] + time.perf_counter() - starts[n])
                )
            )
    ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast)
    with torch.no_grad(), ctx:
        net(x)  # warm-up on the same shape (oneDNN primitives, scan kernel)
        times.clear()
        start = time.perf_counter()
        net(x)
        times["total"] = time.perf_counter() - start
    for h in handles:
        h.remove()
    return dict(times)


def build(plain: bool):
    from torch import nn

    from mamba_monai.networks.blocks.fast_instance_norm import GroupNormInstanceNorm3d
    from mamba_monai.networks.nets import SegMamba

    net = SegMamba(channels_last=not plain).eval()
    if plain:
        for layer in net.modules():
            if type(layer) is GroupNormInstanceNorm3d:
                layer.__class__ = nn.InstanceNorm3d
    return net


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=int, default=128, help="window side, a multiple of 16 (default 128)")
    parser.add_argument("--plain", action="store_true", help="also profile SegMamba without its CPU fast path")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    args = parser.parse_args(argv)
    if args.window < 32 or args.window % 16:
        parser.error(f"--window must be a multiple of 16 and >= 32, got {args.window}")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    load0 = os.getloadavg()[0]
    peak = machine_throughput()
    print(f"machine throughput now ({torch.get_num_threads()} threads, load {load0:.1f}), GFLOP/s:")
    for k, v in peak.items():
        print(f"  {k:<32}{v:8.0f}")
    x = torch.randn(1, 4, args.window, args.window, args.window)
    variants = [("fast", build(False))] + ([("plain", build(True))] if args.plain else [])
    flops = flops_per_module(variants[0][1], x)
    results = {}
    for vname, net in variants:
        for prec in ("fp32", "bf16"):
            print(f"timing {vname} {prec} ...", file=sys.stderr, flush=True)
            results[(vname, prec)] = time_per_module(net, x, prec == "bf16")
    cols = list(results)
    print(f"\nSegMamba, one {args.window}^3 window, batch 1: seconds and GFLOP/s per module")
    print(f"  {'module':<14}{'GFLOP':>9}" + "".join(f"{v + ' ' + p:>22}" for v, p in cols))
    for name in [n for n, _ in module_list(variants[0][1])] + ["total"]:
        gf = flops.get(name, 0) / 1e9
        cells = []
        for key in cols:
            t = results[key].get(name)
            rate = f"{gf / t:7.0f}/s" if t and gf else f"{'':>9}"
            cells.append(f"{t:10.3f} s {rate}" if t is not None else f"{'-':>22}")
        print(f"  {name:<14}{gf:9.1f}" + "".join(f"{c:>22}" for c in cells))
    load1 = os.getloadavg()[0]
    print(f"\n1-min load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} cores (other jobs share the machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
