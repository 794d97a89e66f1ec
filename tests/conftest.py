"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def backend(monkeypatch):
    """Force a selective-scan backend for one test: ``backend("compiled")``."""

    def force(name: str) -> None:
        monkeypatch.setenv("MAMBA_MONAI_SCAN_BACKEND", name)

    return force
