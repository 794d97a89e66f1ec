#!/usr/bin/env python
"""Benchmark SegMamba against MONAI's BraTS SegResNet: sliding-window inference and one training step.

In one run, on the same input, for each network this measures:

* **inference**: ``monai.inferers.SlidingWindowInferer(roi_size=roi^3, overlap=0.5, mode="gaussian",
  sw_batch_size=1)`` over one random volume ``(1, 4, *volume)`` (default 240 x 240 x 155, the BraTS size), in eval
  mode under ``torch.no_grad()``;
* **training step**: batch 1, one random patch ``(1, 4, P, P, P)`` (``--train-patch``, default 128) with a random
  binary target ``(1, 3, P, P, P)``: forward + ``DiceFocalLoss(sigmoid=True, gamma=0)`` + backward + SGD step
  (lr 1e-2, momentum 0.99, Nesterov, weight decay 3e-5, as nnU-Net / SegMamba train). If a patch does not fit in the
  memory budget (``--max-mem-gb``) the step is retried 16 voxels smaller, and both networks are compared at the
  largest patch that fits for all of them;

and prints wall time (median of ``--repeats`` calls), peak extra memory (GB) and parameter counts, and the ratios
SegMamba / SegResNet. Each network runs in float32 and, where the device runs it natively (a CPU with AVX512-BF16 /
AMX, or CUDA), under low-precision autocast (``--precisions``; "bf16" is ``torch.autocast("cpu", torch.bfloat16)``
around the network call, float16 on CUDA; blending and loss stay float32, as in the bundles). The networks:

* SegMamba: ``mamba_monai.networks.nets.SegMamba()`` (defaults: in 4, out 3, ~67.4 M parameters);
* SegMamba-plain (``--nets segmamba_plain``, opt-in): the same network without its CPU fast path (``nn.InstanceNorm3d``
  and contiguous layout instead of the group-norm kernel and channels-last convolutions), to measure the fast path;
* SegResNet, the MONAI model-zoo BraTS network: ``SegResNet(blocks_down=[1, 2, 2, 4], blocks_up=[1, 1, 1],
  init_filters=16, in_channels=4, out_channels=3, dropout_prob=0.2)`` (~4.7 M parameters).

Each (network, task) runs in a fresh subprocess. The inputs are random noise: fine for time and memory (neither
depends on the values), meaningless for accuracy. Memory on CPU: after the model, optimiser state and inputs exist and
a small warm-up call (32^3) has run, the peak RSS is reset (``echo 5 > /proc/self/clear_refs``); the result is
``VmHWM`` after the call minus ``VmRSS`` before it (the largest over the repeats). The budget is enforced with
``RLIMIT_DATA`` in the worker, so a patch that does not fit fails with an allocation error instead of swapping or
waking the OOM killer. On CUDA (``--device auto`` picks the GPU when ``torch.cuda.is_available()``) the memory is
``torch.cuda.max_memory_allocated()`` minus the allocated memory before the call, and SegMamba's scan runs on
mamba-ssm's CUDA kernel if it is installed.

Full SegMamba sliding-window inference on a small CPU takes many minutes; ``--quick`` is a fast sanity run.

Examples::

    python scripts/bench_segmamba.py --quick                       # volume 128x128x96, roi 64, train patch 64
    python scripts/bench_segmamba.py --tasks infer --nets segmamba,segresnet,segmamba_plain --precisions fp32,bf16
    python scripts/bench_segmamba.py --json /tmp/segmamba.json     # the full benchmark (tens of minutes on 2 CPUs)
    python scripts/bench_segmamba.py --tasks train --train-patch 96 --nets segmamba,segresnet
    python scripts/bench_segmamba.py --volume 160,160,128 --roi 96 --repeats 3 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (  # noqa: E402
    GB,
    WorkerKilled,
    add_worker_argument,
    device_and_precisions,
    fmt_num,
    fmt_time,
    is_out_of_memory,
    limit_data_memory,
    log,
    low_precision,
    machine_info as common_machine_info,
    measure_peak_extra_bytes,
    mem_available_gb,
    parse_list,
    prepare_compiled_kernel,
    print_table as print_cells,
    ratio,
    serve_worker,
    spawn_worker,
    synchronize,
    time_repeats,
    write_json_report,
)

NETS = {
    "segmamba": "SegMamba",
    "segresnet": "SegResNet",
    "segmamba_plain": "SegMamba-plain",  # without the CPU fast path (nn.InstanceNorm3d, contiguous layout): opt-in
}
DEFAULT_NETS = ("segmamba", "segresnet")
PRECISIONS = ("fp32", "bf16")
TASKS = ("infer", "train")
PRESETS = {
    "full": {"volume": (240, 240, 155), "roi": 128, "train_patch": 128},
    "quick": {"volume": (128, 128, 96), "roi": 64, "train_patch": 64},
}
OVERLAP = 0.5
PATCH_MULTIPLE = 16  # SegMamba's total downsampling: every side of a patch / window is a multiple of it
MIN_PATCH = 32  # SegMamba's deepest map needs more than one voxel
WARMUP_PATCH = 32
OOM_STATUSES = ("out_of_memory", "killed")
T0 = time.perf_counter()  # start of the run, for the elapsed time in the progress lines


# ----------------------------------------------------------------------------------------------------------------------
# networks and the timed calls


def build_net(name: str):
    """The network ``name`` (a key of NETS) with the benchmark's configuration."""
    if name == "segmamba":
        from mamba_monai.networks.nets import SegMamba

        return SegMamba(in_channels=4, out_channels=3)
    if name == "segmamba_plain":
        from torch import nn

        from mamba_monai.networks.blocks.fast_instance_norm import GroupNormInstanceNorm3d
        from mamba_monai.networks.nets import SegMamba

        net = SegMamba(in_channels=4, out_channels=3, channels_last=False)
        for layer in net.modules():
            if type(layer) is GroupNormInstanceNorm3d:
                layer.__class__ = nn.InstanceNorm3d
        return net
    from monai.networks.nets import SegResNet

    return SegResNet(
        blocks_down=[1, 2, 2, 4], blocks_up=[1, 1, 1], init_filters=16, in_channels=4, out_channels=3, dropout_prob=0.2
    )


