"""End-to-end demos of the bundles on synthetic data: train, evaluate, infer, and say where everything went."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["DEMOS", "find_bundle", "run_demo"]


def _classification_demo() -> list[tuple[str, list[str], str | None, dict]]:
    on_test_split = {"input": "$@dataset_dir + '/datalist.json'"}
    return [
        ("train", ["train.json", "demo.json"], "train", {}),
        ("evaluate", ["train.json", "evaluate.json", "demo.json"], "eval", {}),
        ("inference", ["inference.json", "demo.json"], "infer", on_test_split),
        (
            "explain",
            ["inference.json", "explain.json", "demo.json"],
            "infer",
            {**on_test_split, "explain_max_images": 4},
        ),
    ]


# bundle name -> (workflows to run in order: (label, config files, workflow type, extra overrides))
DEMOS: dict[str, list[tuple[str, list[str], str | None, dict]]] = {
    "segmamba_brats": [
        ("train", ["train.json", "demo.json"], "train", {}),
        ("evaluate", ["train.json", "evaluate.json", "demo.json"], "eval", {}),
        ("inference", ["inference.json", "demo.json"], "infer", {"input": "$@dataset_dir + '/datalist.json'"}),
    ],
    "medmambase_ultrasound": _classification_demo(),
    "senet_ultrasound": _classification_demo(),
    "msmamba_microscopy": _classification_demo(),
    "slicemamba_lesion": [
        ("supernet", ["train.json", "train_supernet.json", "demo.json"], "train", {}),
        ("search", ["train.json", "search.json", "demo.json"], None, {}),
        ("retrain", ["train.json", "demo.json"], "train", {}),
        ("evaluate", ["train.json", "evaluate.json", "demo.json"], "eval", {}),
        ("inference", ["inference.json", "demo.json"], "infer", {"input": "$@dataset_dir + '/datalist.json'"}),
    ],
}


def find_bundle(name: str, bundle_root: str | os.PathLike | None = None) -> Path:
    """The bundle folder: ``bundle_root`` if given, else ``bundles/<name>`` of this source checkout."""
    root = Path(bundle_root) if bundle_root else Path(__file__).resolve().parents[1] / "bundles" / name
    if not (root / "configs").is_dir():
        raise FileNotFoundError(f"bundle '{name}' not found at {root} (pass --bundle_root PATH)")
    return root


def run_bundle_workflow(root: Path, files: list[str], workflow_type: str, **overrides) -> float:
    """Run one workflow of the bundle at ``root`` (initialize, run, finalize) with MONAI's ``ConfigWorkflow``, as
    ``python -m monai.bundle run`` does; returns the seconds it took.

    Args:
        root: the bundle folder.
        files: config files in ``configs/``, merged in order.
        workflow_type: ``"train"``, ``"eval"`` or ``"infer"``.
        overrides: config overrides.
    """
    from monai.bundle import ConfigWorkflow

    configs = root / "configs"
    start = time.perf_counter()
    workflow = ConfigWorkflow(
        config_file=[str(configs / f) for f in files],
        meta_file=str(configs / "metadata.json"),
        logging_file=str(configs / "logging.conf"),
        workflow_type=workflow_type,
        bundle_root=str(root),
        **overrides,
    )
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    return time.perf_counter() - start


def run_demo(name: str, bundle_root: str | os.PathLike | None = None, **overrides) -> dict[str, float]:
    """Run the demo workflows of bundle ``name`` and return the seconds each took.

    Args:
        name: bundle name, one of :data:`DEMOS`.
        bundle_root: bundle folder (default: ``bundles/<name>`` of the source checkout).
        overrides: config overrides applied to every workflow (e.g. ``epochs=5``).
    """
    if name not in DEMOS:
        raise ValueError(f"no demo for '{name}'; demos exist for: {', '.join(sorted(DEMOS))}")
    root = find_bundle(name, bundle_root)
    times = {}
    for label, files, workflow_type, extra in DEMOS[name]:
        print(f"\n=== {name}: {label} ({' + '.join(files)}) ===", flush=True)
        times[label] = run_bundle_workflow(root, files, workflow_type, **{**extra, **overrides})
        print(f"=== {label} took {times[label]:.0f} s ===", flush=True)
    return times
