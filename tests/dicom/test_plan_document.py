"""The printable plan document (A4 PDF): what a surgeon reads on paper, checked with poppler."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from dicom_plans import make_partial_plan

from orthoplan.measurements.definitions import split_name
from orthoplan.model import Measurement, Measurements, Placement
from orthoplan.pipeline import load_radiograph, plan_document
from orthoplan.plan_document import measurement_rows


def pdf_text(path: Path) -> str:
    """The document's text in drawing order (``pdftotext -raw``), whitespace collapsed."""
    proc = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(proc.stdout.split())


def pdf_info(path: Path) -> dict[str, str]:
    proc = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in proc.stdout.splitlines())}


@pytest.fixture(scope="module")
def dx_radiograph(dx_case):
    return load_radiograph(dx_case.dataset)


@pytest.fixture(scope="module")
def dx_document(tmp_path_factory, dx_plan, dx_radiograph) -> Path:
    """The rich plan (assumed scale with warnings, every hip measurement, notes) as a PDF file."""
    path = tmp_path_factory.mktemp("doc") / "plan.pdf"
    path.write_bytes(plan_document(dx_plan, dx_radiograph))
    return path


def test_poppler_is_installed_here():
    """The suite reads the documents with poppler (scripts/test installs poppler-utils): never skipped."""
    assert all(shutil.which(t) for t in ("pdftotext", "pdftoppm", "pdfinfo"))


def test_the_document_is_an_a4_pdf(dx_document):
    data = dx_document.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    info = pdf_info(dx_document)
    assert "A4" in info["Page size"] and int(info["Pages"]) >= 2
    assert "revision 1 (draft)" in info["Title"]


def test_every_measurement_is_printed_with_its_name_value_interval_and_range(dx_document, dx_plan):
    text = pdf_text(dx_document)
    assert len(dx_plan.measurements) >= 12
    lo_f, hi_f = (v / dx_plan.calibration.mm_per_px for v in dx_plan.calibration.interval_mm_per_px)
    for m in dx_plan.measurements:
        d, side = split_name(m.name)
        title = d.title + (f" ({side.value})" if side else "")
        value = f"{round(m.value, 1) + 0.0:+.1f} mm" if m.unit == "mm" else f"{round(m.value, 1) + 0.0:.1f}°"
        assert f"{title} {value}" in text, m.name
        if m.unit == "mm":  # the interval the calibration gives a length, computed here independently
            assert m.interval is not None, m.name
            a, b = sorted((m.value * lo_f, m.value * hi_f))
            interval = f"{round(a, 1) + 0.0:+.1f} to {round(b, 1) + 0.0:+.1f} mm"
            assert re.search(re.escape(f"{title} {value}") + r"( \([LR] longer\))? " + re.escape(interval), text), m.name
        else:  # no interval claimed for an angle
            assert m.interval is None and f"{title} {value} —" in text, m.name
        if d.normal_range:
            lo, hi = d.normal_range
            assert (f"{lo:g}–{hi:g}°" if m.unit == "deg" else f"{lo:g} to {hi:g} mm") in text, m.name


def test_values_outside_the_normal_range_are_flagged(dx_plan):
    rows = {r.name: r for r in measurement_rows(dx_plan)}
    for m in dx_plan.measurements:
        normal = split_name(m.name)[0].normal_range
        expected = "" if normal is None or normal[0] <= m.value <= normal[1] else ("below" if m.value < normal[0] else "above")
        assert rows[m.name].flag == expected, m.name
    assert any(r.flag for r in rows.values()), "the rich plan has values outside their normal range"


