"""Family files: the bundled ones validate; each kind of malformed file is reported precisely."""

from __future__ import annotations

import json
import math

import pytest
from orthoplan.catalog import (
    KINDS,
    CatalogProblem,
    StemSize,
    family_schema,
    load_catalog,
    load_family_file,
    validate_catalog_folder,
    validate_family_document,
)


def _only(problems: list[CatalogProblem]) -> CatalogProblem:
    errors = [p for p in problems if p.severity == "error"]
    assert len(errors) == 1, [str(p) for p in problems]
    return errors[0]


# --------------------------------------------------------------------------- bundled data


def test_every_bundled_file_validates(bundled_dir):
    files = sorted(bundled_dir.rglob("*.json"))
    assert len(files) >= 11
    assert validate_catalog_folder(bundled_dir) == []


def test_bundled_catalog_has_the_promised_families(bundled_dir):
    cat = load_catalog(include_env=False, include_entry_points=False)
    assert cat.problems == ()
    vendor = [f for f in cat.families if f.vendor != "generic"]
    generic = [f for f in cat.families if f.vendor == "generic"]
    assert len([f for f in vendor if f.kind == "stem"]) >= 3
    assert len([f for f in vendor if f.kind == "cup"]) >= 3
    assert any(s.dual_mobility for f in vendor if f.kind == "cup" for s in f.sizes)
    assert len([f for f in vendor if f.kind == "head"]) >= 1
    assert {f.kind for f in generic} == {"cup", "stem", "head", "femoral_component", "tibial_tray", "tibial_insert"}
    # the standard / high-offset split is by family, with a variant field
    assert {f.variant for f in cat.of_kind("stem") if f.product_line == "Corail"} == {"standard", "high_offset"}
    # every file sits in its vendor's folder and names at least one source per size field
    for fam in cat.families:
        assert fam.path.parent.parent == bundled_dir
        for size in fam.sizes:
            for field in ("outer_diameter_mm", "horizontal_offset_mm", "diameter_mm"):
                if hasattr(size, field):
                    assert fam.source_for(field) is not None, (fam.family, field)


def test_bundled_vendor_numbers_match_the_published_trident_ii_table():
    """Spot checks against the Stryker Trident II protocol's catalog tables (see the file's source)."""
    cat = load_catalog(include_env=False, include_entry_points=False)
    shell = cat.find("Trident II Clusterhole HA", vendor="Stryker")
    assert shell.labels == tuple(str(d) for d in range(42, 67, 2))
    assert shell.size(42).compatible_head_diameters_mm == (22.0, 28.0)
    assert shell.size(54).liner_code == "E" and 40.0 in shell.size(54).compatible_head_diameters_mm
    mdm = cat.find("Trident II Clusterhole HA with MDM liner")
    assert mdm.labels[0] == "46" and all(s.dual_mobility for s in mdm.sizes)
    assert mdm.size(50).insert_outer_diameter_mm == 38.0 and mdm.size(50).compatible_head_diameters_mm == (22.2,)
    assert mdm.size(66).insert_outer_diameter_mm == 52.0 and mdm.size(66).insert_thickness_mm == 11.8
    heads = cat.find("V40 LFIT CoCr heads")
    assert heads.size(36).neck_lengths_mm == (-5.0, 0.0, 5.0, 10.0)
    assert shell.data_quality == "vendor-document"
    assert cat.find("Corail standard offset").data_quality == "approximate"
    assert cat.find("generic heads").data_quality == "generic"


def test_schema_is_draft_2020_12_and_knows_every_registered_kind():
    schema = family_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]["kind"]["enum"]) == set(KINDS)


# --------------------------------------------------------------------------- good and bad files


def test_good_documents_of_each_kind_have_no_problems(cup_doc, stem_doc, head_doc):
    for doc in (cup_doc, stem_doc, head_doc):
        assert validate_family_document(doc, "x.json") == []


def test_missing_field_names_the_field(tmp_path, cup_doc, write_json):
    del cup_doc["vendor"]
    del cup_doc["sizes"][1]["outer_diameter_mm"]
    path = write_json(tmp_path / "acme" / "cup.json", cup_doc)
    fam, problems = load_family_file(path)
    assert fam is None
    assert {(p.file, p.pointer, p.reason) for p in problems} == {
        (str(path), "/vendor", "required field is missing"),
        (str(path), "/sizes/1/outer_diameter_mm", "required field is missing"),
    }


