"""The selective scan: public function, torch.library registration and backends."""

from mamba_monai.ops.backends import BACKEND_ENV, resolve_backend
from mamba_monai.ops.reference import selective_scan_ref
from mamba_monai.ops.selective_scan import selective_scan_fn

selective_scan = selective_scan_fn

__all__ = ["BACKEND_ENV", "resolve_backend", "selective_scan", "selective_scan_fn", "selective_scan_ref"]