def count_windows(volume: tuple[int, ...], roi: int, overlap: float) -> int:
    """Number of windows MONAI's sliding window visits (the volume is first padded up to the roi where smaller)."""
    total = 1
    for size in volume:
        size = max(size, roi)
        interval = roi if size == roi else max(1, int(roi * (1 - overlap)))
        total *= next(d for d in range(size) if d * interval + roi >= size) + 1
    return total


def make_infer_call(net, spec: dict, device):
    """(warm-up, call): a forward of a small patch, and one sliding-window inference over a random volume."""
    import torch
    from monai.inferers import SlidingWindowInferer

    g = torch.Generator().manual_seed(spec["seed"])
    volume = torch.randn(1, 4, *spec["volume"], generator=g).to(device)
    roi = spec["roi"]
    inferer = SlidingWindowInferer(roi_size=(roi,) * 3, overlap=OVERLAP, mode="gaussian", sw_batch_size=1)
    total = count_windows(tuple(spec["volume"]), roi, OVERLAP)
    state = {"done": 0, "start": 0.0, "last_log": 0.0}
    net.eval()

    def counting_net(window):
        with low_precision(spec.get("precision", "fp32"), device):
            out = net(window)
        out = out.float()  # the sliding window blends in float32, as mamba_monai.engines.AutocastInferer does
        state["done"] += 1
        now = time.perf_counter()
        if now - state["last_log"] >= 10.0 or state["done"] == total:
            log(f"      window {state['done']}/{total} ({now - state['start']:.0f} s)")
            state["last_log"] = now
        return out

    def warmup():
        with torch.no_grad(), low_precision(spec.get("precision", "fp32"), device):
            net(torch.randn(1, 4, *(WARMUP_PATCH,) * 3, device=device))

    def call():
        state.update(done=0, start=time.perf_counter(), last_log=time.perf_counter())
        with torch.no_grad():
            inferer(volume, counting_net)
        synchronize(device)

    return warmup, call, {"windows": total}


