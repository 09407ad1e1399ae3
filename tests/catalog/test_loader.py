"""Loading catalogs: folders, ORTHOPLAN_CATALOG_PATH, entry points, find, listing."""

from __future__ import annotations

import importlib
import json
import os
import sys
import textwrap

import pytest

from orthoplan.catalog import (
    ENTRY_POINT_GROUP,
    ENV_VAR,
    catalog_listing,
    load_catalog,
    validate_catalog_folder,
)
from orthoplan.errors import CatalogError, exit_code_for


def _only_paths(*paths, **kw):
    return load_catalog(list(paths), include_bundled=False, include_env=kw.pop("env", False),
                        include_entry_points=kw.pop("entry_points", False), **kw)


def test_one_bad_file_does_not_hide_two_good_ones(tmp_path, write_json, cup_doc, stem_doc, caplog):
    write_json(tmp_path / "acme" / "cup.json", cup_doc)
    write_json(tmp_path / "acme" / "stem.json", stem_doc)
    bad = dict(cup_doc, family="Broken Cup")
    bad["sizes"] = [dict(cup_doc["sizes"][0], outer_diameter_mm=-1)]
    bad_path = write_json(tmp_path / "acme" / "broken.json", bad)
    cat = _only_paths(tmp_path)
    assert sorted(f.family for f in cat.families) == ["Acme Cup", "Acme Stem"]
    assert [(p.file, p.pointer) for p in cat.problems] == [(str(bad_path), "/sizes/0/outer_diameter_mm")]
    assert any("broken.json" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    with pytest.raises(CatalogError, match=r"1 problem\(s\).*broken.json: /sizes/0/outer_diameter_mm") as exc:
        _only_paths(tmp_path, strict=True)
    assert exit_code_for(exc.value) == 8


def test_family_fields_and_sizes(tmp_path, write_json, cup_doc):
    path = write_json(tmp_path / "acme" / "acme_cup.json", cup_doc)
    fam = _only_paths(tmp_path).families[0]
    assert (fam.vendor, fam.family, fam.kind, fam.fixation, fam.path, fam.origin) == (
        "Acme", "Acme Cup", "cup", "uncemented", path, "paths")
    assert fam.labels == ("50", "52", "54")
    assert fam.size(52) is fam.sizes[1] and fam.size("52") is fam.sizes[1]
    assert fam.sizes[2].outer_diameter_mm == 54.0 and fam.sizes[2].compatible_head_diameters_mm == (28.0, 32.0, 36.0)
    assert fam.source_for("outer_diameter_mm").kind == "generic"
    with pytest.raises(CatalogError, match=r"unknown size '57' of Acme Acme Cup; sizes: 50, 52, 54"):
        fam.size(57)


def test_missing_folder_is_a_problem_not_a_crash(tmp_path):
    cat = _only_paths(tmp_path / "nope")
    assert cat.families == () and "does not exist" in cat.problems[0].reason


def test_env_var_adds_families(tmp_path, write_json, monkeypatch, cup_doc, stem_doc):
    a, b = tmp_path / "a", tmp_path / "b"
    write_json(a / "acme" / "cup.json", cup_doc)
    write_json(b / "acme" / "stem.json", stem_doc)
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(a), str(b), ""]))
    cat = load_catalog(include_bundled=False, include_entry_points=False)
    assert sorted(f.family for f in cat.families) == ["Acme Cup", "Acme Stem"]
    assert {f.origin for f in cat.families} == {ENV_VAR}
    assert load_catalog(include_bundled=False, include_entry_points=False, include_env=False).families == ()
    # with the bundled catalogs too, the env families come first and the bundled ones follow
    both = load_catalog(include_entry_points=False)
    assert [f.family for f in both.families[:2]] == ["Acme Cup", "Acme Stem"]
    assert len(both.families) > 10 and both.problems == ()


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch, write_json, cup_doc, head_doc):
    """A real installed distribution (dist-info on sys.path) declaring two catalog entry points."""
    site = tmp_path / "site"
    pkg = site / "fakecat_pkg"
    write_json(pkg / "catalogs" / "acme" / "cup.json", dict(cup_doc, family="Plugin Cup"))
    write_json(pkg / "more" / "acme" / "heads.json", dict(head_doc, family="Plugin Heads"))
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from pathlib import Path
        CATALOGS = str(Path(__file__).parent / "catalogs")
        def more():
            return [Path(__file__).parent / "more"]
    """))
    info = site / "fakecat_pkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakecat-pkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nfakecat = fakecat_pkg:CATALOGS\nfakecat_more = fakecat_pkg:more\n"
        f"broken = fakecat_pkg:does_not_exist\n"
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("fakecat_pkg", None)


def test_entry_point_adds_families(fake_distribution):
    from importlib.metadata import entry_points

    assert {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} >= {"fakecat", "fakecat_more", "broken"}
    cat = load_catalog(include_bundled=False, include_env=False)
    assert sorted(f.family for f in cat.families) == ["Plugin Cup", "Plugin Heads"]
    assert {f.origin for f in cat.families} == {"entry point fakecat", "entry point fakecat_more"}
    # a broken plug-in is reported, not raised
    (problem,) = cat.problems
    assert problem.file == "entry point broken = fakecat_pkg:does_not_exist"
    assert "AttributeError" in problem.reason
    assert load_catalog(include_bundled=False, include_env=False, include_entry_points=False).families == ()


def test_earlier_source_wins_and_the_duplicate_is_a_warning(tmp_path, write_json, monkeypatch, cup_doc):
    mine = write_json(tmp_path / "mine" / "acme" / "cup.json", dict(cup_doc, sizes=cup_doc["sizes"][:1]))
    theirs = write_json(tmp_path / "theirs" / "acme" / "cup.json", cup_doc)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "theirs"))
    cat = load_catalog([tmp_path / "mine"], include_bundled=False, include_entry_points=False)
    (fam,) = cat.families
    assert fam.path == mine and fam.labels == ("50",)
    (p,) = cat.problems
    assert (p.file, p.pointer, p.severity) == (str(theirs), "/family", "warning") and "ignored" in p.reason
    assert cat.errors == ()


def test_find_unknown_family_lists_the_known_ones():
    cat = load_catalog(include_env=False, include_entry_points=False)
    with pytest.raises(CatalogError) as exc:
        cat.find("Taperloc")
    msg = str(exc.value)
    assert msg.startswith("unknown implant family 'Taperloc'; known: ")
    assert "Stryker / Trident II Clusterhole HA" in msg and "DePuy Synthes / Corail standard offset" in msg
    with pytest.raises(CatalogError, match="unknown implant family 'Trident II Clusterhole HA' by vendor 'DePuy'"):
        cat.find("Trident II Clusterhole HA", vendor="DePuy")


def test_find_by_name_slug_or_file_stem_and_vendor(tmp_path, write_json, cup_doc):
    cat = load_catalog(include_env=False, include_entry_points=False)
    fam = cat.find("Trident II Clusterhole HA")
    assert cat.find("trident ii clusterhole ha") is fam
    assert cat.find("trident_ii_clusterhole_ha") is fam  # the file stem
    assert cat.find("Trident II Clusterhole HA", vendor="stryker") is fam
    # the same family name from two vendors needs the vendor
    write_json(tmp_path / "acme" / "a.json", cup_doc)
    write_json(tmp_path / "zenith" / "a.json", dict(cup_doc, vendor="Zenith"))
    two = _only_paths(tmp_path)
    with pytest.raises(CatalogError, match="made by several vendors .*Acme, Zenith.*vendor="):
        two.find("Acme Cup")
    assert two.find("Acme Cup", vendor="Zenith").vendor == "Zenith"


def test_of_kind():
    cat = load_catalog(include_env=False, include_entry_points=False)
    assert {f.kind for f in cat.of_kind("head")} == {"head"} and len(cat.of_kind("stem")) >= 4
    with pytest.raises(CatalogError, match="unknown implant kind 'knee'; kinds: cup, stem, head"):
        cat.of_kind("knee")


def test_listing_is_json_ready():
    cat = load_catalog(include_env=False, include_entry_points=False)
    rows = catalog_listing(cat)
    assert len(rows) == len(cat.families)
    row = next(r for r in rows if r["family"] == "Trident II Clusterhole HA with MDM liner")
    assert row["vendor"] == "Stryker" and row["kind"] == "cup" and row["fixation"] == "uncemented"
    assert row["sizes"] == [str(d) for d in range(46, 67, 2)]
    assert row["data_quality"] == "vendor-document"
    assert row["sources"][0].startswith("vendor-document: Stryker, Trident II")
    assert json.loads(json.dumps(rows)) == rows


def test_validate_folder_reports_vendor_folder_and_duplicates(tmp_path, write_json, cup_doc):
    write_json(tmp_path / "wrong_vendor" / "a.json", cup_doc)
    write_json(tmp_path / "acme" / "b.json", cup_doc)
    problems = validate_catalog_folder(tmp_path)
    reasons = sorted((p.pointer, p.severity, p.reason.split(" ")[0]) for p in problems)
    assert reasons == [("/family", "error", "same"), ("/vendor", "warning", "vendor")]
    assert validate_catalog_folder(tmp_path / "acme" / "b.json") == []
