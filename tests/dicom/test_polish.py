"""What other DICOM readers see of a plan (issue 16, item 7): named values in DCMTK's rendering of
the SR, a GSPS without an empty Laterality on a film of both hips, texts kept whole, a grey
value per layer, the assumed scale said once, and one private code per concept."""

from __future__ import annotations

import copy
import html
import math
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pydicom
import pytest

from orthoplan.dicom import build_gsps, build_sr, plan_from_sr, run_dciodvfy, run_dcmpschk, run_dsr2html
from orthoplan.dicom import codes as C
from orthoplan.model import LANDMARK_DEFINITIONS, Landmarks
from orthoplan.overlay import Graphic, OverlayLayer, plan_overlay


def _write(ds: pydicom.Dataset, path: Path) -> Path:
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def _texts(ds: pydicom.Dataset) -> list[str]:
    return [t.UnformattedTextValue for a in ds.GraphicAnnotationSequence for t in a.get("TextObjectSequence", [])]


def _words(n_chars: int) -> str:
    """A sentence of about ``n_chars`` characters of words of varied length."""
    words = ["calibration", "ball", "not", "found", "on", "this", "film;", "magnification", "assumed", "1.15"]
    out, i = [], 0
    while len(" ".join(out)) < n_chars:
        out.append(words[i % len(words)])
        i += 1
    return " ".join(out)


# --------------------------------------------------------------------------- SR as a reader sees it


@pytest.fixture(scope="module")
def rich_sr(tmp_path_factory, cr_header, cr_plan) -> Path:
    return _write(build_sr(cr_plan, cr_header), tmp_path_factory.mktemp("polish") / "sr.dcm")


def test_dsr2html_shows_each_measurement_with_its_name(rich_sr, cr_plan):
    """With CONTINUOUS containers dsr2html printed bare numbers ("35.578 mm 1 36.245 mm 2")."""
    page = html.unescape(re.sub(r"<[^>]+>", " ", run_dsr2html(rich_sr)))
    text = " ".join(page.split())
    for template in {C.measurement_template(m.name)[0] for m in cr_plan.measurements}:
        meaning = C.MEASUREMENT_CODES[template].meaning
        value = r": (-?[0-9.]+(?:[eE][-+]?[0-9]+)?) (?:mm|deg)\b"  # "Femoral offset: 41.31459 mm"
        shown = [float(v) for v in re.findall(re.escape(meaning) + value, text)]
        wanted = [m.value for m in cr_plan.measurements if C.measurement_template(m.name)[0] == template]
        assert len(shown) == len(wanted), f"{meaning!r}: {shown} beside its name, expected {wanted}"
        assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) for a, b in zip(sorted(shown), sorted(wanted)))
    assert "Femoral offset: " in text


def test_every_container_holds_separate_items(rich_sr):
    ds = pydicom.dcmread(rich_sr)
    found = [str(i.ContinuityOfContent) for i in [ds, *_content_items(ds)] if i.get("ValueType") == "CONTAINER"]
    assert len(found) > 10 and set(found) == {"SEPARATE"}


# --------------------------------------------------------------------------- GSPS


def test_film_of_both_hips_has_no_empty_laterality(tmp_path, cr_header, cr_plan):
    """The real CR says HIP with an empty Laterality; the plan covers both hips."""
    assert cr_header.BodyPartExamined == "HIP" and str(cr_header.get("Laterality", "")) == ""
    assert len({lm.name.side for lm in cr_plan.landmarks}) == 2
    path = _write(build_gsps(cr_plan, cr_header, plan_overlay(cr_plan)), tmp_path / "both.dcm")
    assert [w for w in run_dciodvfy(path, level="Warning") if "Laterality" in w] == []
    assert run_dciodvfy(path) == [] and run_dcmpschk(path) == []
    ds = pydicom.dcmread(path)
    assert "Laterality" not in ds and ds.BodyPartExamined == "PELVIS"


