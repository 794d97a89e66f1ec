"""Start MONAI Label's server on the mamba-monai app: a writable app folder, the bundles checked first."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mamba_monai.label.discovery import default_bundles_dir, parse_names, select_bundles

__all__ = [
    "LABEL_INSTALL_HINT",
    "default_app_dir",
    "monailabel_unavailable_reason",
    "prepare_app_dir",
    "serve_label_app",
    "start_server_argv",
]

#: how to get MONAI Label next to mamba-monai (it pins numpy < 2 through pydicom-seg and numpymaxflow)
LABEL_INSTALL_HINT = (
    "MONAI Label pins numpy < 2 (through pydicom-seg and numpymaxflow), so give it its own virtual environment:\n"
    "  python -m venv .venv-label\n"
    "  .venv-label/bin/pip install -e '.[label]'\n"
    "  .venv-label/bin/mamba-monai label serve --studies DIR"
)

_APP_MAIN = Path(__file__).resolve().parent / "app" / "main.py"


def monailabel_unavailable_reason() -> str | None:
    """``None`` when ``monailabel`` can be imported here, else why not and how to install it."""
    if importlib.util.find_spec("monailabel") is None:
        return f"monailabel is not installed in this Python environment ({sys.prefix}).\n{LABEL_INSTALL_HINT}"
    return None


def default_app_dir(studies: str) -> Path:
    """Where MONAI Label keeps this app's logs: ``<studies>/.mamba_monai_label`` next to its own labels, or a
    temporary folder for remote (DICOMweb) studies."""
    if studies.startswith(("http://", "https://")):
        return Path(tempfile.gettempdir()) / "mamba_monai_label_app"
    return Path(studies) / ".mamba_monai_label"


def prepare_app_dir(app_dir: str | os.PathLike) -> Path:
    """Create ``app_dir`` with the app's ``main.py`` in it (MONAI Label writes ``logs/``, ``model/``... there, so it
    cannot be the installed package folder). The copy is refreshed every time."""
    app_dir = Path(app_dir).resolve()
    app_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_APP_MAIN, app_dir / "main.py")
    return app_dir


def start_server_argv(
    studies: str,
    app_dir: str | os.PathLike,
    models: Sequence[str],
    bundles_dir: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 8000,
    configs: Sequence[str] = (),
    skip_trainers: bool = False,
) -> list[str]:
    """The ``monailabel start_server`` arguments for this app (without the program name)."""
    argv = ["start_server", "--app", str(app_dir), "--studies", studies, "--host", host, "--port", str(int(port))]
    conf = {"bundles_dir": str(bundles_dir), "models": ",".join(models)}
    if configs:
        conf["configs"] = ",".join(configs)
    if skip_trainers:
        conf["skip_trainers"] = "true"
    for key, value in conf.items():
        argv += ["--conf", key, value]
    return argv


def serve_label_app(
    studies: str | os.PathLike,
    models: str | Sequence[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    bundles_dir: str | os.PathLike | None = None,
    configs: str | Sequence[str] | None = None,
    app_dir: str | os.PathLike | None = None,
    skip_trainers: bool = False,
) -> None:
    """Serve the bundles with MONAI Label until interrupted (runs ``monailabel start_server`` in this process).

    Args:
        studies: folder of images to label (NIfTI, PNG, JPEG, TIFF...), or a DICOMweb URL.
        models: bundle names to serve (``"a,b"`` or a list); default every bundle with weights.
        host: address to listen on.
        port: port to listen on.
        bundles_dir: folder of bundles; default ``bundles/`` of the source checkout.
        configs: config files merged on top of each bundle's ``inference.json``/``train.json`` when present, e.g.
            ``demo.json`` for weights trained by ``mamba-monai demo``.
        app_dir: writable folder for MONAI Label's app files and logs; default ``<studies>/.mamba_monai_label``.
        skip_trainers: serve inference only.

    Raises:
        RuntimeError: monailabel is not installed here (the message says how to install it).
        ValueError: studies folder missing, unknown bundle, bundle without weights or of an unknown kind.
    """
    reason = monailabel_unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    studies = str(studies)
    if not studies.startswith(("http://", "https://")):
        if not Path(studies).is_dir():
            raise ValueError(f"studies folder '{studies}' does not exist (create it, or point --studies at images)")
        studies = str(Path(studies).resolve())
    root = Path(bundles_dir).resolve() if bundles_dir else default_bundles_dir()
    bundles = select_bundles(root, models, configs)
    app = prepare_app_dir(app_dir if app_dir else default_app_dir(studies))
    argv = start_server_argv(
        studies, app, list(bundles), root, host, port, parse_names(configs), skip_trainers=skip_trainers
    )
    print(f"MONAI Label on http://{host}:{port} serving {', '.join(f'{b.name} ({b.task})' for b in bundles.values())}")
    from monailabel.main import Main

    sys.argv = ["monailabel", *argv]
    Main().run()
