"""The ``mamba-monai`` command line (python-fire). ``mamba-monai --help`` and ``mamba-monai COMMAND --help``."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import fire

from mamba_monai.label.cli import LabelCLI
from mamba_monai.zoo.cli import ZooCLI

__all__ = ["MambaMonaiCLI", "main"]


def scan_backend_report(device) -> tuple[str, str]:
    """The backend a selective scan on ``device`` would use, and why / what would be faster (the fallback warning)."""
    import warnings

    from mamba_monai.ops import backends

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        saved, backends._warned = backends._warned, set()
        try:
            backend = backends.resolve_backend(device)
        except RuntimeError as error:
            return "none", str(error)
        finally:
            backends._warned = saved
    return backend, "; ".join(str(w.message) for w in caught)


class MambaMonaiCLI:
    """Tools of mamba-monai: environment report, kernel build, bundle demos, benchmarks, bundle zoo, MONAI Label server."""

    label = LabelCLI()
    zoo = ZooCLI()

    def info(self) -> None:
        """Print versions and which selective-scan backends can run here (builds the CPU kernel if needed)."""
        import monai
        import torch

        import mamba_monai
        from mamba_monai.ops.backends import BACKEND_ENV, requested_backend
        from mamba_monai.ops.compiled import kernel_unavailable_reason
        from mamba_monai.ops.cuda import mamba_ssm_unavailable_reason
        from mamba_monai.ops.triton_scan import triton_unavailable_reason

        compiled = kernel_unavailable_reason()
        cuda = torch.cuda.is_available()
        triton = triton_unavailable_reason(torch.device("cuda"))  # None when Triton imports
        report = {
            "mamba_monai": mamba_monai.__version__,
            "torch": torch.__version__,
            "monai": monai.__version__,
            "cuda_available": cuda,
            BACKEND_ENV: requested_backend(),
            "compiled_cpu_kernel": "available" if compiled is None else compiled,
            "mamba_ssm_cuda_kernel": (mamba_ssm_unavailable_reason() or "available") if cuda else "no CUDA device",
            "triton_cuda_kernels": triton or ("available" if cuda else "Triton installed; no CUDA device to run on"),
        }
        for key, value in report.items():
            print(f"{key:26s} {value}")
        devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            devices.append("mps")
        for device in devices:
            backend, why = scan_backend_report(torch.device(device))
            print(f"{'scan on ' + device:26s} {backend}" + (f" ({why})" if why else ""))

    def build_kernel(self, verbose: bool = False) -> None:
        """Compile the C++ selective-scan CPU kernel now (otherwise it is built on first use).

        Args:
            verbose: show the compiler's output.
        """
        import os

        if verbose:
            os.environ["MAMBA_MONAI_VERBOSE_BUILD"] = "1"
        from mamba_monai.ops.compiled import load_kernel

        module = load_kernel()
        print(f"built {module.__name__} ({module.__file__}); threads: {module.threads()}")

    def demo(self, bundle: str = "segmamba_brats", bundle_root: str | None = None, **overrides) -> None:
        """Run a bundle's demo on synthetic data (generated if absent): train, evaluate, infer.

        Args:
            bundle: bundle name (segmamba_brats).
            bundle_root: bundle folder; default bundles/<bundle> of this checkout. Outputs go below it.
            overrides: any config override, e.g. --epochs 5.
        """
        if overrides.pop("help", False) or overrides.pop("h", False):  # fire hands --help to **overrides
            print(self.demo.__doc__)
            return
        from mamba_monai.demo import run_demo

        times = run_demo(bundle, bundle_root, **overrides)
        print("\ndemo done in " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))

    def convert(self, in_path=None, out_path=None, variant=None, genotype=None, overwrite=False, **kwargs) -> None:
        """Convert a checkpoint of an original repository (MedMamba, MedMambaSE, Microscopic-Mamba, SliceMamba,
        SegMamba, SE-ResNeXt) into this package's network, e.g. a bundle's models/model.pt.

        mamba-monai convert --from {medmamba,medmambase,msmamba,slicemamba,segmamba,senet} IN.pth OUT.pt
        [--variant V] [--genotype G] [--overwrite]; `mamba-monai convert --help` for details.
        """
        from mamba_monai.convert.cli import convert_command

        convert_command(in_path, out_path, variant=variant, genotype=genotype, overwrite=overwrite, **kwargs)

    def brats_metrics(
        self,
        ref_dir: str,
        pred_dir: str,
        coding: str = "2023",
        out: str = "brats_metrics.json",
        config: str = "gli",
        progress: bool = True,
    ) -> None:
        """Official BraTS metrics (brats-evaluation / panoptica) of the label maps in PRED_DIR against REF_DIR.

        Writes OUT (.json: per case, mean / std / median, missing cases) and the same name with .csv (a row per case,
        the columns of the official parser); prints a short summary and the cases missing on either side.
        Needs pip install 'mamba-monai[brats]'.

        Args:
            ref_dir: folder of reference label maps (.nii.gz / .nii).
            pred_dir: folder of predicted label maps; matched to references by case name.
            coding: label coding of both folders: 2021 (ET = 4) or 2023 (ET = 3).
            out: the JSON file to write (the CSV goes beside it).
            config: BraTS sub-challenge configuration of brats-evaluation (gli, mets, ped, MenRT, MenPre, GoAT) or a
                panoptica YAML file.
            progress: show a progress bar.
        """
        from mamba_monai.metrics.brats_folders import evaluate_folders, format_summary, write_official_tables

        result = evaluate_folders(ref_dir, pred_dir, coding=str(coding), config=config, progress=progress)
        settings = {"coding": str(coding), "config": str(config), "ref_dir": str(Path(ref_dir).resolve()),
                    "pred_dir": str(Path(pred_dir).resolve())}  # fmt: skip
        json_path, csv_path = write_official_tables(result, out, settings)
        print(format_summary(result))
        if result.missing_predictions:
            print(f"no prediction for {len(result.missing_predictions)} case(s), scored as the official tool does "
                  f"(0, HD95 373): {', '.join(result.missing_predictions)}")  # fmt: skip
        if result.missing_references:
            print(f"no reference for {len(result.missing_references)} prediction(s), not scored: "
                  f"{', '.join(result.missing_references)}")  # fmt: skip
        print(f"{len(result.rows)} case(s): {json_path} and {csv_path}")

    def bench_scan(self, *args: str) -> None:
        """Run scripts/bench_scan.py (source checkout only) with the given arguments; see its --help."""
        script = Path(__file__).resolve().parents[1] / "scripts" / "bench_scan.py"
        if not script.is_file():
            raise SystemExit(f"{script} not found: benchmarks ship with the source checkout, not the wheel")
        sys.argv = [str(script), *map(str, args)]
        runpy.run_path(str(script), run_name="__main__")


def main() -> None:
    """The ``mamba-monai`` command. A bad input ends in one line naming what is wrong (exit code 2); set
    ``MAMBA_MONAI_TRACEBACK=1`` to see the traceback instead."""
    import os
    import sys

    from mamba_monai.utils.error_summary import root_cause

    try:
        fire.Fire(MambaMonaiCLI(), name="mamba-monai")
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError) as error:
        if os.environ.get("MAMBA_MONAI_TRACEBACK", "").strip() not in ("", "0"):
            raise
        cause = root_cause(error)
        print(f"mamba-monai: {cause} (set MAMBA_MONAI_TRACEBACK=1 for the traceback)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