def test_an_implausible_value_is_flagged(tmp_path, dx_plan, dx_radiograph):
    """A value outside its definition's plausible range (misplaced landmarks, a wrong scale) says so."""
    lld = dx_plan.measurements["lld_teardrop_mm"]
    wild = replace(lld, value=-180.0, interval=(-190.0, -170.0))
    plan = replace(dx_plan, measurements=Measurements(tuple(wild if m.name == lld.name else m
                                                            for m in dx_plan.measurements)))
    rows = {r.name: r for r in measurement_rows(plan)}
    assert rows["lld_teardrop_mm"].flag == "implausible"
    assert sum(r.flag == "implausible" for r in rows.values()) == 1
    path = tmp_path / "wild.pdf"
    path.write_bytes(plan_document(plan, dx_radiograph))
    assert re.search(r"-180\.0 mm \(R longer\) -190\.0 to -170\.0 mm — implausible", pdf_text(path))


def test_an_assumed_scale_and_every_calibration_warning_are_printed(dx_document, dx_plan):
    cal = dx_plan.calibration
    assert cal.assumed and cal.warnings
    text = pdf_text(dx_document)
    assert text.count("ASSUMED SCALE") >= 3  # the red box, the picture, the implants/notes
    assert "ASSUMED SCALE — the image was not calibrated" in text
    for warning in cal.warnings:
        assert " ".join(warning.split()) in text
    lo, hi = cal.interval_mm_per_px
    assert f"{cal.mm_per_px:.5f} mm/px" in text and f"{lo:.5f} to {hi:.5f} mm/px" in text
    assert cal.source.value in text and cal.spacing_basis in text


def test_header_and_footer_say_who_what_and_which_revision(dx_document, dx_plan, dx_header):
    text = pdf_text(dx_document)
    assert str(dx_header.PatientID) in text  # the patient's document names the patient
    family = str(dx_header.PatientName).split("^")[0]
    assert family in text
    assert "DRAFT — not verified" in text and "Radiologist, Bea" in text
    assert dx_plan.plan_uid in text and f"revision {dx_plan.revision}" in text
    assert dx_plan.software_version in text
    for note in dx_plan.notes:
        assert " ".join(note.split()) in text


def test_a_final_plan_says_verified_and_a_partial_one_lists_what_was_not_measured(tmp_path, dx_plan, dx_header,
                                                                                dx_landmarks, dx_radiograph):
    final = tmp_path / "final.pdf"
    final.write_bytes(plan_document(replace(dx_plan, status="final", revision=2), dx_radiograph))
    text = pdf_text(final)
    assert "VERIFIED (final)" in text and "DRAFT" not in text and "revision 2" in text
    partial_plan = make_partial_plan(dx_header, dx_landmarks)
    partial = tmp_path / "partial.pdf"
    partial.write_bytes(plan_document(partial_plan, dx_radiograph))
    text = pdf_text(partial)
    assert partial_plan.measurements.missing
    assert "Not measured" in text
    for _name, reason in partial_plan.measurements.missing:
        assert " ".join(reason.split()) in text
    assert "ASSUMED SCALE" not in text  # a ball-marker plan says nothing of the kind


def test_implants_are_printed_with_family_size_and_planned_values(tmp_path, dx_plan, dx_radiograph):
    """Placements as templating leaves them (cup, stem and head on the left), with predicted values."""
    head = dx_plan.landmarks["femoral_head_center_left"]
    placements = (
        Placement("cup", "left", "generic", "generic hemispherical cup", "54", head.x, head.y, 40.0,
                  size_range=("52", "56")),
        Placement("stem", "left", "Acme", "Straight stem", "7", head.x + 5, head.y + 20, 4.0, auto=False),
        Placement("head", "left", "Acme", "Heads", "36", head.x + 2, head.y + 2, neck_length_mm=3.5,
                  size_range=("36", "36")),
    )
    predictions = Measurements(tuple(Measurement(m.name, m.value * 0.5 - 0.02, m.unit)
                                     for m in dx_plan.measurements if m.unit == "mm"))
    plan = replace(dx_plan, placements=placements, predictions=predictions)
    path = tmp_path / "implants.pdf"
    path.write_bytes(plan_document(plan, dx_radiograph))
    text = pdf_text(path)
    assert "Implants" in text and "side: left" in text
    assert "generic / generic hemispherical cup 54 52 to 56" in text  # the size range beside the size
    assert "Acme / Straight stem 7 —" in text and "Acme / Heads 36 36" in text
    assert "neck length +3.5 mm" in text and "inclination 40°" in text and "set by the planner" in text
    assert "ASSUMED SCALE: implant sizes rest on an assumed magnification." in text
    for m in predictions:  # the planned (predicted) value beside the measured one
        assert f"{round(m.value, 1) + 0.0:+.1f} mm" in text
    assert "-0.0 mm" not in text


