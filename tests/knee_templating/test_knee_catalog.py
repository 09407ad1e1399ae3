"""Knee kinds in the catalog format: schema, loader checks, bundled families, outlines, meshes."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from orthoplan.catalog import (
    KINDS,
    KNEE_KINDS,
    FemoralComponentSize,
    TibialTraySize,
    family_schema,
    femoral_component_mesh,
    femoral_component_outline_mm,
    load_catalog,
    tibial_insert_outline_mm,
    tibial_tray_mesh,
    tibial_tray_outline_mm,
    to_image,
    validate_catalog_folder,
    validate_family_document,
)
from orthoplan.catalog.loader import bundled_catalog_dirs
from orthoplan.errors import CatalogError

FEMORAL = {
    "schema_version": "1.0", "vendor": "Acme", "family": "Acme Knee Femur", "kind": "femoral_component",
    "fixation": "cemented",
    "sources": [{"id": "g", "kind": "generic", "title": "generic: typical dimensions"}],
    "field_sources": {"ml_width_mm": "g", "ap_dimension_mm": "g", "distal_thickness_mm": "g", "posterior_thickness_mm": "g"},
    "sizes": [
        {"label": "1", "ml_width_mm": 60, "ap_dimension_mm": 55, "distal_thickness_mm": 9, "posterior_thickness_mm": 9},
        {"label": "2", "ml_width_mm": 64, "ap_dimension_mm": 58, "distal_thickness_mm": 9, "posterior_thickness_mm": 9},
    ],
}
TRAY = {
    "schema_version": "1.0", "vendor": "Acme", "family": "Acme Knee Tray", "kind": "tibial_tray", "fixation": "cemented",
    "sources": [{"id": "g", "kind": "generic", "title": "generic: typical dimensions"}],
    "field_sources": {"ml_width_mm": "g", "ap_depth_mm": "g"},
    "sizes": [{"label": "1", "ml_width_mm": 62, "ap_depth_mm": 41}, {"label": "2", "ml_width_mm": 66, "ap_depth_mm": 44}],
}
INSERT = {
    "schema_version": "1.0", "vendor": "Acme", "family": "Acme Knee Insert", "kind": "tibial_insert", "fixation": "either",
    "sources": [{"id": "g", "kind": "generic", "title": "generic: typical dimensions"}],
    "field_sources": {"thicknesses_mm": "g"},
    "sizes": [{"label": "1", "thicknesses_mm": [9, 10, 12]}, {"label": "2", "thicknesses_mm": [9, 10, 12]}],
}


def _problems(doc):
    return [(p.pointer, p.reason) for p in validate_family_document(doc, "acme/knee.json") if p.severity == "error"]


def test_schema_lists_the_knee_kinds():
    assert set(KNEE_KINDS) <= set(KINDS)
    assert set(family_schema()["properties"]["kind"]["enum"]) == set(KINDS)


@pytest.mark.parametrize("doc", [FEMORAL, TRAY, INSERT], ids=["femoral", "tray", "insert"])
def test_good_knee_documents_pass(doc):
    assert _problems(doc) == []


@pytest.mark.parametrize(
    ("doc", "edit", "pointer", "reason"),
    [
        (FEMORAL, lambda d: d["sizes"][1].pop("ml_width_mm"), "/sizes/1/ml_width_mm", "required field is missing"),
        (FEMORAL, lambda d: d["sizes"][0].update(ml_width_mm=-60), "/sizes/0/ml_width_mm", "less than or equal to the minimum"),
        (FEMORAL, lambda d: d["sizes"][0].update(ml_widht_mm=60), "/sizes/0/ml_widht_mm", "unknown field"),
        (FEMORAL, lambda d: d["sizes"][1].update(ap_dimension_mm=50), "/sizes/1/ap_dimension_mm", "unsorted sizes"),
        (FEMORAL, lambda d: d["sizes"][0].update(distal_thickness_mm=30), "/sizes/0/distal_thickness_mm", "half the AP"),
        (FEMORAL, lambda d: d["field_sources"].pop("posterior_thickness_mm"), "/sizes/0/posterior_thickness_mm", "no source named"),
        (TRAY, lambda d: d["sizes"][1].update(ml_width_mm=62), "/sizes/1/ml_width_mm", "duplicate sizes"),
        (TRAY, lambda d: d["sizes"][0].update(ap_depth_mm="41"), "/sizes/0/ap_depth_mm", "is not of type 'number'"),
        (INSERT, lambda d: d["sizes"][0].update(thicknesses_mm=[9, 12, 10]), "/sizes/0/thicknesses_mm/2", "increase strictly"),
        (INSERT, lambda d: d["sizes"][0].update(thicknesses_mm=[]), "/sizes/0/thicknesses_mm", "should be non-empty"),
        (INSERT, lambda d: d.update(kind="knee"), "/kind", "'knee' is not one of"),
    ],
)
def test_malformed_knee_document_names_field_and_reason(doc, edit, pointer, reason):
    bad = copy.deepcopy(doc)
    edit(bad)
    problems = _problems(bad)
    assert any(p == pointer and reason in r for p, r in problems), problems


def test_malformed_knee_file_is_skipped_with_file_field_reason(tmp_path):
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "tray.json").write_text(json.dumps(TRAY))
    bad = copy.deepcopy(FEMORAL)
    bad["sizes"][0]["ap_dimension_mm"] = 0
    path = tmp_path / "acme" / "femur.json"
    path.write_text(json.dumps(bad))
    cat = load_catalog([tmp_path], include_bundled=False, include_env=False, include_entry_points=False)
    assert [f.family for f in cat.families] == ["Acme Knee Tray"]
    assert [(p.file, p.pointer) for p in cat.errors] == [(str(path), "/sizes/0/ap_dimension_mm")]
    with pytest.raises(CatalogError, match=r"femur.json: /sizes/0/ap_dimension_mm"):
        load_catalog([tmp_path], include_bundled=False, include_env=False, include_entry_points=False, strict=True)


def test_bundled_knee_families_are_clean_and_sourced(catalog):
    assert validate_catalog_folder(bundled_catalog_dirs()[0]) == []
    fem = catalog.of_kind("femoral_component")
    assert {f.vendor for f in fem} >= {"DePuy Synthes", "Stryker", "generic"}
    assert len(catalog.of_kind("tibial_tray")) >= 3 and len(catalog.of_kind("tibial_insert")) >= 3
    for kind in KNEE_KINDS:
        for fam in catalog.of_kind(kind):
            assert fam.data_quality in ("approximate", "generic", "vendor-document", "literature")
            if fam.data_quality == "approximate":
                assert all("approximate" in s.title for s in fam.sources if s.kind == "approximate")
            widths = [s.ml_width_mm for s in fam.sizes] if kind != "tibial_insert" else None
            if widths:
                assert widths == sorted(widths)


def test_outline_widths_at_magnification():
    fem = FemoralComponentSize("5", 70.0, 65.0, 9.0, 9.0)
    tray = TibialTraySize("4", 72.0, 48.0, 4.0, 40.0)
    for outline, ml in ((femoral_component_outline_mm(fem), 70.0), (tibial_tray_outline_mm(tray), 72.0)):
        px = to_image(outline, center_xy=(400, 300), magnification=1.15, detector_mm_per_px=0.2)
        assert np.ptp(px[:, 0]) == pytest.approx(ml * 1.15 / 0.2, abs=1e-9)
        # rotated 7 degrees: the extent along the rotated cut is unchanged
        px = to_image(outline, center_xy=(400, 300), rotation_deg=7.0, magnification=1.15, detector_mm_per_px=0.2)
        a = np.radians(7.0)
        along = (px - (400, 300)) @ np.array([np.cos(a), np.sin(a)])
        assert np.ptp(along) == pytest.approx(ml * 1.15 / 0.2, abs=1e-6)
    assert float(femoral_component_outline_mm(fem)[:, 1].max()) == pytest.approx(9.0)


def test_insert_outline_refuses_an_unoffered_thickness(catalog):
    ins = catalog.find("Generic TKA tibial insert").size("3")
    assert tibial_insert_outline_mm(ins, 10.0)[:, 1].min() == pytest.approx(-6.0)
    with pytest.raises(CatalogError, match="not offered"):
        tibial_insert_outline_mm(ins, 10.5)


def test_meshes_are_watertight(catalog):
    fem = catalog.find("Generic TKA femoral component").size("4")
    tray = catalog.find("Generic TKA tibial tray").size("4")
    m = femoral_component_mesh(fem)
    assert m.is_watertight and m.extents[0] == pytest.approx(fem.ml_width_mm) and m.extents[2] == pytest.approx(fem.ap_dimension_mm)
    m = tibial_tray_mesh(tray)
    assert m.is_watertight and m.extents[0] == pytest.approx(tray.ml_width_mm)
