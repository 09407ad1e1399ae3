"""Fixtures of the templating tests."""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:  # the helper module templating_cases, under importlib import mode
    sys.path.insert(0, _HERE)

import pytest
from templating_cases import planned_case

from orthoplan.catalog import load_catalog


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(include_env=False, include_entry_points=False)


@pytest.fixture(scope="session")
def case0():
    return planned_case(0)
