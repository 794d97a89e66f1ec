#!/usr/bin/env python
"""Benchmark the selective scan: on CPU the compiled C++ kernel vs. the pure-PyTorch reference, against lower bounds;
with ``--device cuda`` every backend that runs on the GPU (``scripts/bench_scan_cuda.py``, described there).

For each shape this prints, in one run:

* forward and forward+backward wall time (median of ``--repeats`` calls after warm-up) of the ``compiled`` backend
  (``selective_scan_fn`` with ``MAMBA_MONAI_SCAN_BACKEND=compiled``), of ``selective_scan_ref``, and of the portable
  ``chunked`` backend (``MAMBA_MONAI_SCAN_BACKEND=chunked``, the fallback on devices without a kernel), with ratios;
* the peak extra memory (MB above the inputs) of each, measured in a fresh subprocess per case: after the inputs are
  allocated the peak RSS is reset (``echo 5 > /proc/self/clear_refs``), and the result is ``VmHWM`` after the call
  minus ``VmRSS`` before it;
* two lower bounds for the forward, measured on this machine in the same run: memory traffic (the bytes the forward
  must move at least, over the measured copy bandwidth) and arithmetic (one exp and ~3 FMAs per state update, at the
  measured vectorised exp and FMA throughput), with compiled-forward / larger-bound;
* a final line of targets (informational, always exit 0): at the 2d shape forward >= 20x and forward+backward >= 45x
  faster than the reference; forward within 2.5x of the larger lower bound; peak extra memory below the reference's.

Shapes (float32, ``delta_softplus=True``, ``z`` and ``delta_bias`` given):

* ``2d``:    VMamba-style cross scan, batch 2 x 4 directions: u (2, 4*192, 56*56), B/C (2, 4, 16, 3136), N=16.
* ``2d_n1``: the same with N=1 (VMamba v2).
* ``3d``:    batch 1 x 3 branches: u (1, 3*384, 16^3), B/C (1, 3, 16, 4096), N=16.

Examples::

    python scripts/bench_scan.py                                   # everything (several minutes)
    python scripts/bench_scan.py --shapes 2d --skip-reference      # compiled kernel and bounds only
    python scripts/bench_scan.py --threads 1 --json /tmp/scan.json
    python scripts/bench_scan.py --device cuda                     # mamba_ssm, triton, chunked, reference on a GPU
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (  # noqa: E402
    fmt_num,
    fmt_time,
    log,
    prepare_compiled_kernel,
    ratio,
    read_status_kb,
    reset_peak_rss,
)

BACKEND_ENV = "MAMBA_MONAI_SCAN_BACKEND"
IMPLS = ("compiled", "reference", "chunked")
MODES = ("fwd", "fwdbwd")
MB = 1024.0 * 1024.0


@dataclass(frozen=True)
class Shape:
    """One problem: u, delta, z (batch, dim, length); A (dim, dstate); B, C (batch, groups, dstate, length)."""

    name: str
    batch: int
    dim: int
    dstate: int
    length: int
    groups: int
    description: str

    @property
    def updates(self) -> int:
        """State updates of one forward: batch * dim * length * dstate."""
        return self.batch * self.dim * self.length * self.dstate

    @property
    def min_bytes(self) -> int:
        """Bytes a float32 forward must move at least: read u, delta, z, B, C and write out."""
        per_channel = 4 * self.batch * self.dim * self.length  # u, delta, z, out
        per_group = 2 * self.batch * self.groups * self.dstate * self.length  # B, C
        return 4 * (per_channel + per_group)


SHAPES = {
    "2d": Shape("2d", 2, 4 * 192, 16, 56 * 56, 4, "u (2, 4*192, 56*56), B/C (2, 4, 16, 3136)"),
    "2d_n1": Shape("2d_n1", 2, 4 * 192, 1, 56 * 56, 4, "u (2, 4*192, 56*56), B/C (2, 4, 1, 3136)"),
    "3d": Shape("3d", 1, 3 * 384, 16, 16**3, 3, "u (1, 3*384, 16^3), B/C (1, 3, 16, 4096)"),
}


# ----------------------------------------------------------------------------------------------------------------------
# inputs and the timed call


def make_inputs(shape: Shape, requires_grad: bool, seed: int = 0) -> dict:
    """Realistic scan inputs: softplus(delta + delta_bias) lies in about [1e-3, 0.1], A = -(1..N) (Mamba's init)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    b, d, n, l, groups = shape.batch, shape.dim, shape.dstate, shape.length, shape.groups
    dt = torch.exp(torch.empty(d).uniform_(math.log(1e-3), math.log(0.1), generator=g))
    inputs = {
        "u": torch.randn(b, d, l, generator=g),
        "delta": 0.1 * torch.randn(b, d, l, generator=g),
        "A": -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1),
        "B": torch.randn(b, groups, n, l, generator=g),
        "C": torch.randn(b, groups, n, l, generator=g),
        "D": torch.randn(d, generator=g),
        "z": torch.randn(b, d, l, generator=g),
        "delta_bias": dt + torch.log(-torch.expm1(-dt)),  # inverse softplus
    }
    for t in inputs.values():
        t.requires_grad_(requires_grad)
    return inputs


