"""The cohort report (``orthoplan report``): failures in full, assumed scales apart, colours that mean something.

The tables are written by hand in the batch table's schema (the columns the report reads),
so each test states exactly the rows it checks.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from orthoplan import cohort  # noqa: E402

LONG = ("an assumed magnification needs a detector spacing, and the image has no ImagerPixelSpacing or "
        "PixelSpacing; give a calibration ball or a known length instead")


def _table(tmp_path: Path, rows: list[dict], name: str = "t.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _ok(i: int, lld: float, assumed: bool) -> dict:
    return {"input": f"/cohort/case_{i}.dcm", "status": "ok", "error_type": None, "error": None,
            "calibration_source": "assumed-magnification" if assumed else "ball-marker",
            "calibration_assumed": assumed, "lld_teardrop_mm": lld, "lcea_left_deg": 30.0 + i}


def _bad(i: int, error: str) -> dict:
    return {"input": f"/cohort/bad_{i}.dcm", "status": "error", "error_type": "CalibrationError", "error": error,
            "calibration_source": None, "calibration_assumed": None, "lld_teardrop_mm": None, "lcea_left_deg": None}


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


def test_pdf_prints_each_failure_in_full(tmp_path):
    """Two failures that differ only after 100 characters must read differently in the PDF."""
    first, second = LONG + " (first film)", LONG + " (second film)"
    assert first[:100] == second[:100] and len(first) > 140
    table = _table(tmp_path, [_ok(1, 2.0, False), _bad(1, first), _bad(2, second)])
    text = _pdf_text(cohort.write_cohort_report(table, tmp_path / "r.pdf"))
    assert "(first film)" in text and "(second film)" in text
    assert text.count("give a calibration ball or a known length instead") == 2


def test_assumed_scale_rows_are_summarised_apart_from_calibrated_ones(tmp_path):
    """Three ball-calibrated rows (LLD 1, 2, 3 mm) and two on an assumed scale (LLD 40, 50 mm)."""
    rows = [_ok(1, 1.0, False), _ok(2, 2.0, False), _ok(3, 3.0, False), _ok(4, 40.0, True), _ok(5, 50.0, True)]
    df = pd.read_csv(_table(tmp_path, rows))
    calibrated = cohort.summary_statistics(df)
    assert calibrated.loc["lld_teardrop_mm", "n"] == 3 and calibrated.loc["lld_teardrop_mm", "median"] == 2.0
    assumed = cohort.summary_statistics(df, "assumed")
    assert assumed.loc["lld_teardrop_mm", "n"] == 2 and assumed.loc["lld_teardrop_mm", "median"] == 45.0
    html = cohort.write_cohort_report(_table(tmp_path, rows), tmp_path / "r.html").read_text()
    assert "3 calibrated, 2 on an ASSUMED scale" in html
    assert re.search(r"Summary: ASSUMED scale \(2 images", html)
    assert re.search(r"Summary: calibrated scale \(3 images", html)


def test_calibration_chart_keeps_assumed_rows_out_of_calibrated(tmp_path):
    rows = [_ok(1, 1.0, False), _ok(2, 2.0, False), _ok(4, 40.0, True)]
    df = pd.read_csv(_table(tmp_path, rows))
    labels, counts, colors = cohort._calibration_bars(df)
    got = dict(zip(labels, zip(counts, colors)))
    assert got == {"calibrated: ball-marker": (2, cohort.CALIBRATED_COLOR),
                   "ASSUMED: assumed-magnification": (1, cohort.ASSUMED_COLOR)}


def test_ok_is_drawn_in_the_success_colour_errors_in_the_error_colour(tmp_path):
    rows = [_ok(1, 1.0, False), _ok(2, 2.0, False), _bad(1, "no ball")]
    df = pd.read_csv(_table(tmp_path, rows))
    figs = cohort._figures(df)
    title, fig = figs[-1]
    ax = next(a for a in fig.axes if a.get_title().startswith("status"))
    fig.canvas.draw()
    colors = {t.get_text(): bar.get_facecolor()
              for t, bar in zip(ax.get_yticklabels(), ax.patches)}
    ok, err = matplotlib.colors.to_rgba(cohort.OK_COLOR), matplotlib.colors.to_rgba(cohort.ERROR_COLOR)
    assert colors["ok"] == pytest.approx(ok) and colors["CalibrationError"] == pytest.approx(err)
    assert ok != err


@pytest.mark.parametrize("table,out,code", [
    ("missing.csv", "r.html", 66),     # a missing input file
    ("x.docx", "r.html", 2),           # not a batch table's format: usage
    ("t.csv", "r.docx", 2),            # an unsupported report format: usage
])
def test_report_exit_codes(tmp_path, capsys, table, out, code):
    from orthoplan.cli import main

    _table(tmp_path, [_ok(1, 1.0, False)])
    (tmp_path / "x.docx").write_bytes(b"PK\x03\x04 not a table")
    assert main(["report", str(tmp_path / table), "--out", str(tmp_path / out)]) == code
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("orthoplan: error:")