def make_train_call(net, spec: dict, device):
    """(warm-up, call): one training step on a small patch, and one on a random ``train_patch``^3 patch."""
    import torch
    from monai.losses import DiceFocalLoss

    loss_fn = DiceFocalLoss(sigmoid=True, gamma=0.0)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)
    net.train()

    def batch(size: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        image = torch.randn(1, 4, size, size, size, generator=g)
        label = (torch.rand(1, 3, size, size, size, generator=g) > 0.5).float()
        return image.to(device), label.to(device)

    def step(image, label, verbose: bool):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with low_precision(
            spec.get("precision", "fp32"), device
        ):  # autocast the forward only; no gradient scaler for bf16 on CPU
            pred = net(image)
        loss = loss_fn(pred.float(), label)
        synchronize(device)
        forward = time.perf_counter()
        loss.backward()
        synchronize(device)
        backward = time.perf_counter()
        optimizer.step()
        synchronize(device)
        if verbose:
            log(
                f"      forward+loss {forward - start:.1f} s, backward {backward - forward:.1f} s, "
                f"SGD step {time.perf_counter() - backward:.2f} s"
            )

    small = batch(min(WARMUP_PATCH, spec["train_patch"]), spec["seed"] + 1)
    image, label = batch(spec["train_patch"], spec["seed"])

    def warmup():  # also creates the optimiser's momentum buffers, so they are not counted as peak extra memory
        step(*small, verbose=False)

    def call():
        step(image, label, verbose=True)

    return warmup, call, {"train_patch": spec["train_patch"]}


# ----------------------------------------------------------------------------------------------------------------------
# worker: one (network, task) in a fresh process


def run_worker(spec: dict) -> dict:
    """Build the network, warm up, then time ``repeats`` calls, measuring the peak extra memory of each."""
    import torch

    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    torch.manual_seed(spec["seed"])
    net = build_net(spec["net"]).to(device)
    result = {
        "net": spec["net"],
        "precision": spec.get("precision", "fp32"),
        "task": spec["task"],
        "device": str(device),
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in net.parameters()),
        "loadavg_1min_at_start": os.getloadavg()[0],
    }
    if spec["net"].startswith("segmamba"):
        from mamba_monai.ops.backends import resolve_backend

        result["scan_backend"] = resolve_backend(device)
    make_call = make_infer_call if spec["task"] == "infer" else make_train_call
    warmup, call, info = make_call(net, spec, device)
    result.update(info)
    try:
        start = time.perf_counter()
        warmup()  # lazy initialisation (kernel, thread pool, autograd, optimiser state) on a small input
        result["warmup_s"] = time.perf_counter() - start
        if device.type == "cpu":
            result["data_limit_gb"] = limit_data_memory(spec["max_mem_gb"])
        peaks = []

        def measured_call():
            extra = measure_peak_extra_bytes(call, device)
            peaks.append(None if extra is None else extra / GB)

        def progress(i: int, seconds: float) -> None:
            peak = fmt_num(peaks[-1], ".2f", " GB")
            log(f"      call {i + 1}/{spec['repeats']}: {fmt_time(seconds)}, peak extra {peak}")

        times = time_repeats(measured_call, spec["repeats"], on_call=progress)
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        log(f"      out of memory: {str(exc).splitlines()[0][:200]}")
        result.update(status="out_of_memory", error=str(exc).splitlines()[0][:500])
        return result
    result.update(
        status="ok",
        times_s=times,
        median_s=statistics.median(times),
        peak_extra_gb=None if None in peaks else max(peaks),
        loadavg_1min_at_end=os.getloadavg()[0],
    )
    return result


