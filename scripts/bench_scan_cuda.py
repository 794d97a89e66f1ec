"""The GPU half of ``scripts/bench_scan.py`` (``--device cuda``): every scan backend that runs on a CUDA device.

For each shape of ``bench_scan.SHAPES`` and each backend that can run here (``mamba_ssm`` when ``selective_scan_cuda``
imports, ``triton`` when Triton imports, ``chunked``, and the pure-PyTorch ``reference`` unless skipped), in one
process on ``--cuda-device``:

* forward (no autograd) and forward+backward wall time: median of ``--repeats`` calls after warm-up (the first call
  also compiles the Triton kernels), each call between two ``torch.cuda.synchronize()``;
* peak extra memory: ``torch.cuda.max_memory_allocated()`` during one call, minus the memory allocated before it;
* agreement: largest relative error (max |x - x_ref| / max |x_ref|) of the output and of every gradient against the
  first backend of ``reference, chunked`` that runs (the reference at these shapes takes seconds per call);
* ratios: reference time / backend time, and backend time / mamba_ssm time when mamba_ssm runs.

No number printed by this script has been measured by the project: no GPU was available when it was written.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from bench_scan import BACKEND_ENV, MB, MODES, SHAPES, fmt_num, fmt_time, make_inputs, ratio

CUDA_IMPLS = ("mamba_ssm", "triton", "chunked", "reference")
BASELINES = ("reference", "chunked")  # the first of these that runs is the agreement baseline


def available_impls(device, skip_reference: bool) -> tuple[list[str], dict[str, str]]:
    """The backends to time on ``device`` (in :data:`CUDA_IMPLS` order) and, for the others, why they are left out."""
    from mamba_monai.ops.cuda import mamba_ssm_unavailable_reason
    from mamba_monai.ops.triton_scan import triton_unavailable_reason

    reasons = {"mamba_ssm": mamba_ssm_unavailable_reason(), "triton": triton_unavailable_reason(device)}
    if skip_reference:
        reasons["reference"] = "--skip-reference"
    impls = [impl for impl in CUDA_IMPLS if reasons.get(impl) is None]
    return impls, {impl: reason for impl, reason in reasons.items() if reason is not None}


def build_plan(shape_names: list[str], impls: list[str]) -> list[tuple[str, str, str]]:
    """Cases to measure, in order: (shape, impl, mode) for every shape, backend and mode."""
    return [(shape, impl, mode) for shape in shape_names for impl in impls for mode in MODES]


def cuda_call(impl: str, mode: str, inputs: dict):
    """A zero-argument function running one forward (no autograd) or one forward+backward; returns the output."""
    import torch

    from mamba_monai.ops import selective_scan_fn, selective_scan_ref

    if impl == "reference":
        fn = selective_scan_ref
    else:
        fn = selective_scan_fn
        os.environ[BACKEND_ENV] = impl  # read by selective_scan_fn at every call
    if mode == "fwd":

        def forward():
            with torch.no_grad():
                return fn(**inputs, delta_softplus=True)

        return forward
    # the same gradient for every backend: the agreement check compares their gradients
    u = inputs["u"]
    grad_out = torch.randn(u.shape, generator=torch.Generator().manual_seed(1), dtype=u.dtype).to(u.device)

    def forward_backward():
        for t in inputs.values():
            t.grad = None
        out = fn(**inputs, delta_softplus=True)
        out.backward(grad_out)
        return out

    return forward_backward


def measure(call, inputs: dict, warmup: int, repeats: int) -> dict:
    """Peak extra memory of one call (gradients included), then the median time of ``repeats`` calls after ``warmup``
    more."""
    import torch

    call()  # first call: Triton compiles its kernels, mamba-ssm and cuBLAS initialise
    for t in inputs.values():
        t.grad = None  # the measured call allocates the gradients again
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    call()
    torch.cuda.synchronize()
    peak_extra_mb = (torch.cuda.max_memory_allocated() - before) / MB
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "times_s": times, "peak_extra_mb": peak_extra_mb}


def results_of(impl: str, inputs: dict) -> dict:
    """Output and every gradient of one forward+backward with ``impl`` (for the agreement check), on the device."""
    out = cuda_call(impl, "fwdbwd", inputs)()
    found = {"out": out.detach()}
    found.update({f"d{name}": t.grad.detach().clone() for name, t in inputs.items()})
    return found


def largest_rel_err(got: dict, want: dict) -> float:
    """Largest relative error over the entries of ``want`` (output and gradients)."""
    worst = 0.0
    for name, ref in want.items():
        ref64, got64 = ref.double(), got[name].double()
        scale = ref64.abs().max().clamp_min(1e-12)
        worst = max(worst, ((got64 - ref64).abs().max() / scale).item())
    return worst


def run_cuda_benchmark(args) -> dict:
    """Measure every case of the plan on ``args.cuda_device``; a failing case is recorded and the others still run."""
    import torch

    device = torch.device(args.cuda_device)
    torch.cuda.set_device(device)
    impls, left_out = available_impls(device, args.skip_reference)
    for impl, reason in left_out.items():
        print(f"not timed: {impl}: {reason}", file=sys.stderr, flush=True)
    results: dict = {}
    found: dict = {}  # (shape, impl) -> output and gradients of one forward+backward, on the CPU
    for shape_name, impl, mode in build_plan(args.shape_names, impls):
        shape = SHAPES[shape_name]
        inputs = {
            k: v.detach().to(device).requires_grad_(mode == "fwdbwd")
            for k, v in make_inputs(shape, False, seed=args.seed).items()
        }
        slow = impl == "reference"
        print(f"[{shape_name}] {impl} {mode} ...", file=sys.stderr, flush=True)
        case = results.setdefault(shape_name, {}).setdefault(impl, {})
        try:
            call = cuda_call(impl, mode, inputs)
            case[mode] = measure(call, inputs, 0 if slow else args.warmup, args.ref_repeats if slow else args.repeats)
            if mode == "fwdbwd":
                found[shape_name, impl] = {k: v.cpu() for k, v in results_of(impl, inputs).items()}
        except Exception as exc:  # out of memory, a kernel that does not compile...: report it, go on
            case[mode] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        del inputs
        torch.cuda.empty_cache()
    for shape_name in args.shape_names:
        baseline = next((b for b in BASELINES if (shape_name, b) in found), None)
        for impl in impls:
            if baseline is not None and impl != baseline and (shape_name, impl) in found:
                err = largest_rel_err(found[shape_name, impl], found[shape_name, baseline])
                results[shape_name][impl]["rel_err"] = {"against": baseline, "value": err}
    machine = {
        "gpu": torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "not_timed": left_out,
    }
    return {"machine": machine, "impls": impls, "results": results}


def cuda_value(report: dict, shape: str, impl: str, mode: str, key: str = "median_s"):
    return report["results"].get(shape, {}).get(impl, {}).get(mode, {}).get(key)


def print_cuda_table(report: dict) -> None:
    impls = report["impls"]
    machine = report["machine"]
    print(f"\nGPU: {machine['gpu']}, torch {machine['torch']}, CUDA {machine['cuda']}")
    for impl, reason in machine["not_timed"].items():
        print(f"  not timed: {impl} ({reason})")
    for shape_name, by_impl in report["results"].items():
        shape = SHAPES[shape_name]
        print(f"\n[{shape_name}] {shape.description}, D={shape.dim}, N={shape.dstate}")
        print(f"  {'backend':<11}{'mode':<8}{'time':>11}{'peak mem':>11}{'ref/x':>9}{'x/mamba_ssm':>13}{'rel err':>16}")
        for impl in impls:
            for mode in MODES:
                case = by_impl.get(impl, {}).get(mode, {})
                if "error" in case:
                    print(f"  {impl:<11}{mode:<8}  failed: {case['error']}")
                    continue
                t = case.get("median_s")
                speedup = ratio(cuda_value(report, shape_name, "reference", mode), t)
                vs_mamba = ratio(t, cuda_value(report, shape_name, "mamba_ssm", mode))
                err = by_impl.get(impl, {}).get("rel_err") if mode == "fwdbwd" else None
                shown_err = "-" if err is None else f"{err['value']:.1e} ({err['against'][:3]})"
                print(
                    f"  {impl:<11}{mode:<8}{fmt_time(t):>11}{fmt_num(case.get('peak_extra_mb'), '.0f', ' MB'):>11}"
                    f"{fmt_num(speedup, '.1f', 'x'):>9}{fmt_num(vs_mamba, '.2f', 'x'):>13}{shown_err:>16}"
                )
    print("\nrel err: largest relative error of the output and every gradient against (ref)erence or (chu)nked")
