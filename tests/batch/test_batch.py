"""Batch measurements over a synthetic cohort: rows against truth, errors as rows, resume, Dask.

Tolerances: the cohort is calibrated by its 25 mm ball at 0.52 mm/px (ball radius ~24 px),
where the ball fit is within ~0.3 % of the true scale; lengths must be within 0.5 mm + 1 %
of the true value, the scale within 1 % and inside its own stated interval, and angles
(scale-free) within 0.3°.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from orthoplan import batch
from orthoplan.cli import main
from orthoplan.errors import UsageError

VOLATILE = ["elapsed_s", "worker_peak_rss_mib"]


@pytest.fixture(scope="module")
def one_run(cohort, tmp_path_factory, n_cases, broken) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("run") / "results.parquet"
    summary = batch.run_batch([cohort], out, workers=2, progress=False)
    assert summary.rows == n_cases + len(broken)
    assert summary.measured == summary.rows and summary.skipped == 0
    assert not batch.journal_path(out).exists(), "the journal is removed after a complete run"
    return batch.read_table(out)


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    """The table without timing columns, in input order, with one kind of missing value (CSV vs Parquet)."""
    df = df.drop(columns=VOLATILE).sort_values("input").reset_index(drop=True).astype(object)
    return df.where(df.notna(), None)


def test_every_row_matches_truth(one_run, truths, n_cases):
    ok = one_run[one_run["status"] == "ok"]
    assert len(ok) == n_cases
    checked = 0
    for row in ok.to_dict(orient="records"):
        t = truths[row["input"]]
        assert row["sop_instance_uid"] == t["sop_instance_uid"]
        assert row["calibration_source"] == "ball-marker"
        assert abs(row["calibration_mm_per_px"] / t["mm_per_px"] - 1) < 0.01
        half = row["calibration_mm_per_px"] * row["calibration_uncertainty_pct"] / 100
        assert abs(row["calibration_mm_per_px"] - t["mm_per_px"]) <= half, "truth inside the stated interval"
        assert row["landmark_source"] == "sidecar"
        for name, true in t["measurements"].items():
            value = row[name]
            assert value is not None and math.isfinite(value), name
            if name.endswith("_deg"):
                assert abs(value - true) <= 0.3, (row["input"], name, value, true)
            else:
                assert abs(value - true) <= 0.5 + 0.01 * abs(true), (row["input"], name, value, true)
            checked += 1
        assert row["teardrop_left_confidence"] == 1.0
    assert checked >= n_cases * 16


def test_broken_files_are_error_rows_not_the_end(one_run, broken):
    by_name = {Path(p).name: r for p, r in zip(one_run["input"], one_run.to_dict(orient="records"))}
    assert by_name[broken[0]]["status"] == "error" and by_name[broken[0]]["error_type"] == "CorruptImageError"
    assert by_name[broken[1]]["status"] == "error" and by_name[broken[1]]["error_type"] in (
        "CorruptImageError", "UnsupportedImageError")
    assert by_name[broken[2]]["error_type"] == "CalibrationError"
    for name in broken:
        assert by_name[name]["error"], "an error row says why"
    # the rows after the broken ones were measured
    assert by_name["case_151.dcm"]["status"] == "ok"


def test_no_patient_id_unless_asked(one_run, cohort, tmp_path):
    assert "patient_id" not in one_run.columns
    df = batch.measure_many([cohort / "case_001.dcm"], options=batch.BatchOptions(include_patient_id=True), workers=1)
    assert df.loc[0, "patient_id"]


def test_lengths_come_with_their_scale_interval(one_run):
    """Issue 15: every length has its 95 % interval columns, from the row's calibration."""
    ok = one_run[one_run["status"] == "ok"]
    assert len(ok) > 0
    for _, row in ok.iterrows():
        u = row["calibration_uncertainty_pct"] / 100.0
        v = row["femoral_offset_left_mm"]
        assert (row["femoral_offset_left_mm_lo95"], row["femoral_offset_left_mm_hi95"]) == pytest.approx(
            (v * (1 - u), v * (1 + u)))
        assert row["implausible"] is None or row["implausible"] != row["implausible"]  # None / NaN: phantoms are plausible
    # angles have interval columns too, empty where the landmarks carry no positional σ (the
    # classical detector's points, as here)
    assert ok["lcea_left_deg_lo95"].isna().all() and ok["lcea_left_deg_hi95"].isna().all()


