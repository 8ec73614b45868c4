"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The reference implementation's golden vectors (read-only, never edited)."""
    path = Path(os.environ.get("LWA_GOLDEN", REPO_ROOT.parent / "shared" / "golden"))
    if not (path / "README.md").is_file():
        pytest.fail(f"golden files not found at {path}; set LWA_GOLDEN to shared/golden")
    return path


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread: the tests run tiny models, where a second intra-op thread only adds
    synchronisation cost (and stalls badly when the other core is busy)."""
    import torch

    torch.set_num_threads(1)
