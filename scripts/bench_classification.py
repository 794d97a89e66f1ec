#!/usr/bin/env python
"""Benchmark MedMamba-T against SE-ResNeXt-50 (2D classification), float32 and bf16 autocast side by side.

In one process, on the same random batch ``(batch, 3, size, size)``, for each (network, precision) this times

* **inference**: ``net.eval()`` forward under ``torch.no_grad()``;
* **training step**: ``net.train()`` forward + cross-entropy + backward + AdamW step.

"bf16" is ``torch.autocast("cpu", dtype=torch.bfloat16)`` around the forward (float16 on CUDA) with the loss in
float32 and no gradient scaler, as the bundles run it (``mamba_monai.engines.AutocastInferer``). The cases are
interleaved: each repeat runs every case once, so a neighbour's load spreads over all of them; the median per case is
reported, with the ratios MedMamba-T / SE-ResNeXt-50 and fp32 / bf16 computed from the same run.

Networks: ``mamba_monai.networks.nets.MedMamba(variant="t")`` (~14.5 M parameters) and MONAI's
``SEResNext50(spatial_dims=2)`` (~26 M), both with ``--classes`` outputs. Random inputs: valid for time only.

Examples::

    python scripts/bench_classification.py                      # batch 8, 224^2, 3 repeats
    python scripts/bench_classification.py --batch 4 --size 128 --repeats 2 --precisions fp32,bf16
"""

from __future__ import annotations

import argparse
import statistics
import sys

from bench_common import (
    device_and_precisions,
    load_note,
    low_precision,
    parse_list,
    print_table as print_cells,
    synchronize,
    time_interleaved,
    write_json_report,
)

NETS = {"medmamba_t": "MedMamba-T", "seresnext50": "SE-ResNeXt-50"}
PRECISIONS = ("fp32", "bf16")
TASKS = ("infer", "train")


def build_net(name: str, classes: int):
    if name == "medmamba_t":
        from mamba_monai.networks.nets import MedMamba

        return MedMamba(in_channels=3, num_classes=classes, variant="t")
    from monai.networks.nets import SEResNext50

    return SEResNext50(spatial_dims=2, in_channels=3, num_classes=classes)


def make_calls(net, precision: str, image, label, device):
    """(infer, train_step) closures for one network and precision."""
    import torch

    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def infer():
        net.eval()
        with torch.no_grad(), low_precision(precision, device):
            net(image)
        synchronize(device)

    def train_step():
        net.train()
        optimizer.zero_grad(set_to_none=True)
        with low_precision(precision, device):
            logits = net(image)
        torch.nn.functional.cross_entropy(logits.float(), label).backward()
        optimizer.step()
        synchronize(device)

    return {"infer": infer, "train": train_step}


def run(args: argparse.Namespace) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(args.seed)
    image = torch.randn(args.batch, 3, args.size, args.size, generator=g).to(device)
    label = torch.randint(0, args.classes, (args.batch,), generator=g).to(device)
    nets, params, calls = {}, {}, {}
    for name in args.net_names:
        torch.manual_seed(args.seed)
        nets[name] = build_net(name, args.classes).to(device)
        params[name] = sum(p.numel() for p in nets[name].parameters())
        for precision in args.precision_names:
            calls[(name, precision)] = make_calls(nets[name], precision, image, label, device)
    cases = {(name, precision, task): fns[task] for (name, precision), fns in calls.items() for task in args.task_names}
    times, loads = time_interleaved(cases, args.repeats)
    medians = {"/".join(k): statistics.median(v) for k, v in times.items()}
    return {
        "settings": {k: getattr(args, k) for k in ("batch", "size", "classes", "repeats", "device", "seed")},
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "parameters": params,
        "times_s": {"/".join(k): v for k, v in times.items()},
        "median_s": medians,
        "loadavg_1min": loads,
    }


def print_table(report: dict, args: argparse.Namespace) -> None:
    med = report["median_s"]
    s = report["settings"]
    print()
    print(
        f"MedMamba-T vs SE-ResNeXt-50 | {s['device']}, {report['threads']} threads, torch {report['torch']} | batch "
        f"{s['batch']} x 3 x {s['size']}^2, {s['classes']} classes | median of {s['repeats']} interleaved repeats"
    )
    keys = [(n, p) for n in args.net_names for p in args.precision_names]
    rows = [("parameters", [f"{report['parameters'][n] / 1e6:.2f} M" for n, p in keys])]
    for task in args.task_names:
        label = "inference" if task == "infer" else "train step"
        cells = [med.get(f"{n}/{p}/{task}") for n, p in keys]
        rows.append((label, [f"{c * 1e3:.1f} ms" if c else "-" for c in cells]))
    print_cells([f"{NETS[n]} {p}" for n, p in keys], rows, label_width=22, width=22)
    print()
    for task in args.task_names:
        label = "inference" if task == "infer" else "train step"
        for p in args.precision_names:
            a, b = med.get(f"medmamba_t/{p}/{task}"), med.get(f"seresnext50/fp32/{task}")
            if a and b:
                print(f"  {label}: MedMamba-T {p} / SE-ResNeXt-50 fp32 = {a / b:.2f}x")
        for n in args.net_names:
            a, b = med.get(f"{n}/fp32/{task}"), med.get(f"{n}/bf16/{task}")
            if a and b:
                print(f"  {label}: {NETS[n]} fp32 / bf16 (bf16 speed-up) = {a / b:.2f}x")
    note = load_note(report["loadavg_1min"])
    if note:
        print(note)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    parser.add_argument("--size", type=int, default=224, help="image side (default 224, MedMamba's input)")
    parser.add_argument("--classes", type=int, default=6, help="output classes (default 6)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of every case (default 3)")
    parser.add_argument("--nets", default=",".join(NETS), help=f"subset of {', '.join(NETS)}")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"subset of {', '.join(TASKS)}")
    parser.add_argument(
        "--precisions",
        default=None,
        help="subset of fp32, bf16; default both where the device runs bf16/fp16 natively, else fp32",
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write all numbers as JSON to PATH")
    args = parser.parse_args(argv)
    for option in ("batch", "size", "classes", "repeats"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be >= 1, got {getattr(args, option)}")
    if args.size % 32:
        parser.error(f"--size must be a multiple of 32 (both networks downsample 32x), got {args.size}")
    args.device, args.precision_names = device_and_precisions(parser, args.device, args.precisions, PRECISIONS)
    args.net_names = parse_list(parser, args.nets, NETS, "--nets")
    args.task_names = parse_list(parser, args.tasks, TASKS, "--tasks")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    report = run(args)
    if args.json:
        write_json_report(args.json, report)
    print_table(report, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