def test_rows_in_input_order_with_a_fixed_schema(one_run):
    assert list(one_run.columns) == batch.columns()
    inputs = [str(p) for p in batch.expand_inputs([Path(one_run["input"][0]).parent])]
    assert [i for i in one_run["input"] if i in set(inputs)] == inputs


def _children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (Linux /proc; spawn's resource tracker excluded)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                out.append(int(child))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_kill_and_resume_gives_the_same_table(cohort, one_run, tmp_path, n_cases):
    out = tmp_path / "results.csv"
    journal = batch.journal_path(out)
    cmd = [sys.executable, "-m", "orthoplan.cli", "batch", str(cohort), "--out", str(out), "--workers", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 40:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed: " + proc.stderr.read().decode()[-300:]
    workers = _children(proc.pid)
    assert workers, "the run measures in a worker process"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the worker notices its parent is gone and ends (no orphan left measuring or waiting)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "a worker outlived the killed run"
    assert not out.exists(), "a killed run has not written the table"
    done_before = len(batch.read_journal(journal))
    assert 40 <= done_before < n_cases

    assert main(["batch", str(cohort), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    resumed = batch.read_table(out)
    assert len(resumed) == len(one_run)
    pd.testing.assert_frame_equal(_comparable(resumed), _comparable(one_run), check_dtype=False, check_exact=False,
                                  rtol=1e-6)
    # a third run measures nothing
    summary = batch.run_batch([cohort], out, workers=1, progress=False)
    assert summary.measured == 0 and summary.skipped == len(one_run)


def test_dask_local_cluster_gives_the_same_table(cohort, one_run):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        df = batch.measure_many([cohort], client=client)
    pd.testing.assert_frame_equal(_comparable(df), _comparable(one_run), check_dtype=False, check_exact=False, rtol=1e-6)


def test_progress_is_logged_when_not_on_a_terminal(cohort, tmp_path, caplog):
    caplog.set_level("INFO", logger="orthoplan.batch")
    files = sorted(cohort.glob("case_00*.dcm"))[:5]
    assert main(["batch", *map(str, files), "--out", str(tmp_path / "r.csv"), "--workers", "1"]) == 0
    assert any("batch: 5/5 images" in r.getMessage() for r in caplog.records)


def test_list_file_and_sidecar_off(cohort, tmp_path):
    lst = tmp_path / "inputs.txt"
    lst.write_text(f"# two images\n{cohort / 'case_001.dcm'}\n{cohort / 'case_002.dcm'}\n")
    rows = list(batch.iter_rows([lst], options=batch.BatchOptions(sidecar_landmarks=False), workers=1))
    assert len(rows) == 2
    assert all(r["landmark_source"] in (None, "auto") for r in rows)


def test_cohort_report_html_and_pdf(one_run, tmp_path, broken):
    from orthoplan.cohort import write_cohort_report

    table = tmp_path / "t.parquet"
    one_run.to_parquet(table)
    html = write_cohort_report(table, tmp_path / "report.html").read_text()
    assert f"Failures ({len(broken)})" in html and "CalibrationError" in html
    assert html.count("data:image/png;base64,") >= 3
    assert "lld_teardrop_mm" in html
    pdf = write_cohort_report(table, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:4] == b"%PDF"
    assert main(["report", str(table), "--out", str(tmp_path / "r2.html")]) == 0


def test_bad_output_and_bad_table_are_clear_errors(cohort, tmp_path, capsys):
    assert main(["batch", str(cohort / "case_001.dcm"), "--out", str(tmp_path / "r.xlsx")]) == 2  # an unsupported output format: usage
    assert "csv or .parquet" in capsys.readouterr().err
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    assert main(["report", str(tmp_path / "junk.csv"), "--out", str(tmp_path / "r.html")]) == 7
    assert "not an orthoplan batch table" in capsys.readouterr().err


def test_archive_query_inputs_and_store_plans(cohort, truths, tmp_path):
    """Images found by an archive query are measured where the archive is; plans go to another archive."""
    import pydicom

    from orthoplan.archive import open_archive

    source = open_archive(f"folder://{tmp_path / 'pacs'}")
    files = sorted(cohort.glob("case_00[1-5].dcm"))
    source.store([pydicom.dcmread(f) for f in files])
    items = batch.archive_inputs(source.name, "Modality=DX")
    assert len(items) == len(files)
    assert all("password" not in i.key for i in items)
    plans_url = f"folder://{tmp_path / 'plans'}"
    df = batch.measure_many(items, options=batch.BatchOptions(store_plans=plans_url), workers=1)
    assert (df["status"] == "ok").all(), df["error"].tolist()
    by_uid = {t["sop_instance_uid"]: t for t in truths.values()}
    for row in df.to_dict(orient="records"):
        t = by_uid[row["sop_instance_uid"]]
        assert abs(row["calibration_mm_per_px"] / t["mm_per_px"] - 1) < 0.02
        assert row["landmark_source"] == "auto"  # no sidecar files in an archive: detected
    stored = open_archive(plans_url).search("instance", Modality="SR")
    assert sorted(r["SOPInstanceUID"] for r in stored) == sorted(df["plan_sr_uid"])


def test_unreachable_scheduler_is_a_clear_error(cohort, tmp_path):
    from orthoplan.errors import PlanError

    with pytest.raises(PlanError, match="Dask scheduler"):
        list(batch.iter_rows([cohort / "case_001.dcm"], scheduler="tcp://127.0.0.1:9"))


def test_workers_zero_measures_here_and_equals_a_worker_process(cohort, monkeypatch):
    """``workers=0`` runs in this process (a patched function is called), ``workers=1`` in a
    worker process; both give the same rows."""
    files = sorted(cohort.glob("case_00*.dcm"))[:3]
    opts = batch.BatchOptions(sidecar_landmarks=False)
    here = pd.DataFrame(batch.iter_rows(files, options=opts, workers=0)).drop(columns=VOLATILE)
    away = pd.DataFrame(batch.iter_rows(files, options=opts, workers=1)).drop(columns=VOLATILE)
    pd.testing.assert_frame_equal(here.sort_values("input").reset_index(drop=True),
                                  away.sort_values("input").reset_index(drop=True), check_exact=False, rtol=1e-9)
    seen = []
    original = batch.measure_input
    monkeypatch.setattr(batch, "measure_input", lambda item, options: seen.append(item) or original(item, options))
    list(batch.iter_rows(files[:2], options=opts, workers=0))
    assert len(seen) == 2
    with pytest.raises(batch.PlanError, match="workers must be 0"):
        list(batch.iter_rows(files, options=opts, workers=-1))


def test_the_plans_notes_are_a_column(cohort, tmp_path):
    """What the plan says about the film (here: no orientation in the header, so a standard AP
    is assumed) is in the row's ``notes``, so that a cohort can be filtered on it."""
    import pydicom

    ds = pydicom.dcmread(cohort / "case_001.dcm")
    before = batch.measure_input(str(cohort / "case_001.dcm"))
    assert "Patient orientation not in the image header" not in (before["notes"] or "")
    for tag in ("PatientOrientation", "ImageLaterality", "ViewPosition"):
        if tag in ds:
            delattr(ds, tag)
    path = tmp_path / "no_orientation.dcm"
    ds.save_as(path, enforce_file_format=True)
    row = batch.measure_input(str(path))
    assert row["status"] == "ok", row["error"]
    assert row["orientation_source"] != before["orientation_source"]
    assert "Patient orientation not in the image header" in (row["notes"] or "")
    assert "notes" in batch.columns()


def test_a_folder_of_real_jpegs_with_a_spacing_goes_to_each_films_detector(tmp_path, real_dir, monkeypatch, capsys):
    """Researchers' folders of JPEG films (FracAtlas): found in a folder, measured at the given
    spacing, each film by the detector of what it shows (the learned detectors and the view
    classifier); a lateral knee film, whose side nothing tells, is an error row with the reason."""
    import shutil

    monkeypatch.setenv("ORTHOPLAN_DETECTOR", "learned")
    folder = tmp_path / "films"
    folder.mkdir()
    for sub, name in (("fracatlas-hip", "IMG0000041.jpg"), ("fracatlas-knee", "IMG0000386.jpg"),
                      ("fracatlas-knee", "IMG0000491.jpg")):
        shutil.copy(real_dir / sub / "images" / name, folder / name)
    assert {Path(p).name for p in batch.expand_inputs([folder])} == {"IMG0000041.jpg", "IMG0000386.jpg",
                                                                     "IMG0000491.jpg"}
    rows = {Path(r["input"]).name: r for r in batch.iter_rows(
        [folder], options=batch.BatchOptions(spacing_mm=0.5, sidecar_landmarks=False), workers=0)}
    hip, knee, lateral = rows["IMG0000041.jpg"], rows["IMG0000386.jpg"], rows["IMG0000491.jpg"]
    assert hip["status"] == "ok" and hip["view"] == "ap-pelvis" and hip["calibration_mm_per_px"] == pytest.approx(0.5)
    assert knee["status"] == "ok" and knee["view"] == "knee-ap" and not math.isnan(knee["aldfa_left_deg"])
    assert lateral["status"] == "error" and "lateral knee view" in lateral["error"]
    assert main(["batch", str(folder), "--out", str(tmp_path / "t.csv"), "--spacing", "-1"]) == 2
    assert "pixel spacing must be a positive number" in capsys.readouterr().err
    with pytest.raises(UsageError, match="pixel spacing"):
        batch.BatchOptions(spacing_mm=float("inf"))


def test_the_findings_column_names_what_the_detector_says_as_codes(tmp_path, real_dir, monkeypatch):
    """A researcher filters a cohort by `findings`: an adolescent's pelvis (IMG0000041), a
    frog-leg view (IMG0003427), a washed-out film of a plated femur (IMG0000455), a film stored
    turned by a quarter turn (IMG0000726: its orientation from its landmarks)."""
    monkeypatch.setenv("ORTHOPLAN_DETECTOR", "learned")
    films = [real_dir / "fracatlas-hip" / "images" / n
             for n in ("IMG0000041.jpg", "IMG0003427.jpg", "IMG0000455.jpg", "IMG0000726.jpg")]
    rows = {Path(r["input"]).name: r for r in batch.iter_rows(
        films, options=batch.BatchOptions(spacing_mm=0.5, sidecar_landmarks=False), workers=0)}
    assert "findings" in batch.columns()
    assert rows["IMG0000041.jpg"]["findings"] == "immature"
    assert rows["IMG0003427.jpg"]["findings"] == "abducted"
    assert rows["IMG0000455.jpg"]["findings"] == "unsure-film"
    assert rows["IMG0000726.jpg"]["findings"] == "turned"
    assert rows["IMG0000726.jpg"]["orientation_source"] == "assumed-turned-from-landmarks"
    assert rows["IMG0003427.jpg"]["orientation_source"] == "assumed-standard-ap"
    for r in rows.values():  # the codes come from the notes
        assert r["status"] == "ok" and r["notes"]