@pytest.mark.parametrize("tags", [{"Laterality": "L"}, {"ImageLaterality": "R"}])
def test_film_of_one_side_keeps_its_laterality(tmp_path, cr_header, cr_plan, tags):
    header = copy.deepcopy(cr_header)
    for kw, value in tags.items():
        setattr(header, kw, value)
    path = _write(build_gsps(cr_plan, header, plan_overlay(cr_plan)), tmp_path / "one.dcm")
    ds = pydicom.dcmread(path)
    assert ds.Laterality == next(iter(tags.values())) and ds.BodyPartExamined == "HIP"
    assert run_dciodvfy(path) == [] and [w for w in run_dciodvfy(path, level="Warning") if "Laterality" in w] == []


def test_long_texts_are_kept_whole_up_to_1024_characters(tmp_path, dx_header, dx_plan):
    warning = _words(400)
    plan = replace(dx_plan, calibration=replace(dx_plan.calibration, warnings=(warning,)))
    long_label = _words(1024)[:1024].rstrip()
    layers = plan_overlay(plan) + (
        OverlayLayer("NOTES", "Notes", (255, 255, 255), (Graphic("text", ((10.0, 10.0),), label=long_label),)),
    )
    path = _write(build_gsps(plan, dx_header, layers), tmp_path / "long.dcm")
    texts = _texts(pydicom.dcmread(path))
    assert warning in texts, "a calibration warning of 400 characters is drawn whole"
    assert long_label in texts and len(long_label) > 1000
    assert run_dciodvfy(path) == [] and run_dcmpschk(path) == []


def test_longer_texts_are_cut_at_a_word_boundary(tmp_path, dx_header, dx_plan):
    label = _words(1500)
    layers = (OverlayLayer("NOTES", "Notes", (255, 255, 255), (Graphic("text", ((10.0, 10.0),), label=label),)),)
    path = _write(build_gsps(dx_plan, dx_header, layers), tmp_path / "cut.dcm")
    (got,) = _texts(pydicom.dcmread(path))
    assert len(got) <= 1024 and got.endswith("...")
    kept = got[:-3]
    assert label.startswith(kept) and len(kept) > 900
    assert label[len(kept)] == " ", f"cut inside a word: ...{kept[-20:]!r} + {label[len(kept):len(kept) + 10]!r}"
    assert run_dciodvfy(path) == [] and run_dcmpschk(path) == []


def test_every_layer_has_a_grey_value_by_lightness(tmp_path, dx_header, dx_plan):
    colours = {"DARK": (40, 40, 120), "MID": (255, 110, 80), "WHITE": (255, 255, 255)}
    extra = tuple(OverlayLayer(n, n, c, (Graphic("point", ((50.0, 50.0),)),)) for n, c in colours.items())
    path = _write(build_gsps(dx_plan, dx_header, plan_overlay(dx_plan) + extra), tmp_path / "grey.dcm")
    ds = pydicom.dcmread(path)
    greys = {}
    for layer in ds.GraphicLayerSequence:
        assert "GraphicLayerRecommendedDisplayGrayscaleValue" in layer, layer.GraphicLayer
        grey = int(layer.GraphicLayerRecommendedDisplayGrayscaleValue)
        assert 0 <= grey <= 0xFFFF
        greys[layer.GraphicLayer] = grey
    assert greys["DARK"] < greys["MID"] < greys["WHITE"] == 0xFFFF
    assert run_dciodvfy(path) == [] and run_dcmpschk(path) == []


# --------------------------------------------------------------------------- notes