def test_wrong_type(tmp_path, cup_doc, write_json):
    cup_doc["sizes"][0]["outer_diameter_mm"] = "50"
    p = _only(load_family_file(write_json(tmp_path / "c.json", cup_doc))[1])
    assert p.pointer == "/sizes/0/outer_diameter_mm"
    assert "not of type 'number'" in p.reason
    assert str(p) == f"{tmp_path / 'c.json'}: /sizes/0/outer_diameter_mm: {p.reason}"


def test_negative_diameter(tmp_path, cup_doc, write_json):
    cup_doc["sizes"][0]["outer_diameter_mm"] = -50
    p = _only(load_family_file(write_json(tmp_path / "c.json", cup_doc))[1])
    assert (p.pointer, p.severity) == ("/sizes/0/outer_diameter_mm", "error")
    assert "-50" in p.reason and "minimum of 0" in p.reason


def test_unsorted_sizes(cup_doc):
    cup_doc["sizes"][1]["outer_diameter_mm"] = 56  # 50, 56, 54
    cup_doc["sizes"][1]["label"] = "56"
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/sizes/2/outer_diameter_mm"
    assert p.reason.startswith("unsorted sizes") and "54 after 56" in p.reason


def test_duplicate_sizes(cup_doc):
    cup_doc["sizes"][1] = dict(cup_doc["sizes"][0])  # same label and diameter twice
    problems = validate_family_document(cup_doc, "c.json")
    assert {(p.pointer, p.reason.split(" ")[0]) for p in problems} == {
        ("/sizes/1/label", "duplicate"),
        ("/sizes/1/outer_diameter_mm", "duplicate"),
    }
    assert "also /sizes/0/label" in problems[0].reason


def test_unknown_kind(tmp_path, cup_doc, write_json):
    cup_doc["kind"] = "knee_femoral"
    p = _only(load_family_file(write_json(tmp_path / "k.json", cup_doc))[1])
    assert p.pointer == "/kind"
    assert p.reason == ("'knee_femoral' is not one of 'cup', 'stem', 'head', 'femoral_component', 'tibial_tray', "
                        "'tibial_insert'")


@pytest.mark.parametrize(
    "text, reason",
    [("{ not json", "not valid JSON"), ('{"a": 1,}', "not valid JSON"), ("[1, 2]", "not of type 'object'")],
)
def test_not_json_or_not_an_object(tmp_path, text, reason, write_json):
    path = write_json(tmp_path / "bad.json", text)
    fam, problems = load_family_file(path)
    assert fam is None
    p = _only(problems)
    assert (p.file, p.pointer) == (str(path), "") and reason in p.reason


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"vendor": "Müller"}'.encode("latin-1"))
    p = _only(load_family_file(path)[1])
    assert "not UTF-8" in p.reason


def test_unknown_field_is_named_and_extensions_are_allowed(cup_doc):
    cup_doc["sizes"][0]["outer_diamter_mm"] = 50
    cup_doc["x-hospital-code"] = "A17"
    cup_doc["sizes"][1]["x-stock"] = 3
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/sizes/0/outer_diamter_mm" and "unknown field" in p.reason


def test_every_size_field_needs_a_named_source(cup_doc):
    del cup_doc["field_sources"]["compatible_head_diameters_mm"]
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/sizes/0/compatible_head_diameters_mm"
    assert "field_sources" in p.reason
    cup_doc["field_sources"]["compatible_head_diameters_mm"] = "nowhere"
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/field_sources/compatible_head_diameters_mm" and "unknown source id 'nowhere'" in p.reason


def test_source_without_title_or_kind(cup_doc):
    cup_doc["sources"][0] = {"id": "g", "kind": "hearsay", "title": "x y z"}
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/sources/0/kind"


