"""Fixtures of tests/catalog: small valid family documents and a writer for catalog folders."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from orthoplan.catalog import ENV_VAR, bundled_catalog_dirs

_SOURCE = {"id": "g", "kind": "generic", "title": "generic: test data"}

CUP = {
    "schema_version": "1.0",
    "vendor": "Acme",
    "family": "Acme Cup",
    "kind": "cup",
    "fixation": "uncemented",
    "sources": [_SOURCE],
    "field_sources": {"outer_diameter_mm": "g", "dual_mobility": "g", "compatible_head_diameters_mm": "g"},
    "sizes": [
        {"label": "50", "outer_diameter_mm": 50, "dual_mobility": False, "compatible_head_diameters_mm": [28, 32]},
        {"label": "52", "outer_diameter_mm": 52, "dual_mobility": False, "compatible_head_diameters_mm": [28, 32, 36]},
        {"label": "54", "outer_diameter_mm": 54, "dual_mobility": False, "compatible_head_diameters_mm": [28, 32, 36]},
    ],
}

STEM = {
    "schema_version": "1.0",
    "vendor": "Acme",
    "family": "Acme Stem",
    "kind": "stem",
    "fixation": "cemented",
    "variant": "standard",
    "sources": [_SOURCE],
    "field_sources": {
        k: "g"
        for k in ("stem_length_mm", "neck_shaft_angle_deg", "horizontal_offset_mm", "resection_level_mm", "body_widths_mm")
    },
    "sizes": [
        {"label": "1", "stem_length_mm": 160, "neck_shaft_angle_deg": 130, "horizontal_offset_mm": 38,
         "resection_level_mm": 36, "body_widths_mm": [[0, 26], [20, 18], [50, 13], [100, 10]]},
        {"label": "2", "stem_length_mm": 170, "neck_shaft_angle_deg": 130, "horizontal_offset_mm": 41,
         "resection_level_mm": 38, "body_widths_mm": [[0, 28], [20, 19], [50, 14], [100, 11]]},
    ],
}

HEAD = {
    "schema_version": "1.0",
    "vendor": "Acme",
    "family": "Acme Heads",
    "kind": "head",
    "fixation": "either",
    "sources": [_SOURCE],
    "field_sources": {"diameter_mm": "g", "neck_lengths_mm": "g"},
    "sizes": [{"label": "32", "diameter_mm": 32, "neck_lengths_mm": [-3.5, 0, 3.5, 7]}],
}


@pytest.fixture
def cup_doc() -> dict:
    return copy.deepcopy(CUP)


@pytest.fixture
def stem_doc() -> dict:
    return copy.deepcopy(STEM)


@pytest.fixture
def head_doc() -> dict:
    return copy.deepcopy(HEAD)


def _write_json(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return path


@pytest.fixture
def write_json():
    """``write_json(path, doc_or_text) -> path`` (creates parent folders)."""
    return _write_json


@pytest.fixture
def bundled_dir() -> Path:
    dirs = bundled_catalog_dirs()
    assert len(dirs) == 1, "the bundled implant_catalogs/ folder must be found from the source checkout"
    return dirs[0]


@pytest.fixture(autouse=True)
def _no_env_catalogs(monkeypatch):
    """Tests start without ORTHOPLAN_CATALOG_PATH, whatever the shell has."""
    monkeypatch.delenv(ENV_VAR, raising=False)
