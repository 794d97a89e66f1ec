"""MONAI Label app serving the bundles: ``mamba-monai label serve --studies DIR [--models a,b]``.

Importing this package does not import ``monailabel`` (an optional extra that needs its own virtual environment, see
:data:`~mamba_monai.label.server.LABEL_INSTALL_HINT`); the app and its tasks live in ``bundle_app``,
``segmentation_task``, ``classification_task`` and ``train_task``, which do.
"""

from mamba_monai.label.discovery import ServableBundle, bundle_task, default_bundles_dir, find_bundles, select_bundles
from mamba_monai.label.server import monailabel_unavailable_reason, serve_label_app

__all__ = [
    "ServableBundle",
    "bundle_task",
    "default_bundles_dir",
    "find_bundles",
    "monailabel_unavailable_reason",
    "select_bundles",
    "serve_label_app",
]