def run_worker_process(spec: dict) -> dict:
    """Run :func:`run_worker` in a fresh interpreter; a worker killed by a signal is reported as ``killed``."""
    try:
        return spawn_worker(__file__, spec)
    except WorkerKilled as killed:
        # SIGKILL is most likely the kernel's OOM killer: the budget was larger than the memory actually free
        log(f"      worker killed by signal {killed.signal} (SIGKILL: probably out of memory)")
        return {
            "net": spec["net"],
            "precision": spec["precision"],
            "task": spec["task"],
            "train_patch": spec["train_patch"],
            "status": "killed",
            "signal": killed.signal,
        }


# ----------------------------------------------------------------------------------------------------------------------
# driver


def case_key(net: str, precision: str) -> str:
    return f"{net}/{precision}"


def case_label(key: str) -> str:
    net, precision = key.split("/")
    return f"{NETS[net]} {precision}"


def run_case(args: argparse.Namespace, key: str, task: str, train_patch: int | None = None) -> dict:
    net, precision = key.split("/")
    spec = {
        "net": net,
        "precision": precision,
        "task": task,
        "device": args.device,
        "volume": list(args.volume),
        "roi": args.roi,
        "train_patch": train_patch or args.train_patch,
        "repeats": args.repeats,
        "threads": args.threads,
        "seed": args.seed,
        "max_mem_gb": args.max_mem_gb,
    }
    what = (
        f"volume {'x'.join(map(str, args.volume))}, roi {args.roi}^3"
        if task == "infer"
        else f"patch {spec['train_patch']}^3"
    )
    load = os.getloadavg()[0]
    log(f"[{case_label(key)} {task}] {what}: warm-up + {args.repeats} timed call(s) ... (load {load:.1f})")
    start = time.perf_counter()
    result = run_worker_process(spec)
    result["wall_s"] = time.perf_counter() - start
    log(f"    done in {result['wall_s']:.0f} s ({result['status']}); total elapsed {time.perf_counter() - T0:.0f} s")
    return result


def run_training(args: argparse.Namespace) -> tuple[int | None, dict, list]:
    """Training steps of every network at the largest patch (from --train-patch down by 16) that fits for all."""
    attempts, cache = [], {}
    patch = args.train_patch
    while patch >= MIN_PATCH:
        fits = True
        for key in args.case_keys:
            if (key, patch) not in cache:
                cache[(key, patch)] = run_case(args, key, "train", patch)
                attempts.append(cache[(key, patch)])
            if cache[(key, patch)]["status"] in OOM_STATUSES:
                fits = False
                break
        if fits:
            return patch, {key: cache[(key, patch)] for key in args.case_keys}, attempts
        log(f"    patch {patch}^3 does not fit in the budget; trying {patch - PATCH_MULTIPLE}^3")
        patch -= PATCH_MULTIPLE
    return None, {}, attempts


def machine_info(args: argparse.Namespace) -> dict:
    import monai
    import torch

    info = common_machine_info()
    info.update(
        monai=monai.__version__,
        device=args.device,
        cuda_available=torch.cuda.is_available(),
        threads=args.threads or torch.get_num_threads(),
        mem_available_gb_at_start=mem_available_gb(),
        max_mem_gb=args.max_mem_gb,
    )
    if args.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_benchmark(args: argparse.Namespace) -> dict:
    machine = machine_info(args)
    if any(n.startswith("segmamba") for n in args.net_names) and args.device == "cpu":
        prepare_compiled_kernel()
    report = {"machine": machine, "settings": settings(args), "infer": {}, "train": {}}
    if "infer" in args.task_names:
        for key in args.case_keys:
            report["infer"][key] = run_case(args, key, "infer")
    if "train" in args.task_names:
        patch, cases, attempts = run_training(args)
        report["train"] = cases
        report["train_patch_used"] = patch
        report["train_attempts"] = attempts
    machine["loadavg_1min_at_end"] = os.getloadavg()[0]
    machine["total_s"] = time.perf_counter() - T0
    report["parameters"] = parameter_counts(report)
    report["ratios"] = ratios(report)
    return report