def test_head_larger_than_cup_and_dual_mobility_rules(cup_doc):
    cup_doc["sizes"][0]["compatible_head_diameters_mm"] = [28, 50]
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/sizes/0/compatible_head_diameters_mm/1"
    cup_doc["sizes"][0]["compatible_head_diameters_mm"] = [28]
    cup_doc["sizes"][0]["dual_mobility"] = True
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/sizes/0/insert_outer_diameter_mm" and "dual-mobility" in p.reason
    cup_doc["sizes"][0]["dual_mobility"] = False
    cup_doc["sizes"][0]["insert_outer_diameter_mm"] = 40
    cup_doc["field_sources"]["insert_outer_diameter_mm"] = "g"
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/sizes/0/insert_outer_diameter_mm" and "only for dual-mobility" in p.reason


def test_stem_semantic_checks(stem_doc):
    s = stem_doc["sizes"][0]
    stem_doc["field_sources"]["vertical_offset_mm"] = "g"
    s["vertical_offset_mm"] = 38 / math.tan(math.radians(50)) + 0.5  # within 1 mm: fine
    assert validate_family_document(stem_doc, "s.json") == []
    s["vertical_offset_mm"] = 45.0
    p = _only(validate_family_document(stem_doc, "s.json"))
    assert p.pointer == "/sizes/0/vertical_offset_mm" and "expected 31.9" in p.reason
    del s["vertical_offset_mm"]
    s["body_widths_mm"] = [[5, 26], [50, 13], [20, 18]]
    problems = [p for p in validate_family_document(stem_doc, "s.json") if p.severity == "error"]
    assert {p.pointer for p in problems} == {"/sizes/0/body_widths_mm/0/0", "/sizes/0/body_widths_mm/2/0"}
    s["body_widths_mm"] = [[0, 26], [130, 10]]  # past the tip (160 - 36 = 124 mm below the cut)
    p = _only(validate_family_document(stem_doc, "s.json"))
    assert p.pointer == "/sizes/0/body_widths_mm/1/0" and "past the stem tip" in p.reason


def test_stem_angle_outside_the_schema_range(stem_doc):
    stem_doc["sizes"][0]["neck_shaft_angle_deg"] = 85
    p = _only(validate_family_document(stem_doc, "s.json"))
    assert p.pointer == "/sizes/0/neck_shaft_angle_deg" and "90" in p.reason


def test_head_neck_lengths_must_increase(head_doc):
    head_doc["sizes"][0]["neck_lengths_mm"] = [0, -3.5, 3.5]
    p = _only(validate_family_document(head_doc, "h.json"))
    assert p.pointer == "/sizes/0/neck_lengths_mm/1"


def test_outline_for_unknown_label(cup_doc):
    cup_doc["outline_mm"] = {"99": [[0, 0], [1, 0], [0, 1]]}
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/outline_mm/99"


def test_unused_source_mapping_is_a_warning_not_an_error(tmp_path, cup_doc, write_json):
    cup_doc["field_sources"]["liner_code"] = "g"
    fam, problems = load_family_file(write_json(tmp_path / "c.json", cup_doc))
    assert fam is not None
    assert [(p.pointer, p.severity) for p in problems] == [("/field_sources/liner_code", "warning")]


def test_stem_vertical_offset_is_derived_when_absent():
    s = StemSize("1", 160, 125, 40, 36, ((0, 26), (100, 10)))
    assert s.vertical_offset_mm == pytest.approx(40 / math.tan(math.radians(55)), abs=1e-12)
    assert s.resection_angle_deg == pytest.approx(55.0)
    assert s.body_width_at(50) == pytest.approx(26 - 16 * 0.5)
    with pytest.raises(ValueError, match="not at 120"):
        s.body_width_at(120)


def test_problem_serialises():
    p = CatalogProblem("a.json", "/sizes/0", "bad")
    assert json.loads(json.dumps(p.to_dict())) == {"file": "a.json", "pointer": "/sizes/0", "reason": "bad", "severity": "error"}


def test_newer_schema_version_is_refused_with_advice(cup_doc):
    cup_doc["schema_version"] = "2.0"
    p = _only(validate_family_document(cup_doc, "c.json"))
    assert p.pointer == "/schema_version" and "reads 1.x" in p.reason
    cup_doc["schema_version"] = "1.7"  # a newer minor version of the same major is read
    assert validate_family_document(cup_doc, "c.json") == []