def make_call(impl: str, mode: str, inputs: dict):
    """A zero-argument function running one forward (no autograd) or one forward+backward."""
    import torch

    from mamba_monai.ops import selective_scan_fn, selective_scan_ref

    if impl in ("compiled", "chunked"):
        os.environ[BACKEND_ENV] = impl
        fn = selective_scan_fn
    else:
        fn = selective_scan_ref
    if mode == "fwd":

        def forward():
            with torch.no_grad():
                fn(**inputs, delta_softplus=True)

        return forward
    grad_out = torch.randn_like(inputs["u"], requires_grad=False)

    def forward_backward():
        for t in inputs.values():
            t.grad = None
        fn(**inputs, delta_softplus=True).backward(grad_out)

    return forward_backward


# ----------------------------------------------------------------------------------------------------------------------
# worker: one (shape, impl, mode) in a fresh process


def measure_peak_extra_mb(call) -> dict:
    """Peak RSS above the current RSS while ``call()`` runs, in MB (None when it cannot be measured here)."""
    reset = reset_peak_rss()
    before = read_status_kb("VmRSS")
    call()
    peak = read_status_kb("VmHWM")
    if not reset or before is None or peak is None:
        return {"peak_extra_mb": None, "note": "no /proc/self/clear_refs or VmHWM: peak memory not measured"}
    return {"peak_extra_mb": (peak - before) / 1024.0, "rss_before_mb": before / 1024.0, "peak_rss_mb": peak / 1024.0}


def run_worker(spec: dict) -> dict:
    """Measure one case: peak extra memory of a first call, then time ``warmup`` + ``repeats`` calls."""
    import torch

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    shape = SHAPES[spec["shape"]]
    impl, mode = spec["impl"], spec["mode"]
    requires_grad = mode == "fwdbwd"
    # initialise everything lazy (kernel load, OpenMP pool, autograd) on a tiny problem, so it is not counted
    tiny = Shape("tiny", 1, 2 * shape.groups, shape.dstate, 64, shape.groups, "")
    make_call(impl, mode, make_inputs(tiny, requires_grad))()

    inputs = make_inputs(shape, requires_grad, seed=spec["seed"])
    call = make_call(impl, mode, inputs)
    start = time.perf_counter()
    result = measure_peak_extra_mb(call)  # the first big call: also the first warm-up
    result["first_call_s"] = time.perf_counter() - start
    if result["first_call_s"] > 2.0:
        log(f"      memory call: {result['first_call_s']:.2f} s")
    for _ in range(spec["warmup"]):
        call()
    times = []
    for i in range(spec["repeats"]):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        if times[-1] > 2.0:
            log(f"      call {i + 1}/{spec['repeats']}: {times[-1]:.2f} s")
    result.update(times_s=times, median_s=statistics.median(times), threads=torch.get_num_threads())
    return result


def spawn_worker(spec: dict) -> dict:
    """Run :func:`run_worker` in a fresh interpreter; its last stdout line is the JSON result."""
    env = dict(os.environ)
    env[BACKEND_ENV] = spec["impl"]
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, env=env, text=True)  # stderr (progress) passes through
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------------------------------
# machine lower bounds


