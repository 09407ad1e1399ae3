"""Fixtures of the archive tests: a private Orthanc for the session, small synthetic plans.

The Orthanc fixture FAILS (never skips) when Orthanc is not installed: the archive is what
orthoplan exists for, so a run without it must not look green.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # the helper module archive_helpers, under importlib import mode
    sys.path.insert(0, _HERE)

import pytest
from archive_helpers import OrthancServer, missing_orthanc

from orthoplan.archive.outbox import Outbox


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory) -> OrthancServer:
    """Orthanc on free 127.0.0.1 ports with its own storage, DICOMweb and authentication."""
    why = missing_orthanc()
    if why:
        pytest.fail(f"the archive tests need Orthanc: {why}", pytrace=False)
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"could not start Orthanc: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def outbox(tmp_path, monkeypatch) -> Outbox:
    """An empty outbox, also the default one (``$ORTHOPLAN_OUTBOX``) for the test."""
    path = tmp_path / "outbox"
    monkeypatch.setenv("ORTHOPLAN_OUTBOX", str(path))
    return Outbox(path)