def settings(args: argparse.Namespace) -> dict:
    return {
        "volume": list(args.volume),
        "roi": args.roi,
        "overlap": OVERLAP,
        "mode": "gaussian",
        "sw_batch_size": 1,
        "windows": count_windows(tuple(args.volume), args.roi, OVERLAP),
        "train_patch_requested": args.train_patch,
        "repeats": args.repeats,
        "nets": args.net_names,
        "precisions": args.precision_names,
        "cases": args.case_keys,
        "tasks": args.task_names,
        "preset": "quick" if args.quick else "full",
        "seed": args.seed,
        "inputs": "random (standard normal image, uniform binary target): valid for time and memory only",
    }


def case_value(report: dict, task: str, case: str, key: str):
    result = report.get(task, {}).get(case) or {}
    return result.get(key) if result.get("status") == "ok" else None


# (name, numerator case, denominator case): the ratios printed under the table when both cases ran
RATIO_PAIRS = (
    ("SegMamba bf16 / SegResNet fp32", "segmamba/bf16", "segresnet/fp32"),
    ("SegMamba fp32 / SegResNet fp32", "segmamba/fp32", "segresnet/fp32"),
    ("SegMamba bf16 / SegResNet bf16", "segmamba/bf16", "segresnet/bf16"),
    ("SegMamba fp32 / bf16 (bf16 speed-up)", "segmamba/fp32", "segmamba/bf16"),
    ("SegResNet fp32 / bf16 (bf16 speed-up)", "segresnet/fp32", "segresnet/bf16"),
    ("SegMamba-plain fp32 / SegMamba fp32 (fast-path speed-up)", "segmamba_plain/fp32", "segmamba/fp32"),
    ("SegMamba-plain bf16 / SegMamba bf16 (fast-path speed-up)", "segmamba_plain/bf16", "segmamba/bf16"),
)


def ratios(report: dict) -> dict:
    """Time and memory ratios of the case pairs in RATIO_PAIRS (None where either is missing)."""
    out = {}
    for task in TASKS:
        for key in ("median_s", "peak_extra_gb"):
            for name, num, den in RATIO_PAIRS:
                out[f"{task}/{key}/{name}"] = ratio(
                    case_value(report, task, num, key), case_value(report, task, den, key)
                )
    params = report["parameters"]
    out["parameters"] = ratio(params.get("segmamba"), params.get("segresnet"))
    return out


def parameter_counts(report: dict) -> dict:
    """Parameters per network, from whichever of its workers reported them."""
    params = {}
    for case in [c for task in TASKS for c in report.get(task, {}).values()] + report.get("train_attempts", []):
        if case.get("parameters") is not None:
            params.setdefault(case["net"], case["parameters"])
    return params


def fmt_ratio(value: float | None) -> str:
    return fmt_num(value, ".2f", "x")


