"""Fixtures shared by every test folder. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# The suites built on phantoms (landmarks, templating, batch, CLI, notebooks ...) measure the
# classical AP pelvis detector, whose phantom tolerances are sub-millimetre; the learned
# detector (the library's default) has its own tests in tests/learned, which switch it on.
os.environ.setdefault("ORTHOPLAN_DETECTOR", "classical")


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository (override with ORTHOPLAN_SHARED_DATA)."""
    return Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """The real radiographs of ``../shared/data/real``; a missing folder fails, never skips."""
    path = shared_data_dir() / "real"
    assert path.is_dir(), f"test data missing: {path} (the shared/ folder must sit beside the repo)"
    return path