def best_time(fn, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn`` after one warm-up (a bound wants the machine at its best)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def copy_bandwidth(size_mb: int = 256, repeats: int = 20) -> float:
    """Bytes per second of ``dst.copy_(src)`` on ``size_mb`` MB tensors, counting read + write."""
    import torch

    numel = size_mb * 1024 * 1024 // 4
    src = torch.rand(numel)
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / best_time(lambda: dst.copy_(src), repeats)


def per_element_time(op, sizes: tuple[int, ...], total_elements: int = 1 << 25) -> tuple[float, int]:
    """Smallest seconds per element of ``op(block_size)`` over cache-sized blocks, repeated to ``total_elements``.

    ``op(n)`` returns a function processing ``n`` elements; it is repeated ``total_elements / n`` times per timing.
    """
    best = (math.inf, 0)
    for n in sizes:
        run = op(n)
        reps = max(1, total_elements // n)

        def repeated():
            for _ in range(reps):
                run()

        # many short timings: the best one is the least disturbed by other processes
        best = min(best, (best_time(repeated, 15) / (reps * n), n))
    return best


def machine_throughput() -> dict:
    """Measure copy bandwidth, exp and FMA throughput with torch on all (torch) threads."""
    import torch

    threads = torch.get_num_threads()
    # per thread 128 KiB .. 1 MiB of float32 input (+ as much output): within L2. torch splits an elementwise op over
    # threads only in chunks of >= 32768 elements (its grain size), so smaller blocks would run on one thread.
    sizes = tuple(threads * k for k in (32768, 65536, 131072, 262144))

    def exp_op(fn):
        def op(n):
            x = torch.empty(n).uniform_(-10.0, 0.0)  # the kernel's arguments dt * A are <= 0
            y = torch.empty(n)
            return lambda: fn(x, out=y)

        return op

    def addcmul_op(n):
        a, b, c, y = (torch.rand(n) for _ in range(4))
        return lambda: torch.addcmul(a, b, c, out=y)

    def matmul_op(n):
        # a cache-resident GEMM: m*k*k FMAs, with n = m*k elements of one operand
        k = 256
        a, w = torch.rand(max(1, n // k), k), torch.rand(k, k)
        y = torch.empty(a.shape[0], k)
        return lambda: torch.mm(a, w, out=y)

    # torch.exp is not the fastest vectorised exp in torch on every build; exp2 is (exp(x) = exp2(x * log2(e)), and
    # the kernel can fold log2(e) into A), so the bound uses the faster of the two.
    t_exp, exp_block = per_element_time(exp_op(torch.exp), sizes)
    t_exp2, exp2_block = per_element_time(exp_op(torch.exp2), sizes)
    t_addcmul, addcmul_block = per_element_time(addcmul_op, sizes)
    t_mm_row, mm_block = per_element_time(matmul_op, sizes, total_elements=1 << 18)
    t_mm = t_mm_row / 256  # per_element_time counted m*k elements; the GEMM did m*k*k FMAs
    # addcmul also loads three operands and stores one per FMA; a cache-resident GEMM runs near the FMA peak.
    # The scan keeps its state in registers, so the faster of the two is the bound's FMA cost.
    return {
        "threads": threads,
        "copy_bandwidth_gb_s": copy_bandwidth() / 1e9,
        "t_exp_torch_exp_ns": t_exp * 1e9,
        "exp_block_elements": exp_block,
        "t_exp_torch_exp2_ns": t_exp2 * 1e9,
        "exp2_block_elements": exp2_block,
        "t_exp_ns": min(t_exp, t_exp2) * 1e9,
        "t_fma_addcmul_ns": t_addcmul * 1e9,
        "addcmul_block_elements": addcmul_block,
        "t_fma_matmul_ns": t_mm * 1e9,
        "matmul_block_elements": mm_block,
        "t_fma_ns": min(t_addcmul, t_mm) * 1e9,
    }


def lower_bounds(shape: Shape, machine: dict) -> dict:
    """Memory-traffic and arithmetic lower bounds (seconds) of one float32 forward of ``shape``."""
    memory = shape.min_bytes / (machine["copy_bandwidth_gb_s"] * 1e9)
    arithmetic = shape.updates * (machine["t_exp_ns"] + 3 * machine["t_fma_ns"]) * 1e-9
    return {
        "min_bytes": shape.min_bytes,
        "updates": shape.updates,
        "memory_s": memory,
        "arithmetic_s": arithmetic,
        "larger_s": max(memory, arithmetic),
        "bound_by": "memory" if memory >= arithmetic else "arithmetic",
    }


# ----------------------------------------------------------------------------------------------------------------------
# report


def case_value(shape_result: dict | None, impl: str, mode: str, key: str = "median_s") -> float | None:
    """One number of one measured case of a shape's results (None when that case did not run)."""
    return ((shape_result or {}).get("cases", {}).get((impl, mode)) or {}).get(key)


def print_table(results: dict, machine: dict) -> None:
    print()
    print(
        f"machine: {machine['cpu']}, torch {machine['torch']}, {machine['threads']} threads | copy bandwidth "
        f"{machine['copy_bandwidth_gb_s']:.1f} GB/s (read+write) | exp {machine['t_exp_ns'] * 1e3:.1f} ps/elem "
        f"(torch.exp {machine['t_exp_torch_exp_ns'] * 1e3:.1f}, exp2 {machine['t_exp_torch_exp2_ns'] * 1e3:.1f}) | "
        f"FMA {machine['t_fma_ns'] * 1e3:.1f} ps/elem (addcmul {machine['t_fma_addcmul_ns'] * 1e3:.1f}, "
        f"matmul {machine['t_fma_matmul_ns'] * 1e3:.1f})"
    )
    load = machine.get("loadavg_1min_at_start")
    if load is not None and load > 1.0:
        print(
            f"note: 1-min load average {load:.1f} at start: other processes compete for the CPUs, so timings are "
            "noisy (see times_s in --json)"
        )
    for name, res in results.items():
        shape, bounds = SHAPES[name], res["bounds"]
        print()
        print(f"[{name}] {shape.description}, D={shape.dim}, N={shape.dstate}, {shape.updates / 1e6:.0f} M updates")
        header = (
            f"  {'':<18}{'compiled':>12}{'reference':>12}{'ref/comp':>10}{'comp mem':>12}{'ref mem':>12}"
            f"{'chunked':>12}{'ref/chunk':>10}{'chunk mem':>12}"
        )
        print(header)
        for mode, label in (("fwd", "forward"), ("fwdbwd", "forward+backward")):
            comp, ref = case_value(res, "compiled", mode), case_value(res, "reference", mode)
            comp_mb = case_value(res, "compiled", mode, "peak_extra_mb")
            ref_mb = case_value(res, "reference", mode, "peak_extra_mb")
            chunk, chunk_mb = case_value(res, "chunked", mode), case_value(res, "chunked", mode, "peak_extra_mb")
            print(
                f"  {label:<18}{fmt_time(comp):>12}{fmt_time(ref):>12}{fmt_num(ratio(ref, comp), '.1f', 'x'):>10}"
                f"{fmt_num(comp_mb, '.0f', ' MB'):>12}{fmt_num(ref_mb, '.0f', ' MB'):>12}"
                f"{fmt_time(chunk):>12}{fmt_num(ratio(ref, chunk), '.2f', 'x'):>10}{fmt_num(chunk_mb, '.0f', ' MB'):>12}"
            )
        bound_ratio = ratio(case_value(res, "compiled", "fwd"), bounds["larger_s"])
        print(
            f"  lower bounds (fwd): memory {fmt_time(bounds['memory_s'])} ({bounds['min_bytes'] / MB:.0f} MB), "
            f"arithmetic {fmt_time(bounds['arithmetic_s'])}, larger {fmt_time(bounds['larger_s'])} "
            f"({bounds['bound_by']}); compiled fwd / bound = {fmt_num(bound_ratio, '.2f', 'x')}"
        )


def evaluate_targets(results: dict) -> list[dict]:
    """The four informational targets, each with per-shape ``{shape, value, status}`` (status PASS / MISS / n/a).

    Speed-ups are checked at the 2d shape; the bound (compiled forward / larger bound) and the memory (compiled peak /
    reference peak, the worse of fwd and fwd+bwd) at every measured shape.
    """

    def case(name, impl, mode, key="median_s"):
        return case_value(results.get(name), impl, mode, key)

    def entry(name, value, ok):
        return {"shape": name, "value": value, "status": "n/a" if value is None else ("PASS" if ok(value) else "MISS")}

    targets = []
    for mode, need, label in (("fwd", 20.0, "fwd >= 20x ref"), ("fwdbwd", 45.0, "fwd+bwd >= 45x ref")):
        speedup = ratio(case("2d", "reference", mode), case("2d", "compiled", mode))
        targets.append({"target": label, "per_shape": [entry("2d", speedup, lambda v: v >= need)]})
    targets.append(
        {
            "target": "fwd <= 2.5x bound",
            "per_shape": [
                entry(name, ratio(case(name, "compiled", "fwd"), res["bounds"]["larger_s"]), lambda v: v <= 2.5)
                for name, res in results.items()
            ],
        }
    )
    memory = []
    for name in results:
        fractions = [
            ratio(case(name, "compiled", mode, "peak_extra_mb"), case(name, "reference", mode, "peak_extra_mb"))
            for mode in MODES
        ]
        worst = None if None in fractions else max(fractions)
        memory.append(entry(name, worst, lambda v: v < 1.0))
    targets.append({"target": "peak mem < ref", "per_shape": memory})
    return targets


def format_target(target: dict) -> str:
    shown = ", ".join(
        f"{e['shape']} {e['status']}" + ("" if e["value"] is None else f" ({e['value']:.2f}x)")
        for e in target["per_shape"]
    )
    return f"{target['target']}: {shown}"


# ----------------------------------------------------------------------------------------------------------------------
# driver


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma-separated subset of {', '.join(SHAPES)}")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per compiled case (median reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per compiled case after the first")
    parser.add_argument(
        "--ref-repeats", type=int, default=3, help="timed calls per reference case (it is slow; 3: one outlier)"
    )
    parser.add_argument("--skip-reference", action="store_true", help="do not run the slow pure-PyTorch reference")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument("--json", metavar="PATH", help="also write all numbers as JSON to PATH")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="cpu (default) or cuda: time the GPU backends"
    )
    parser.add_argument("--cuda-device", default="cuda", help="with --device cuda: which GPU (default: cuda)")
    parser.add_argument("--worker", metavar="SPEC", help=argparse.SUPPRESS)  # internal: one case in a fresh process
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in names if s not in SHAPES]
    if unknown or not names:
        parser.error(f"--shapes: unknown {unknown}; choose from {', '.join(SHAPES)}")
    args.shape_names = names
    if args.repeats < 1 or args.ref_repeats < 1 or args.warmup < 0:
        parser.error("--repeats and --ref-repeats must be >= 1, --warmup >= 0")
    return args


def run_benchmark(args: argparse.Namespace) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    prepare_compiled_kernel()
    log("measuring copy bandwidth, exp and FMA throughput ...")
    machine = machine_throughput()
    machine.update(
        cpu=platform.processor() or platform.machine(),
        torch=torch.__version__,
        os=platform.platform(),
        loadavg_1min_at_start=load_start,
    )
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            machine["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    impls = ("compiled",) if args.skip_reference else IMPLS
    results = {}
    for name in args.shape_names:
        shape = SHAPES[name]
        cases = {}
        for impl in impls:
            for mode in MODES:
                spec = {
                    "shape": name,
                    "impl": impl,
                    "mode": mode,
                    "repeats": args.repeats if impl == "compiled" else args.ref_repeats,
                    "warmup": args.warmup if impl == "compiled" else 0,
                    "threads": args.threads,
                    "seed": args.seed,
                }
                log(f"[{name}] {impl} {mode}: 1 memory call + {spec['warmup']} warm-up + {spec['repeats']} timed ...")
                start = time.perf_counter()
                cases[(impl, mode)] = res = spawn_worker(spec)
                log(
                    f"    median {fmt_time(res['median_s'])}, peak extra {fmt_num(res.get('peak_extra_mb'), '.0f')} MB"
                    f" ({time.perf_counter() - start:.0f} s)"
                )
        results[name] = {"shape": asdict(shape), "bounds": lower_bounds(shape, machine), "cases": cases}
    return {"machine": machine, "results": results}


def to_json(report: dict) -> dict:
    """The report with tuple case keys turned into ``impl/mode`` strings."""
    out = {"machine": report["machine"], "targets": report["targets"], "results": {}}
    for name, res in report["results"].items():
        cases = {f"{impl}/{mode}": c for (impl, mode), c in res["cases"].items()}
        speedups = {m: ratio(case_value(res, "reference", m), case_value(res, "compiled", m)) for m in MODES}
        bound_ratio = ratio(case_value(res, "compiled", "fwd"), res["bounds"]["larger_s"])
        out["results"][name] = {
            "shape": res["shape"],
            "bounds": res["bounds"],
            "cases": cases,
            "speedup_ref_over_compiled": speedups,
            "compiled_fwd_over_bound": bound_ratio,
        }
    return out


def cuda_main(args: argparse.Namespace) -> int:
    """``--device cuda``: time the GPU backends (``bench_scan_cuda.py``, beside this script)."""
    import torch

    if not torch.cuda.is_available():
        print(
            "bench_scan: --device cuda, but torch sees no CUDA device (torch.cuda.is_available() is False)",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_scan_cuda import print_cuda_table, run_cuda_benchmark

    report = run_cuda_benchmark(args)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
        log(f"wrote {args.json}")
    print_cuda_table(report)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    if args.device == "cuda":
        return cuda_main(args)
    report = run_benchmark(args)
    report["targets"] = evaluate_targets(report["results"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(to_json(report), f, indent=2)
        log(f"wrote {args.json}")
    print_table(report["results"], report["machine"])
    print()
    print("targets: " + " | ".join(format_target(t) for t in report["targets"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