def print_table(report: dict) -> None:
    machine, s = report["machine"], report["settings"]
    print()
    where = f"GPU {machine['gpu']}" if machine["device"] == "cuda" else f"CPU {machine['cpu']}"
    print(
        f"SegMamba vs SegResNet | {where}, {machine['threads']} threads | torch {machine['torch']}, "
        f"monai {machine['monai']} | total {machine['total_s'] / 60:.1f} min"
    )
    if "infer" in s["tasks"]:
        print(
            f"inference: random volume (1, 4, {', '.join(map(str, s['volume']))}), SlidingWindowInferer roi "
            f"{s['roi']}^3, overlap {s['overlap']}, gaussian, sw_batch_size 1 ({s['windows']} windows), eval + no_grad"
        )
    patch = report.get("train_patch_used")
    if "train" in s["tasks"]:
        requested = s["train_patch_requested"]
        tried = "" if patch == requested else f" (requested {requested}^3 did not fit)"
        shown = "none fits" if patch is None else f"{patch}^3{tried}"
        print(
            f"training step: batch 1, random patch {shown}, forward + DiceFocalLoss(sigmoid, gamma 0) + backward + "
            "SGD (momentum 0.99) step"
        )
    mem = "CUDA max allocated" if machine["device"] == "cuda" else "peak RSS"
    low = "fp16" if machine["device"] == "cuda" else "bf16"
    print(
        f"time: median of {s['repeats']} call(s); memory: {mem} above the level before the call; "
        f"bf16 = torch.autocast({machine['device']!r}, {low}) around the network call, blending/loss in fp32"
    )
    print()
    keys = s["cases"]
    width = max(16, *(len(case_label(k)) + 2 for k in keys))
    rows = [("parameters", None, "parameters")]
    if "infer" in s["tasks"]:
        rows += [("inference time", "infer", "median_s"), ("inference peak extra memory", "infer", "peak_extra_gb")]
    if "train" in s["tasks"]:
        label = "train step" if patch is None else f"train step {patch}^3"
        rows += [(f"{label} time", "train", "median_s"), (f"{label} peak extra memory", "train", "peak_extra_gb")]
    table = []
    for label, task, key in rows:
        if task is None:
            values = [report["parameters"].get(k.split("/")[0]) for k in keys]
            cells = [fmt_num(None if v is None else v / 1e6, ".2f", " M") for v in values]
        else:
            values = [case_value(report, task, k, key) for k in keys]
            statuses = [(report[task].get(k) or {}).get("status") for k in keys]
            fmt = fmt_time if key == "median_s" else (lambda v: fmt_num(v, ".2f", " GB"))
            cells = [
                fmt(v) if v is not None else ("OOM" if st in OOM_STATUSES else "-") for v, st in zip(values, statuses)
            ]
        table.append((label, cells))
    print_cells([case_label(k) for k in keys], table, label_width=36, width=width)
    print()
    print("ratios (time; peak memory in --json):")
    for name, _num, _den in RATIO_PAIRS:
        cells = []
        for task in (t for t in TASKS if t in s["tasks"]):
            value = report["ratios"][f"{task}/median_s/{name}"]
            if value is not None:
                cells.append(f"{'inference' if task == 'infer' else 'train step'} {fmt_ratio(value)}")
        if cells:
            print(f"  {name:<58}" + ", ".join(cells))
    print_notes(report)


def print_notes(report: dict) -> None:
    machine = report["machine"]
    print()
    print("note: inputs are random noise: valid for time and memory, meaningless for accuracy.")
    loads = [machine.get("loadavg_1min_at_start"), machine.get("loadavg_1min_at_end")]
    for task in TASKS:
        for case in report.get(task, {}).values():
            loads += [case.get("loadavg_1min_at_start"), case.get("loadavg_1min_at_end")]
    loads = [v for v in loads if v is not None]
    if loads and max(loads) > 1.0:
        print(
            f"note: 1-min load average between {min(loads):.1f} and {max(loads):.1f} during the run "
            f"({machine['cores']} cores): other processes competed for the CPUs, so timings are noisy and slower "
            "than on an idle machine (per-call times in --json)"
        )
    skipped = [a for a in report.get("train_attempts", []) if a.get("status") in OOM_STATUSES]
    for attempt in skipped:
        what = f"{NETS[attempt['net']]} {attempt.get('precision', 'fp32')}"
        print(
            f"note: {what} train step at {attempt.get('train_patch', '?')}^3 did not fit "
            f"({attempt['status']}; budget {machine['max_mem_gb']:.1f} GB, --max-mem-gb)"
        )
    backends = {c.get("scan_backend") for t in TASKS for c in report.get(t, {}).values() if c.get("scan_backend")}
    backends.discard(None)
    if machine["device"] == "cuda":
        print(
            f"GPU note: ran on {machine.get('gpu')}; memory is torch.cuda.max_memory_allocated() above the allocated "
            f"memory before the call (not the caching allocator's reserve); SegMamba scan backend: "
            f"{', '.join(sorted(backends)) or '-'}"
        )
    else:
        reason = "no CUDA device here" if not machine["cuda_available"] else "--device cpu"
        print(
            f"GPU note: ran on CPU ({reason}; SegMamba scan backend: {', '.join(sorted(backends)) or '-'}). Where "
            "torch.cuda.is_available(), --device auto (the default) runs on the GPU and reports memory as "
            "torch.cuda.max_memory_allocated() above the level before the call; SegMamba's scan then uses mamba-ssm's "
            "CUDA kernel when it imports, else the Triton kernel, else the chunked scan, with a warning (see README)."
        )