def test_the_picture_is_on_the_first_page(dx_document, tmp_path):
    """Rendered with pdftoppm: page 1 holds the radiograph (a large dark area), page 2 the tables (white)."""
    from PIL import Image

    subprocess.run(["pdftoppm", "-png", "-r", "40", str(dx_document), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2
    dark = [float((np.asarray(Image.open(p).convert("L")) < 100).mean()) for p in pages]
    assert dark[0] > 0.1 and all(d < dark[0] / 5 for d in dark[1:]), dark


def test_the_same_plan_gives_the_same_bytes_and_no_identifier_is_logged(dx_plan, dx_radiograph, dx_header, caplog):
    with caplog.at_level(logging.DEBUG):
        first = plan_document(dx_plan, dx_radiograph)
    assert plan_document(dx_plan, dx_radiograph) == first
    assert caplog.records, "the document build logs what it did"
    assert str(dx_header.PatientID) not in caplog.text
    assert str(dx_header.PatientName).split("^")[0] not in caplog.text


def test_an_interval_is_printed_only_where_the_measurement_carries_one(dx_plan):
    ms = list(dx_plan.measurements)
    length = next(m for m in ms if m.unit == "mm")
    bare = replace(length, interval=None)
    wide = replace(length, interval=(length.value - 7.25, length.value + 3.0))
    for m, expected in ((bare, ""), (wide, f"{round(length.value - 7.25, 1) + 0.0:+.1f} to "
                                           f"{round(length.value + 3.0, 1) + 0.0:+.1f} mm")):
        plan = replace(dx_plan, measurements=Measurements((m,)))
        assert measurement_rows(plan)[0].interval == expected


def test_a_png_image_has_no_patient_header(tmp_path, dx_plan, dx_radiograph):
    png = replace(dx_radiograph, dataset=None)
    path = tmp_path / "png.pdf"
    path.write_bytes(plan_document(dx_plan, png))
    text = pdf_text(path)
    assert re.search(r"Patient ID —", text) and "Surgical plan" in text


def test_the_calibration_and_all_its_warnings_stay_on_the_page_of_the_picture(tmp_path, real_dir):
    """A real CR film (portrait, PixelSpacing without a calibration type: a long warning)."""
    from orthoplan.pipeline import plan_radiograph

    rad = load_radiograph(real_dir / "hip_cr_rg2.dcm")
    plan = plan_radiograph(rad, detect=False)
    assert plan.calibration.warnings and max(len(w) for w in plan.calibration.warnings) > 150
    path = tmp_path / "real.pdf"
    path.write_bytes(plan_document(plan, rad))
    proc = subprocess.run(["pdftotext", "-raw", "-f", "1", "-l", "1", str(path), "-"], capture_output=True,
                          text=True, check=True)
    first_page = " ".join(proc.stdout.split())
    for warning in plan.calibration.warnings:
        assert " ".join(warning.split()) in first_page
    assert plan.measurements.missing and "Not measured" in pdf_text(path)  # with the reasons, not an empty page


def test_the_module_examples_run():
    import doctest

    from orthoplan import plan_document as module
    from orthoplan.dicom import encapsulated_pdf

    for mod in (module, encapsulated_pdf):
        result = doctest.testmod(mod)
        assert result.attempted > 0 and result.failed == 0, mod.__name__
