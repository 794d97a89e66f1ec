"""GPU part of ``scripts/bench_scan.py`` (``--device cuda``): mamba-ssm's kernel (when it imports), the Triton kernel,
the chunked scan and the reference on CUDA tensors, forward and forward+backward, with peak memory and ratios.

Timing: ``torch.cuda.synchronize()`` around each call, median of ``--repeats`` calls after ``--warmup`` calls (the
first Triton call compiles its kernels; warm-up hides it). Peak memory: ``torch.cuda.max_memory_allocated()`` during
the call minus the memory allocated before it (the inputs). The project has not measured these figures on a GPU yet.
"""

from __future__ import annotations

import os
import statistics
import time

MODES = ("fwd", "fwdbwd")


def gpu_impls(skip_reference: bool) -> list[tuple[str, str | None]]:
    """``(implementation, why it is skipped or None)`` in the order they are timed."""
    from mamba_monai.ops.backends import triton_unavailable_reason
    from mamba_monai.ops.cuda import mamba_ssm_unavailable_reason

    import torch

    device = torch.device("cuda")
    impls = [("mamba_ssm", mamba_ssm_unavailable_reason()), ("triton", triton_unavailable_reason(device)),
             ("chunked", None)]  # fmt: skip
    if not skip_reference:
        impls.append(("reference", None))
    return impls


def plan(shape_names: list[str], skip_reference: bool) -> list[tuple[str, str, str]]:
    """The ``(shape, implementation, mode)`` cases of a GPU run, without touching a GPU (mamba-ssm and Triton are
    included; a case whose backend cannot run is reported as skipped at run time)."""
    impls = ["mamba_ssm", "triton", "chunked"] + ([] if skip_reference else ["reference"])
    return [(shape, impl, mode) for shape in shape_names for impl in impls for mode in MODES]


def _time_case(shape, impl: str, mode: str, repeats: int, warmup: int, make_inputs, seed: int) -> dict:
    import torch

    from mamba_monai.ops import selective_scan_fn, selective_scan_ref

    inputs = {k: v.detach().cuda().requires_grad_(mode == "fwdbwd") for k, v in make_inputs(shape, False, seed).items()}
    if impl == "reference":
        fn = selective_scan_ref
    else:
        os.environ["MAMBA_MONAI_SCAN_BACKEND"] = impl
        fn = selective_scan_fn
    grad_out = torch.randn_like(inputs["u"])

    def call():
        if mode == "fwd":
            with torch.no_grad():
                fn(**inputs, delta_softplus=True)
        else:
            for t in inputs.values():
                t.grad = None
            fn(**inputs, delta_softplus=True).backward(grad_out)

    for _ in range(max(1, warmup)):
        call()
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak_mb = (torch.cuda.max_memory_allocated() - before) / 2**20
    return {"median_s": statistics.median(times), "peak_extra_mb": peak_mb}


def run_cuda(args, shapes: dict, make_inputs) -> int:
    """Time every case of :func:`plan` on the current CUDA device and print a table; 2 when there is no GPU."""
    import torch

    if args.dry_run:
        for case in plan(args.shape_names, args.skip_reference):
            print(" ".join(case))
        return 0
    if not torch.cuda.is_available():
        print("bench_scan.py --device cuda: no CUDA device is visible to PyTorch (torch.cuda.is_available() is False)")
        return 2
    skipped = dict(gpu_impls(args.skip_reference))
    print(f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}")
    results: dict[tuple[str, str, str], dict] = {}
    for shape_name, impl, mode in plan(args.shape_names, args.skip_reference):
        if not skipped.get(impl):
            repeats = args.ref_repeats if impl == "reference" else args.repeats
            results[shape_name, impl, mode] = _time_case(
                shapes[shape_name], impl, mode, repeats, args.warmup, make_inputs, args.seed
            )
    print(f"{'shape':8}{'impl':11}{'mode':8}{'median':>12}{'peak MB':>10}{'x ref':>8}{'x mamba_ssm':>13}")
    for shape_name, impl, mode in plan(args.shape_names, args.skip_reference):
        if skipped.get(impl):
            print(f"{shape_name:8}{impl:11}{mode:8}  skipped: {skipped[impl]}")
            continue
        result = results[shape_name, impl, mode]
        ref = results.get((shape_name, "reference", mode), {}).get("median_s")
        fast = results.get((shape_name, "mamba_ssm", mode), {}).get("median_s")
        x_ref = f"{ref / result['median_s']:.1f}" if ref else "-"
        x_fast = f"{fast / result['median_s']:.2f}" if fast else "-"
        print(f"{shape_name:8}{impl:11}{mode:8}{result['median_s'] * 1e3:>10.2f}ms{result['peak_extra_mb']:>10.1f}"
              f"{x_ref:>8}{x_fast:>13}")  # fmt: skip
    return 0
