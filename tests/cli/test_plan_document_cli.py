"""``orthoplan plan --pdf`` (the printable plan document) and ``--store-pdf`` (DICOM Encapsulated PDF)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom

from orthoplan.archive import open_archive
from orthoplan.dicom.encapsulated_pdf import ENCAPSULATED_PDF, pdf_from_dataset
from orthoplan.dicom.validate import run_dciodvfy


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orthoplan.cli", *args], capture_output=True, text=True, timeout=300)


def pdf_text(path: Path) -> str:
    assert shutil.which("pdftotext"), "pdftotext (Debian poppler-utils) is required: run scripts/test"
    proc = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(proc.stdout.split())


def test_plan_pdf_writes_the_plan_document(case_dir: Path, tmp_path: Path):
    out = tmp_path / "p"
    proc = run("plan", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"),
               "--out", str(out), "--no-dicom", "--pdf", "--author", "Surgeon^Ann")
    assert proc.returncode == 0, proc.stderr
    assert f"pdf      {out / 'plan.pdf'}" in proc.stdout
    data = (out / "plan.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    plan = json.loads((out / "plan.json").read_text())
    text = pdf_text(out / "plan.pdf")
    assert "Surgical plan" in text and "Surgeon, Ann" in text and plan["plan_uid"] in text
    assert plan["calibration"]["source"] in text
    measurements = plan["measurements"]["measurements"]
    assert len(measurements) >= 12
    for name, m in measurements.items():
        v = round(m["value"], 1) + 0.0
        value = f"{v:+.1f} mm" if m["unit"] == "mm" else f"{v:.1f}°"
        assert value in text, name
    assert not list(out.glob("*.dcm")) and not list(out.glob(".*tmp"))


def test_store_pdf_puts_an_encapsulated_pdf_in_the_study(case_dir: Path, tmp_path: Path):
    out, archive_dir = tmp_path / "p", tmp_path / "archive"
    url = f"folder://{archive_dir}"
    proc = run("plan", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"),
               "--side", "left", "--out", str(out), "--store-pdf", "--archive", url)
    assert proc.returncode == 0, proc.stderr
    assert "stored   3 objects" in proc.stdout
    document = (out / "plan.pdf").read_bytes()
    assert run_dciodvfy(out / "plan-pdf.dcm") == []
    study = str(pydicom.dcmread(case_dir / "image.dcm", stop_before_pixels=True).StudyInstanceUID)
    archive = open_archive(url)
    hits = archive.search("instance", StudyInstanceUID=study, Modality="DOC")
    assert len(hits) == 1 and hits[0]["SOPClassUID"] == ENCAPSULATED_PDF
    back = archive.retrieve(hits[0]["SOPInstanceUID"])
    assert pdf_from_dataset(back) == document
    text = pdf_text(out / "plan.pdf")
    assert "Implants" in text and "generic hemispherical cup" in text
    # the document beside the plan does not disturb the plan listing
    listed = run("plans", "--archive", url, "--study", study, "--json")
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 1


def test_store_pdf_needs_an_archive(case_dir: Path, tmp_path: Path):
    out = tmp_path / "p"
    proc = run("plan", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"),
               "--out", str(out), "--store-pdf")
    assert proc.returncode == 2
    assert "--archive" in proc.stderr.splitlines()[-1]
    assert not out.exists()