def test_assumed_scale_is_said_once(dx_case, dx_landmarks, dx_header):
    from orthoplan.calibration import from_assumed_magnification
    from orthoplan.pipeline import load_radiograph, plan_radiograph, recalibrate

    radiograph = load_radiograph(dx_case.dataset)
    cal = from_assumed_magnification(radiograph, 1.15)
    plan = plan_radiograph(radiograph, calibration=cal, landmarks=Landmarks(tuple(dx_landmarks)), view="ap-pelvis")
    again = recalibrate(plan, replace(cal, mm_per_px=cal.mm_per_px * 1.01))
    for p in (plan, again):
        said = [n for n in p.notes if "ASSUMED SCALE" in n]
        assert len(said) == 1 and said[0].count("ASSUMED SCALE") == 1, said
    sr = build_sr(plan, dx_header)
    notes = [str(i.TextValue) for i in _content_items(sr)
             if i.get("ValueType") == "TEXT" and i.ConceptNameCodeSequence[0].CodeValue == C.PLAN_NOTE.value]
    assert sum(n.count("ASSUMED SCALE") for n in notes) == 1


def _content_items(ds):
    for item in ds.get("ContentSequence", []):
        yield item
        yield from _content_items(item)


# --------------------------------------------------------------------------- one code per concept


def test_one_private_code_per_concept():
    private = C.private_codes()
    values = Counter(c.value for c in private)
    meanings = Counter(" ".join(c.meaning.lower().split()) for c in private)
    assert [v for v, n in values.items() if n > 1] == []
    assert [m for m, n in meanings.items() if n > 1] == [], "two codes for one concept"
    # a landmark without a standard anatomy code is its own finding site: the same code twice
    for anatomy, definition in LANDMARK_DEFINITIONS.items():
        scheme, value, _meaning = definition.code
        if scheme == C.SCHEME:
            assert value == C.LANDMARK_CODES[anatomy].value, anatomy
    assert all(len(c.value) <= 16 for c in private)  # all fit Code Value (SH)
    assert not set(k[1] for k in C.RETIRED_CODES) & set(values), "a retired code is still written"


#: Codes of the same concepts that orthoplan wrote before (finding sites, Long Code Values) -> kept code.
LEGACY = {"LM-ACETAB-LAT-EDGE": "LM-ACETAB-EDGE", "LM-SOURCIL-MEDIAL": "LM-SOURCIL-MED"}


def _retire(sr: pydicom.Dataset, *, findings_too: bool) -> int:
    """Write the legacy codes where orthoplan wrote them (finding sites, as Long Code Values),
    and with ``findings_too`` also in place of the kept finding codes."""
    to_legacy = {kept: old for old, kept in LEGACY.items()} | {old: old for old in LEGACY}
    n = 0
    for item in _content_items(sr):
        name = item.ConceptNameCodeSequence[0].CodeValue
        if name not in (C.FINDING_SITE.value, *((C.FINDING.value,) if findings_too else ())):
            continue
        for code in item.get("ConceptCodeSequence", []):
            value = code.get("CodeValue") or code.get("LongCodeValue")
            if value in to_legacy:
                for kw in ("CodeValue", "LongCodeValue"):
                    if kw in code:
                        delattr(code, kw)
                code.LongCodeValue = to_legacy[value]
                n += 1
    return n


@pytest.mark.parametrize("findings_too", [False, True])
def test_plans_written_with_retired_codes_read_back(tmp_path, cr_header, cr_plan, findings_too):
    sr = build_sr(cr_plan, cr_header)
    assert _retire(sr, findings_too=findings_too) == (8 if findings_too else 4)  # 2 landmarks x 2 sides
    legacy = pydicom.dcmread(_write(sr, tmp_path / "legacy.dcm"))
    back = plan_from_sr(legacy)
    assert back == cr_plan
    rewritten = build_sr(back, cr_header)
    written = {str(c.get("CodeValue") or c.get("LongCodeValue")) for i in _content_items(rewritten)
               for c in i.get("ConceptCodeSequence", [])}
    assert not written & set(LEGACY), "the legacy codes are read as the kept ones and never written again"
    assert set(LEGACY.values()) <= written
    assert {(C.SCHEME, old): kept for old, kept in LEGACY.items()} == {
        k: v.value for k, v in C.RETIRED_CODES.items()}