def parse_triple(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive integers like 240,240,155, got {text!r}")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    full, quick = PRESETS["full"], PRESETS["quick"]
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"fast sanity preset: volume {'x'.join(map(str, quick['volume']))}, roi {quick['roi']}, train patch "
        f"{quick['train_patch']} (explicit --volume/--roi/--train-patch still win)",
    )
    parser.add_argument(
        "--volume", type=parse_triple, help=f"D,H,W of the random volume (default {','.join(map(str, full['volume']))})"
    )
    parser.add_argument("--roi", type=int, help=f"sliding-window side, a multiple of 16 (default {full['roi']})")
    parser.add_argument(
        "--train-patch",
        type=int,
        help="training patch side, a multiple of 16; lowered by 16 while it does not fit "
        f"(default {full['train_patch']})",
    )
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per case (median reported; default 1)")
    parser.add_argument(
        "--nets",
        default=",".join(DEFAULT_NETS),
        help=f"comma-separated subset of {', '.join(NETS)} (default {','.join(DEFAULT_NETS)}; segmamba_plain is "
        "SegMamba without its CPU fast path, to measure what the fast path gains)",
    )
    parser.add_argument(
        "--precisions",
        default=None,
        help="comma-separated subset of fp32, bf16 (bf16 = bfloat16 autocast on CPU, float16 on CUDA); default both "
        "where the device runs the low precision natively (mamba_monai.utils.cpu_bf16_native() or CUDA), else fp32",
    )
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {', '.join(TASKS)}")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: CUDA when available, else CPU"
    )
    parser.add_argument(
        "--max-mem-gb",
        type=float,
        default=None,
        help="CPU only: memory a worker may allocate beyond its model and inputs (default 75%% of MemAvailable at "
        "start; 0 = no limit)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs and weights")
    parser.add_argument("--json", metavar="PATH", help="also write all numbers as JSON to PATH")
    add_worker_argument(parser)  # internal: one case in a fresh process
    args = parser.parse_args(argv)
    if args.worker:
        return args
    preset = PRESETS["quick" if args.quick else "full"]
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for option, value in (("--roi", args.roi), ("--train-patch", args.train_patch)):
        if value < MIN_PATCH or value % PATCH_MULTIPLE:
            parser.error(
                f"{option} must be a multiple of {PATCH_MULTIPLE} and at least {MIN_PATCH} (SegMamba's downsampling), "
                f"got {value}"
            )
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads < 0:
        parser.error(f"--threads must be >= 0, got {args.threads}")
    args.net_names = parse_list(parser, args.nets, NETS, "--nets")
    args.device, args.precision_names = device_and_precisions(parser, args.device, args.precisions, PRECISIONS)
    args.case_keys = [case_key(n, p) for n in args.net_names for p in args.precision_names]
    args.task_names = parse_list(parser, args.tasks, TASKS, "--tasks")
    if args.max_mem_gb is None:
        available = mem_available_gb()
        args.max_mem_gb = 0.0 if available is None else round(0.75 * available, 1)
    if args.max_mem_gb < 0:
        parser.error(f"--max-mem-gb must be >= 0, got {args.max_mem_gb}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        return serve_worker(args.worker, run_worker)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    log(
        f"device {args.device}; nets {', '.join(args.net_names)}; tasks {', '.join(args.task_names)}; "
        f"memory budget per worker {args.max_mem_gb:.1f} GB; 1-min load {os.getloadavg()[0]:.1f}"
    )
    report = run_benchmark(args)
    if args.json:
        write_json_report(args.json, report)
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
