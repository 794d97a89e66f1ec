"""Run the MONAI model zoo's own bundle checks (``ci/verify_bundle.py`` of Project-MONAI/model-zoo) on our bundles.

Each bundle is copied as it ships (the files git tracks) into ``<zoo>/models/<name>``; when the bundle has no trained
``models/model.pt`` yet, a randomly initialised one is written from ``inference.json`` (the zoo's directory check
wants weights; the checks themselves never look at their values). The metadata schema is placed at
``eval/schema.json``, where ``verify_metadata`` looks before it downloads: MONAI's official
``meta_schema_20240725.json`` kept in ``tests/bundles/zoo_schema`` (or another file with ``--schema``). Then ``python ci/verify_bundle.py -b NAME -p
models -m MODE`` runs in the zoo checkout and a table says which step each bundle reached.

Example (a clone of https://github.com/Project-MONAI/model-zoo in ../model-zoo)::

    python scripts/check_bundles_zoo.py ../model-zoo --mode full

TorchScript (the last step of ``--mode full``) fails for the Mamba bundles by design: the selective scan is a custom
op that ``torch.jit.script`` cannot compile (tracing works: ``ckpt_export --use_trace true``); the zoo lists such
bundles in ``exclude_verify_torchscript_list`` (``ci/bundle_custom_data.py``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "tests" / "bundles" / "zoo_schema" / "meta_schema_20240725.json"
STEPS = ("directory", "version and changelog", "metadata format", "properties", "data shape", "torchscript")


def tracked_files(bundle: Path) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "."], cwd=bundle, capture_output=True, check=True).stdout
    return [bundle / name for name in listed.decode().split("\0") if name]


def stage(bundle: Path, models: Path, schema: Path) -> Path:
    """Copy ``bundle`` as shipped into ``models/``, with the schema and (random) weights the checks need."""
    target = models / bundle.name
    if target.exists():
        shutil.rmtree(target)
    for source in tracked_files(bundle):
        (target / source.relative_to(bundle)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.relative_to(bundle))
    (target / "eval").mkdir(exist_ok=True)
    shutil.copy(schema, target / "eval" / "schema.json")
    weights = bundle / "models" / "model.pt"
    (target / "models").mkdir(exist_ok=True)
    if weights.is_file():
        shutil.copy(weights, target / "models" / "model.pt")
    else:
        import torch
        from monai.bundle import ConfigParser

        parser = ConfigParser()
        parser.read_config(str(target / "configs" / "inference.json"))
        parser["bundle_root"] = str(target)
        torch.save(parser.get_parsed_content("network_def").state_dict(), target / "models" / "model.pt")
    return target


def reached(log: str) -> list[str]:
    """The steps ``verify_bundle.py`` printed as verified."""
    done = []
    for step in STEPS[:-1]:
        if f"{step} is verified correctly" in log or f"{step} are verified correctly" in log:
            done.append(step)
    if "does not support torchscript" not in log and "Traceback" not in log and done:
        done.append("torchscript")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zoo", type=Path, help="a checkout of Project-MONAI/model-zoo (its ci/ folder is used)")
    parser.add_argument("--bundles", nargs="*", help="bundle names (default: every folder of bundles/)")
    parser.add_argument("--mode", default="full", choices=("min", "full"), help="verify_bundle.py mode")
    parser.add_argument(
        "--schema",
        type=Path,
        default=SCHEMA,
        help="metadata schema (default: the official copy in tests/bundles/zoo_schema)",
    )
    args = parser.parse_args(argv)
    if not (args.zoo / "ci" / "verify_bundle.py").is_file():
        parser.error(f"'{args.zoo}' is not a model-zoo checkout: no ci/verify_bundle.py in it")
    if not args.schema.is_file():
        parser.error(f"schema file '{args.schema}' does not exist")
    names = args.bundles or sorted(p.parents[1].name for p in (REPO / "bundles").glob("*/configs/metadata.json"))
    models = args.zoo / "models"
    rows = []
    for name in names:
        bundle = REPO / "bundles" / name
        if not (bundle / "configs" / "metadata.json").is_file():
            parser.error(f"no bundle '{name}' under {REPO / 'bundles'}")
        stage(bundle, models, args.schema)
        result = subprocess.run(
            [sys.executable, "ci/verify_bundle.py", "-b", name, "-p", "models", "-m", args.mode],
            cwd=args.zoo, capture_output=True, text=True,
        )  # fmt: skip
        log = result.stdout + result.stderr
        (args.zoo / f"verify_{name}.log").write_text(log)
        steps = reached(log)
        failed = next((step for step in STEPS if step not in steps), "-") if result.returncode else "-"
        rows.append((name, "passed" if result.returncode == 0 else "FAILED", ", ".join(steps), failed))
        print(f"{name}: {rows[-1][1]} (log: {args.zoo / f'verify_{name}.log'})", flush=True)
    width = max(len(row[0]) for row in rows)
    print(f"\n{'bundle'.ljust(width)}  result  failed at      verified")
    for name, result, steps, failed in rows:
        print(f"{name.ljust(width)}  {result.ljust(6)}  {failed.ljust(14)}{steps}")
    return 0 if all(row[1] == "passed" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
