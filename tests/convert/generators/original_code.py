"""Load an original repository's model code from a local checkout, without its CUDA extensions.

The originals import ``mamba_ssm``'s selective scan (a CUDA kernel); here it is replaced by this package's
pure-PyTorch reference (``mamba_monai.ops.reference.selective_scan_ref``, the same contract), so the originals run on
CPU. Packages the originals import only for side tools (``fvcore`` FLOP counting) are stubbed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

from mamba_monai.ops.reference import selective_scan_ref

__all__ = ["exec_notebook_cells", "git_commit", "install_cpu_stubs", "load_module"]


def install_cpu_stubs() -> None:
    """Make ``mamba_ssm.ops.selective_scan_interface`` the reference scan, and ``fvcore.nn`` an empty module."""
    interface = types.ModuleType("mamba_ssm.ops.selective_scan_interface")
    interface.selective_scan_fn = selective_scan_ref
    interface.selective_scan_ref = selective_scan_ref
    ops = types.ModuleType("mamba_ssm.ops")
    ops.selective_scan_interface = interface
    root = types.ModuleType("mamba_ssm")
    root.ops = ops
    sys.modules.update({"mamba_ssm": root, "mamba_ssm.ops": ops, "mamba_ssm.ops.selective_scan_interface": interface})
    fvcore_nn = types.ModuleType("fvcore.nn")
    for name in ("FlopCountAnalysis", "flop_count_str", "flop_count", "parameter_count", "parameter_count_table"):
        setattr(fvcore_nn, name, None)
    sys.modules.update({"fvcore": types.ModuleType("fvcore"), "fvcore.nn": fvcore_nn})


def load_module(repository: str | Path, relative_path: str, name: str, stop_at: str | None = None) -> types.ModuleType:
    """Import ``repository/relative_path`` as module ``name`` (the file's folder and the repository root go first on
    ``sys.path``, for the original's own imports such as ``from utils import seed``).

    Args:
        repository: root of the checkout.
        relative_path: the model file in it.
        name: the module name to register.
        stop_at: run the file only up to the first line starting with this text (e.g. demo code at the end of the
            file that builds full-size models on CUDA).
    """
    repository = Path(repository).resolve()
    path = repository / relative_path
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: pass the root of a checkout of the original repository")
    for folder in (str(repository), str(path.parent)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    source = path.read_text()
    if stop_at is not None:
        lines = source.splitlines(keepends=True)
        end = next((i for i, line in enumerate(lines) if line.startswith(stop_at)), None)
        if end is None:
            raise SystemExit(f"{path}: no line starts with {stop_at!r} (another version of the original?)")
        source = "".join(lines[:end])
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(source, str(path), "exec"), module.__dict__)  # noqa: S102 - the original's code, by request
    return module


def exec_notebook_cells(notebook: str | Path, cells: list[int]) -> dict[str, Any]:
    """Run the given code cells of a Jupyter notebook in one namespace and return it."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise SystemExit(f"{notebook} does not exist: pass the root of a checkout of the original repository")
    content = json.loads(notebook.read_text())
    namespace: dict[str, Any] = {"__name__": "original_notebook"}
    for index in cells:
        cell = content["cells"][index]
        if cell["cell_type"] != "code":
            raise SystemExit(f"{notebook}: cell {index} is not a code cell (another version of the notebook?)")
        exec(compile("".join(cell["source"]), f"{notebook.name}[{index}]", "exec"), namespace)  # noqa: S102
    return namespace


def git_commit(repository: str | Path) -> str:
    """The checkout's short commit (``unknown`` outside git), recorded in the fixture."""
    try:
        result = subprocess.run(
            ["git", "-C", str(repository), "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True, check=True
        )
        return result.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
