"""The ``orthoplan`` command.

Every sub-command is a thin face over the library: it parses arguments, calls
:mod:`orthoplan.pipeline` (or a stage), and prints text or JSON. Errors are one line on
stderr and an exit code per error class (:data:`orthoplan.errors.EXIT_CODES`; 2 is a usage
error, 70 an internal error). A plan that could not be stored in its archive waits in the
outbox: one line says so and the command exits with 12 (:data:`orthoplan.errors.EXIT_QUEUED`).

Examples
--------
::

    orthoplan demo --out demo-out
    orthoplan calibrate image.dcm --ball-mm 25 --json
    orthoplan measure image.dcm --landmarks landmarks.json --json
    orthoplan plan image.dcm --landmarks landmarks.json --out plan-dir
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .errors import EXIT_QUEUED, InputNotFoundError, LandmarkError, OrthoplanError, UsageError, exit_code_for

log = logging.getLogger("orthoplan")


# --------------------------------------------------------------------------- helpers


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


_IMAGE_HELP = ("the radiograph: a DICOM file, or a JPEG/PNG/TIFF bitmap (give its scale with --spacing, --known-length "
               "or a calibration ball)")
_JSON_HELP = "print JSON (one document on stdout) instead of text"


def _lower(text: str) -> str:
    """``--side``/``--view`` in any letter case (``LEFT``, ``Left``), as the library accepts them."""
    return text.strip().lower()


def _add_calibration_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("calibration")
    g.add_argument("--ball-mm", type=float, default=25.0, metavar="MM",
                   help="diameter of the calibration ball to look for (default 25 mm)")
    g.add_argument("--no-ball", action="store_true", help="do not look for a calibration ball")
    g.add_argument("--known-length", nargs=5, type=float, metavar=("X1", "Y1", "X2", "Y2", "MM"),
                   help="two image points (pixels) and the true distance between them in mm")
    g.add_argument("--assume-magnification", type=float, metavar="M",
                   help="opt in to the detector spacing (ImagerPixelSpacing, or a PixelSpacing without "
                        "calibration type) divided by an assumed magnification M (e.g. 1.15), when no ball or "
                        "known length measures the scale and the image's own scale is no better (±10 %%); "
                        "flagged as assumed in the plan, report and picture")
    g.add_argument("--spacing", type=float, metavar="MM",
                   help="pixel spacing in mm at the anatomy, for JPEG/PNG/TIFF input (on a DICOM image it "
                        "replaces the spacing attributes)")


def _add_view_arg(p: argparse.ArgumentParser) -> None:
    from .pipeline import VIEWS

    p.add_argument("--view", choices=VIEWS, type=_lower, help="what the image shows (default: from the DICOM header and "
                   "the image's shape, else what the view classifier is sure it shows; long-leg views are measured with the lower-limb definitions, "
                   "knee-ap/knee-lateral with the knee-view ones)")


def _load(args: argparse.Namespace):
    from .pipeline import load_radiograph

    return load_radiograph(args.image, spacing_mm=getattr(args, "spacing", None))


def _calibrate(args: argparse.Namespace, radiograph):
    from .pipeline import calibrate_radiograph

    known = None
    if args.known_length:
        x1, y1, x2, y2, mm = args.known_length
        known = ((x1, y1), (x2, y2), mm)
    return calibrate_radiograph(
        radiograph,
        ball_diameter_mm=None if args.no_ball else args.ball_mm,
        known_length=known,
        assume_magnification=args.assume_magnification,
        ball_at=getattr(args, "ball_at", None),
    )


def _ball_point(text: str) -> tuple[float, float]:
    """``--ball-at X,Y`` → ``(x, y)``."""
    try:
        x, y = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y in image pixels (e.g. 812,240), got {text!r}") from None
    return (x, y)


def _add_ball_at_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ball-at", type=_ball_point, metavar="X,Y",
                   help="a point (image pixels) inside the calibration ball to use, when several round objects "
                        "score alike (the ambiguity warning names their centres); no ball there: exit 5")


def _read_landmarks(path: str):
    from .model import Landmarks

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputNotFoundError(f"landmark file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LandmarkError(f"landmark file {path} is not valid JSON: {exc}") from None
    return Landmarks.from_dict(data)


def _oriented_by_file(rad, path: str | None):
    """``rad`` in the orientation a landmark file's names are in (``"orientation"``, as
    ``orthoplan detect --json`` writes it: a side marker may have shown the film displayed
    mirrored), where the image's header does not give one; else ``rad``."""
    if not path or not rad.orientation.assumed:
        return rad
    from dataclasses import replace

    from .model import ImageOrientation

    try:
        data = json.loads(Path(path).read_text()).get("orientation")
        return rad if data is None else replace(rad, orientation=ImageOrientation.from_dict(data))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise LandmarkError(f"landmark file {path}: its 'orientation' cannot be read ({exc})") from None


def _calibration_summary(cal) -> dict[str, Any]:
    d = cal.to_dict()
    return {
        "mm_per_px": d["mm_per_px"],
        "source": d["source"],
        "uncertainty_pct": d["uncertainty_pct"],
        "interval_mm_per_px": list(cal.interval_mm_per_px),
        "assumed": d["assumed"],
        "magnification": d["magnification"],
        "spacing_basis": d["spacing_basis"],
        "warnings": d["warnings"],
        "details": d["details"],
    }


def _measurements_json(plan_or_ms) -> dict[str, Any]:
    ms = plan_or_ms
    return {
        "measurements": {m.name: {"value": m.value, "unit": m.unit,
                                  **({"interval_95": list(m.interval)} if m.interval else {}),
                                  **({"notes": list(m.notes)} if m.notes else {})} for m in ms},
        "missing": dict(ms.missing),
    }


def _print_measurements(cal, ms, notes: Sequence[str] = ()) -> None:
    """The calibration, the plan's ``notes`` (what the detector says about the film: a child's
    pelvis, metal, an abducted femur ...) and every measurement or why it is absent."""
    print(f"calibration: {cal.label}")
    for w in cal.warnings:
        print(f"  warning: {w}")
    for n in notes:
        print(f"note: {n}")
    for m in ms:
        unit = "°" if m.unit == "deg" else " mm"
        interval = f"  (95 % {m.interval[0]:.1f} to {m.interval[1]:.1f})" if m.interval else ""
        flags = "".join(f"  ** {n}" for n in m.notes if n.startswith("implausible"))
        print(f"{m.name:32s} {m.value:9.2f}{unit}{interval}{flags}")
    for name, reason in ms.missing:
        print(f"{name:32s}   absent: {reason}")


# --------------------------------------------------------------------------- commands


def cmd_calibrate(args: argparse.Namespace) -> int:
    rad = _load(args)
    cal = _calibrate(args, rad)
    if args.json:
        _print_json(_calibration_summary(cal))
    else:
        lo, hi = cal.interval_mm_per_px
        print(cal.label)
        print(f"95% interval: {lo:.5f} – {hi:.5f} mm/px")
        for w in cal.warnings:
            print(f"warning: {w}")
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    from .pipeline import plan_radiograph

    rad = _load(args)
    lms = _read_landmarks(args.landmarks)
    rad = _oriented_by_file(rad, args.landmarks)
    cal = _calibrate(args, rad)
    plan = plan_radiograph(rad, calibration=cal, landmarks=lms, view=args.view)
    if args.json:
        _print_json({"calibration": _calibration_summary(cal), "view": plan.view,
                     **_measurements_json(plan.measurements)})
    else:
        _print_measurements(cal, plan.measurements, plan.notes)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from .pipeline import detect_oriented

    rad = _load(args)
    try:
        cal = _calibrate(args, rad)
    except OrthoplanError as exc:  # detection can run on pixel ranges alone
        log.warning("detecting without calibration: %s", exc)
        cal = None
    found = detect_oriented(rad, cal, view=getattr(args, "view", None), side=getattr(args, "side", None),
                            model=getattr(args, "model", None))
    lms, notes = found.landmarks, found.orientation_notes + found.notes
    if args.json:
        # {"landmarks": {name: {"x", "y", "confidence"[, "radius"]}}, "missing": {name: reason},
        #  "notes": [what the detector says about the film], "orientation": {the orientation the
        #  sides are named in: a side marker may show the film displayed mirrored}, "view": the
        #  view detected}: checked and corrected, it is a landmark file for measure, plan and train
        doc = lms.to_dict()
        keep = ("x", "y", "confidence", "radius")
        doc["landmarks"] = {k: {f: v[f] for f in keep if f in v} for k, v in doc["landmarks"].items()}
        doc["notes"] = list(notes)
        doc["orientation"] = found.orientation.to_dict()
        doc["view"] = found.view
        _print_json(doc)
    else:
        for note in notes:
            print(f"note: {note}")
        for lm in lms:
            extra = f" r={lm.radius_px:.1f}" if lm.radius_px else ""
            print(f"{lm.name.value:32s} x={lm.x:8.1f} y={lm.y:8.1f}{extra} confidence={lm.confidence:.2f}")
        for name, reason in lms.missing:
            print(f"{name.value:32s} absent: {reason}")
    return 0


def write_plan_outputs(rad, plan, out: Path, *, dicom: bool = True, previous=None) -> dict[str, Path]:
    """Write plan.json, overlay.png and (for DICOM input) plan-sr.dcm and plan-gsps.dcm
    (``previous``: the SR of the revision this plan replaces, referenced by the new SR)."""
    from .render import render_plan

    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    (out / "plan.json").write_text(plan.to_json())
    written["plan"] = out / "plan.json"
    render_plan(rad, plan, out / "overlay.png")
    written["overlay"] = out / "overlay.png"
    if dicom and rad.dataset is not None:
        from .pipeline import dicom_objects

        sr, gsps = dicom_objects(rad, plan, previous=previous)
        sr.save_as(out / "plan-sr.dcm", enforce_file_format=True)
        gsps.save_as(out / "plan-gsps.dcm", enforce_file_format=True)
        written["sr"], written["gsps"] = out / "plan-sr.dcm", out / "plan-gsps.dcm"
    return written


def cmd_plan(args: argparse.Namespace) -> int:
    from .pipeline import plan_radiograph, revise_plan

    if args.revise and (not args.archive or args.no_dicom):
        sys.stderr.write("orthoplan plan: error: --revise reads the latest plan from --archive URL and stores "
                         "the revision there: give --archive, without --no-dicom\n")
        return 2
    if args.store_pdf and (not args.archive or args.no_dicom):
        sys.stderr.write("orthoplan plan: error: --store-pdf stores the plan document in the archive with the SR and "
                         "GSPS: give --archive URL, without --no-dicom\n")
        return 2
    rad = _load_or_retrieve(args)
    lms = _read_landmarks(args.landmarks) if args.landmarks else None
    rad = _oriented_by_file(rad, args.landmarks)
    previous_sr = previous = None
    if args.revise:
        previous_sr, previous, plan = _revision_start(args, rad, lms)
        cal = plan.calibration
    else:
        cal = _calibrate(args, rad)
        plan = plan_radiograph(rad, calibration=cal, landmarks=lms, author=args.author, view=args.view,
                               side=args.side)
    catalog = None
    if args.cup or args.stem or args.femoral or args.tibial or (args.side and plan.view != "knee-lateral"):
        plan, catalog = _template_plan(args, rad, plan)
    if args.osteotomy:
        plan = _osteotomy_plan(args, rad, plan)
    if previous is not None:
        plan = revise_plan(previous, plan)
        print(f"revision {plan.revision} of plan {plan.plan_uid} (replaces revision {previous.revision})")
    if args.archive and not args.no_dicom:  # before anything is written: nothing implausible reaches an archive
        from dataclasses import replace

        from .pipeline import check_storable

        if args.draft and plan.status != "draft":
            plan = replace(plan, status="draft")
        check_storable(plan, allow_implausible=args.draft)
    out = Path(args.out)
    written = write_plan_outputs(rad, plan, out, dicom=not args.no_dicom, previous=previous_sr)
    written.update(_plan_document_outputs(args, rad, plan, out))
    for kind, path in written.items():
        print(f"{kind:8s} {path}")
    queued = False
    if args.archive and "sr" in written:
        result = _store(args.archive, [written["sr"], written["gsps"]] + ([written["pdf-dcm"]] if "pdf-dcm" in written else []))
        queued = result.queued
        if previous is None and not result.queued:
            _warn_other_plans(args.archive, rad, plan)
    _print_measurements(cal, plan.measurements, plan.notes)
    if catalog is not None:
        _print_templating(_templating_summary(plan, _template_side(args, rad, plan), catalog))
    for o in plan.osteotomies:
        _print_osteotomy(o)
    return EXIT_QUEUED if queued else 0


def _calibration_options_given(args: argparse.Namespace) -> bool:
    """Whether any calibration option differs from its default (``_add_calibration_args``)."""
    return (args.ball_mm != 25.0 or args.no_ball or args.known_length is not None
            or args.assume_magnification is not None or args.spacing is not None
            or getattr(args, "ball_at", None) is not None)


def _revision_start(args: argparse.Namespace, rad, landmarks):
    """``(previous_sr, previous_plan, content)`` for ``plan --revise``: the latest plan on this image
    in ``--archive``, and the revision's content (the previous plan with the landmarks of
    ``--landmarks`` moved or added, re-measured; recalibrated only when a calibration option is given;
    authored by ``--author`` only)."""
    from dataclasses import replace

    from .archive import open_archive
    from .archive.plans import latest_revision
    from .errors import PlanError
    from .pipeline import recalibrate, update_landmarks

    if rad.dataset is None or not rad.dataset.get("StudyInstanceUID"):
        raise PlanError("--revise needs a DICOM image: the plan to revise is found by the image's study")
    found = latest_revision(open_archive(args.archive), str(rad.dataset.StudyInstanceUID),
                            image_uid=str(rad.dataset.SOPInstanceUID))
    if found is None:
        raise PlanError("nothing to revise: the archive holds no orthoplan plan on this image "
                        "(make the first one without --revise)")
    previous_sr, previous = found
    if args.view and args.view != previous.view:
        raise PlanError(f"a revision keeps its plan's view ({previous.view}); for a {args.view} plan leave out --revise")
    plan = replace(previous, author=args.author)
    if _calibration_options_given(args):
        plan = recalibrate(plan, _calibrate(args, rad))
    if landmarks is not None:
        plan = update_landmarks(plan, *landmarks)
    return previous_sr, previous, plan


def _warn_other_plans(url: str, rad, plan) -> None:
    """One warning when the image now has more than one plan in the archive (``--revise`` revises)."""
    from .archive import open_archive
    from .archive.plans import list_plans

    try:
        rows = list_plans(open_archive(url), str(rad.dataset.StudyInstanceUID))
    except OrthoplanError as exc:  # the plan is stored; this is only advice
        log.debug("could not list the study's plans: %s", exc)
        return
    others = {r["plan_uid"] for r in rows
              if r["image_sop_instance_uid"] == plan.image.sop_instance_uid and r["plan_uid"] != plan.plan_uid}
    if others:
        log.warning("this image now has %d plans in the archive; to revise the latest plan instead of adding "
                    "one, use `orthoplan plan IMAGE --revise`", len(others) + 1)


def _plan_document_outputs(args: argparse.Namespace, rad, plan, out: Path) -> dict[str, Path]:
    """``--pdf``: the printable plan document ``plan.pdf``; ``--store-pdf``: also ``plan-pdf.dcm``, the same
    PDF as a DICOM Encapsulated PDF in the image's study (stored with the SR and GSPS)."""
    if not (getattr(args, "pdf", False) or getattr(args, "store_pdf", False)):
        return {}
    from .plan_document import write_plan_document

    written = {"pdf": write_plan_document(plan, rad, out / "plan.pdf")}
    if args.store_pdf:
        from .dicom.encapsulated_pdf import build_encapsulated_pdf
        from .errors import DicomOutputError

        if rad.dataset is None:
            raise DicomOutputError("--store-pdf needs a DICOM source image (JPEG/PNG/TIFF input has no study to add the "
                                   "plan document to)")
        document = written["pdf"].read_bytes()
        build_encapsulated_pdf(plan, rad.dataset, document).save_as(out / "plan-pdf.dcm", enforce_file_format=True)
        written["pdf-dcm"] = out / "plan-pdf.dcm"
    return written


def _osteotomy_plan(args: argparse.Namespace, rad, plan):
    """``plan`` with the osteotomy of ``args`` (``--osteotomy hto|dfo`` on a long-leg view)."""
    from .osteotomy import plan_osteotomy

    side = args.osteotomy_side
    if side is None:
        lat = (rad.image_laterality or "").strip().upper()
        if lat not in ("L", "R"):
            raise UsageError("say which leg the osteotomy is on: --osteotomy-side left or --osteotomy-side right")
        side = "left" if lat == "L" else "right"
    return plan_osteotomy(plan, args.osteotomy, side, wedge=args.wedge, target_fraction=args.target_fraction)


def _print_osteotomy(o) -> None:
    print(f"osteotomy {o.side.value:6s} {o.kind.upper()} {o.wedge} wedge: correction {o.correction_deg:.2f}° "
          f"{o.direction}, wedge height {o.wedge_height_mm:.1f} mm (osteotomy length {o.osteotomy_length_mm:.1f} mm), "
          f"hinge ({o.hinge_x:.1f}, {o.hinge_y:.1f}) px")
    print(f"osteotomy {o.side.value:6s} weight-bearing line at {100 * o.achieved_fraction:.2f} % of the plateau "
          f"(target {100 * o.target_fraction:.2f} %)")
    for m in o.predicted:
        if m.name.split("_")[0] in ("hka", "mad", "mpta", "jlca", "mldfa"):
            unit = "°" if m.unit == "deg" else " mm"
            print(f"predicted {m.name:30s} {m.value:9.2f}{unit}")
    for note in o.notes:
        print(f"note: {note}")


def _load_or_retrieve(args: argparse.Namespace):
    """IMAGE is a path, or a SOP Instance UID to fetch from ``--archive``."""
    from .pipeline import load_radiograph

    if not os.path.exists(args.image) and getattr(args, "archive", None) and _looks_like_uid(args.image):
        from .archive import open_archive

        ds = open_archive(args.archive).retrieve(args.image)
        return load_radiograph(ds)
    return _load(args)


def _looks_like_uid(text: str) -> bool:
    return 0 < len(text) <= 64 and all(p.isdigit() for p in text.split("."))


def _store(url: str, paths: list[Path]):
    """Store the files in the archive at ``url``, or queue them in the outbox when it fails.

    A queued store is said once, on stderr (the archive's error, "stored in the outbox …;
    run `orthoplan archive flush`"); the command then exits with :data:`EXIT_QUEUED`.
    """
    import pydicom

    from .archive import open_archive
    from .archive.outbox import Outbox, queued_message, store_or_queue

    datasets = [pydicom.dcmread(p) for p in paths]
    result = store_or_queue(open_archive(url), datasets, Outbox.default(), warn=False)
    if result.queued:
        sys.stderr.write(f"orthoplan: {queued_message(result)}\n")
    else:
        print(f"stored   {len(datasets)} objects in {result}")
    return result


def cmd_demo(args: argparse.Namespace) -> int:
    """Make the bundled example (synthetic AP pelvis with a 25 mm ball) and plan it end to end:
    calibrate, detect, template the left hip, write the outputs, store SR + GSPS in a folder archive."""
    from .phantoms import pelvis as phantom
    from .calibration import calibrate
    from .catalog import load_catalog
    from .pipeline import load_radiograph, plan_radiograph, template_hip
    from .templating import templating_summary

    out = Path(args.out)
    case = phantom.make_pelvis(seed=args.seed)
    files = phantom.write_case(case, out / "example")
    print(f"example  {files['image']}  (true scale {case.mm_per_px:.5f} mm/px)")
    rad = load_radiograph(files["image"])
    cal = calibrate(rad, ball_diameter_mm=25.0)
    err = 100 * (cal.mm_per_px / case.mm_per_px - 1)
    print(f"calibrated {cal.label}  (error vs truth {err:+.2f}%)")
    lms = _read_landmarks(str(files["landmarks"])) if args.exact_landmarks else None
    plan = plan_radiograph(rad, calibration=cal, landmarks=lms, author="orthoplan demo")
    if not args.exact_landmarks:
        missing = [n.value for n, _ in plan.landmarks.missing]
        print(f"detected {len(plan.landmarks)} landmarks" + (f"; absent: {', '.join(missing)}" if missing else ""))
    catalog = load_catalog()
    try:
        plan = template_hip(plan, rad, catalog, args.side)
    except OrthoplanError as exc:  # e.g. a landmark the detector left out: plan without templates
        log.warning("templating skipped: %s", exc)
        catalog = None
    written = write_plan_outputs(rad, plan, out / "plan")
    queued = False
    for kind, path in written.items():
        print(f"{kind:8s} {path}")
    if "sr" in written:
        url = args.archive or "folder://" + str((out / "archive").resolve())
        queued = _store(url, [written["sr"], written["gsps"]]).queued
    _print_measurements(cal, plan.measurements, plan.notes)
    if catalog is not None:
        _print_templating(templating_summary(plan, args.side, catalog))
    return EXIT_QUEUED if queued else 0


def cmd_plans(args: argparse.Namespace) -> int:
    from .archive import open_archive
    from .archive.plans import latest_plan, list_plans

    archive = open_archive(args.archive)
    _require_existing_folder(archive)
    if args.open:
        plan = latest_plan(archive, args.study, plan_uid=args.plan)
        if args.json:
            _print_json(plan.to_dict())
        else:
            print(f"plan {plan.plan_uid} revision {plan.revision} ({plan.status}, {plan.author or 'no author'}, {plan.created})")
            _print_measurements(plan.calibration, plan.measurements, plan.notes)
        return 0
    plans = list_plans(archive, args.study)
    if args.plan:
        plans = [p for p in plans if p["plan_uid"] == args.plan]
    if args.json:
        _print_json(plans)
    elif not plans:
        print("no orthoplan plan in this study")
    else:
        for p in plans:
            print("  ".join(f"{k}={v}" for k, v in p.items()))
    return 0


def _require_existing_folder(archive) -> None:
    """Reading a folder archive that does not exist is an error (11), not an empty study."""
    from .archive.folder import FolderArchive
    from .errors import ArchiveError

    if isinstance(archive, FolderArchive) and not archive.root.is_dir():
        raise ArchiveError(f"archive {archive.name}: no such folder")


def cmd_archive_flush(args: argparse.Namespace) -> int:
    from .archive import open_archive
    from .archive.outbox import Outbox, flush

    from .errors import ArchiveError

    outbox = Outbox(args.outbox) if args.outbox else Outbox.default()
    report = flush(outbox, open_archive=open_archive)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report)
    return 0 if not report.failed else exit_code_for(ArchiveError())


def cmd_batch(args: argparse.Namespace) -> int:
    """Measure many images into one table (resumable; local processes or a Dask cluster)."""
    from . import batch

    if not args.quiet:
        logging.getLogger("orthoplan.batch").setLevel(logging.INFO)
    inputs: list = list(args.inputs)
    if args.query:
        if not args.archive:
            raise UsageError("--query needs --archive URL")
        inputs += batch.archive_inputs(args.archive, args.query)
    if not inputs:
        raise UsageError("no inputs: give files, folders, list files or --archive URL --query Q")
    if Path(args.out).suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"--out must end in .csv or .parquet, got {Path(args.out).name}")
    options = batch.BatchOptions(
        ball_diameter_mm=None if args.no_ball else args.ball_mm,
        assume_magnification=args.assume_magnification,
        spacing_mm=args.spacing,
        include_patient_id=args.include_patient_id,
        sidecar_landmarks=not args.no_sidecar,
        store_plans=args.store_plans,
        view=args.view,
    )
    summary = batch.run_batch(inputs, args.out, options=options, workers=args.workers,
                              scheduler=args.scheduler, retry_errors=args.retry_errors,
                              progress=not args.quiet)
    print(summary)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Cohort summary of a batch table as HTML or PDF."""
    from .cohort import write_cohort_report

    print(write_cohort_report(args.table, args.out))
    return 0


def _add_batch_parsers(sub) -> None:
    b = sub.add_parser("batch", help="measure many images into a CSV/Parquet table (resumable, parallel, Dask)")
    b.add_argument("inputs", nargs="*", help="files, folders (recursive) or list files (one path a line)")
    b.add_argument("--out", required=True, metavar="TABLE", help="results.csv or results.parquet")
    b.add_argument("--archive", metavar="URL", help="archive to query (with --query)")
    b.add_argument("--query", metavar="Q", help="instance query, e.g. 'Modality=DX&BodyPartExamined=PELVIS'")
    b.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: all cores; 0 measures in this process, for debugging)")
    b.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run on this Dask cluster instead")
    b.add_argument("--include-patient-id", action="store_true", help="add the PatientID column (off by default)")
    b.add_argument("--store-plans", metavar="URL", help="also store each image's SR and GSPS in this archive")
    b.add_argument("--no-sidecar", action="store_true",
                   help="ignore <image>.landmarks.json files beside the images; always detect")
    b.add_argument("--retry-errors", action="store_true", help="measure again the inputs that failed last time")
    b.add_argument("--ball-mm", type=float, default=25.0, metavar="MM", help="calibration ball diameter (default 25)")
    b.add_argument("--no-ball", action="store_true", help="do not look for a calibration ball")
    b.add_argument("--assume-magnification", type=float, metavar="M",
                   help="opt in to an assumed magnification where nothing calibrates (flagged in every row)")
    b.add_argument("--spacing", type=float, metavar="MM",
                   help="pixel spacing in mm at the anatomy of every image (JPEG/PNG/TIFF carry none; on a "
                        "DICOM image it replaces the spacing attributes)")
    b.add_argument("--quiet", action="store_true", help="no progress bar or progress log lines")
    _add_view_arg(b)
    b.set_defaults(func=cmd_batch)

    r = sub.add_parser("report", help="cohort summary of a batch table (HTML or PDF)")
    r.add_argument("table", help="results.csv or results.parquet from orthoplan batch")
    r.add_argument("--out", required=True, metavar="REPORT", help="report.html or report.pdf")
    r.set_defaults(func=cmd_report)


# --------------------------------------------------------------------------- templating and catalogs


def _template_side(args: argparse.Namespace, rad, plan=None) -> str:
    """``--side``, else the image's ImageLaterality. A side the detector took from the film's
    anatomy (an AP knee's fibula, under an assumed display orientation) or from a side marker read
    on the film is not templated on without a person saying so: a wrong side in a surgical plan
    is worse than a question; the message says which side the film seems to show."""
    if args.side:
        return args.side
    lat = (rad.image_laterality or "").strip().upper()
    if lat in ("L", "R"):
        return "left" if lat == "L" else "right"
    from .landmarks.markers import marker_side
    from .pipeline import side_markers

    seen = sorted({lm.name.side.value for lm in plan.landmarks if lm.name.side is not None}) if plan else []
    one_knee = plan is not None and plan.view == "knee-ap" and len(seen) == 1
    markers = side_markers(rad)
    marked = marker_side(markers)
    said = []  # what the film seems to show, each a reading that a person confirms
    if one_knee:
        said.append(f"the film shows one knee, which the detector takes for the {seen[0]} from its anatomy")
    if marked is not None and seen in ([], [marked.value]):  # a film of one limb: the marker names it
        said.append(f"the {markers[0].describe()} read on the film names the {marked.value}")
    side = seen[0] if one_knee else (marked.value if marked is not None else None)
    hint = f"; {', and '.join(said)}: if that is right, --side {side}" if said else ""
    raise UsageError("say which side to template: --side left or --side right (the image has no ImageLaterality"
                     f"{hint})")


def _template_plan(args: argparse.Namespace, rad, plan):
    """``plan`` templated on ``args.side`` with the families and sizes of ``args``."""
    from .catalog import load_catalog
    from .pipeline import template_hip

    catalog = load_catalog(args.catalog or None)
    if plan.view == "knee-lateral":
        from .errors import TemplatingError

        raise TemplatingError("a total knee is templated on the AP knee (or long-leg) view: "
                              "orthoplan template AP.dcm --view knee-ap --lateral LATERAL.dcm")
    if plan.view in ("long-leg", "knee-ap"):  # total knee on the long-leg or AP knee view
        from .templating.knee import template_knee

        kwargs = {k: v for k, v in {
            "femoral_family": args.femoral, "tibial_family": args.tibial, "insert_family": args.insert,
            "femoral_size": args.femoral_size, "tibial_size": args.tibial_size,
            "insert_thickness_mm": args.insert_thickness, "valgus_deg": args.valgus, "femoral_ap_mm": args.femoral_ap,
        }.items() if v is not None}
        side = _template_side(args, rad, plan)
        if getattr(args, "lateral", None) and args.femoral_ap is None:
            kwargs["lateral"] = _lateral_plan(args, side)
        return template_knee(plan, catalog, side, **kwargs), catalog
    kwargs = {k: v for k, v in {
        "cup_family": args.cup, "stem_family": args.stem, "head_family": args.head,
        "cup_size": args.cup_size, "stem_size": args.stem_size, "head_diameter_mm": args.head_diameter,
        "neck_length_mm": args.neck_length, "inclination_deg": args.inclination,
        "resection_above_lt_mm": args.resection_above_lt,
    }.items() if v is not None}
    if getattr(args, "force", False):
        kwargs["force"] = True
    return template_hip(plan, rad, catalog, _template_side(args, rad, plan), **kwargs), catalog


def _lateral_plan(args: argparse.Namespace, side: str):
    """The lateral knee view of ``--lateral`` planned (its landmarks from ``--lateral-landmarks``
    or detected; its scale from ``--lateral-spacing``, else ``--spacing``, a ball or the assumed
    magnification): its femoral AP dimension sizes the component."""
    from .pipeline import calibrate_radiograph, load_radiograph, plan_radiograph

    spacing = getattr(args, "lateral_spacing", None) or getattr(args, "spacing", None)
    rad = load_radiograph(args.lateral, spacing_mm=spacing)
    lms = _read_landmarks(args.lateral_landmarks) if getattr(args, "lateral_landmarks", None) else None
    # the AP image's --known-length and --ball-at points are not the lateral image's
    cal = calibrate_radiograph(rad, ball_diameter_mm=None if args.no_ball else args.ball_mm,
                               assume_magnification=args.assume_magnification)
    return plan_radiograph(rad, calibration=cal, landmarks=lms, view="knee-lateral", side=side)


def _add_template_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("templating")
    g.add_argument("--side", choices=("left", "right"), type=_lower,
                   help="the patient's side to template (default: the image's ImageLaterality; any letter case)")
    g.add_argument("--cup", metavar="FAMILY", help="cup family (default: generic hemispherical cup)")
    g.add_argument("--stem", metavar="FAMILY", help="stem family (default: generic uncemented straight stem)")
    g.add_argument("--head", metavar="FAMILY", help="head family (default: the stem vendor's, else generic)")
    g.add_argument("--cup-size", metavar="LABEL", help="force a cup size instead of sizing to the acetabulum")
    g.add_argument("--stem-size", metavar="LABEL", help="force a stem size instead of sizing to the canal")
    g.add_argument("--head-diameter", type=float, metavar="MM",
                   help="force a head diameter instead of the automatic choice")
    g.add_argument("--neck-length", type=float, metavar="MM",
                   help="force a neck length instead of the automatic choice")
    g.add_argument("--inclination", type=float, metavar="DEG", help="cup inclination (default 40)")
    g.add_argument("--resection-above-lt", type=float, metavar="MM",
                   help="neck cut above the lesser trochanter (default: the level that equalises leg length)")
    g.add_argument("--catalog", action="append", metavar="DIR", help="extra catalog folder (repeatable)")
    g.add_argument("--force", action="store_true",
                   help="template even an impossible plan (a size beyond the family, a canal narrower than the "
                        "smallest stem, a neck cut outside the femur): marked FORCED in the plan, report and picture")
    k = p.add_argument_group("knee templating (--view long-leg or knee-ap)")
    k.add_argument("--femoral", metavar="FAMILY", help="femoral component family (default: generic)")
    k.add_argument("--tibial", metavar="FAMILY", help="tibial tray family (default: generic)")
    k.add_argument("--insert", metavar="FAMILY", help="tibial insert family (default: generic)")
    k.add_argument("--femoral-size", metavar="LABEL", help="force a femoral component size")
    k.add_argument("--tibial-size", metavar="LABEL", help="force a tibial tray size")
    k.add_argument("--insert-thickness", type=float, metavar="MM", help="force an insert thickness")
    k.add_argument("--valgus", type=float, metavar="DEG",
                   help="distal femoral cut valgus to the anatomical axis (default: the measured AMA, "
                        "i.e. perpendicular to the mechanical axis)")
    k.add_argument("--femoral-ap", type=float, metavar="MM", help="femoral AP dimension from a lateral view")
    k.add_argument("--lateral", metavar="IMAGE",
                   help="the lateral knee view of the same knee (--view knee-ap): its femoral AP dimension "
                        "(anterior cortex to posterior condyles) sizes the femoral component")
    k.add_argument("--lateral-landmarks", metavar="FILE.json",
                   help="landmarks of the --lateral image (default: detect them)")
    k.add_argument("--lateral-spacing", type=float, metavar="MM",
                   help="pixel spacing in mm at the anatomy of the --lateral image (default: --spacing)")


def _templating_summary(plan, side: str, catalog) -> dict:
    if plan.view in ("long-leg", "knee-ap"):
        from .templating.knee import knee_templating_summary

        return knee_templating_summary(plan, side, catalog)
    from .templating import templating_summary

    return templating_summary(plan, side, catalog)


def _print_templating(summary: dict) -> None:
    side = summary["side"]
    if "predicted" not in summary:  # knee
        for kind in ("femoral_component", "tibial_tray", "tibial_insert"):
            item = summary.get(kind)
            if item is None:
                continue
            extra = (f"thickness {item['thickness_mm']:g} mm" if kind == "tibial_insert" else
                     f"ML {item['ml_width_mm']:g} mm, angle {item['angle_deg']:+.1f}°"
                     + (f", cut {item['cut_to_mechanical_axis_deg']:.1f}° to the mechanical axis"
                        if "cut_to_mechanical_axis_deg" in item else "")
                     + (f", cut {item['cut_to_anatomical_axis_deg']:.1f}° to the anatomical axis"
                        if "cut_to_anatomical_axis_deg" in item else "")
                     + (f", {item['valgus_to_anatomical_deg']:.1f}° valgus to the anatomical axis"
                        if "valgus_to_anatomical_deg" in item and "cut_to_mechanical_axis_deg" not in item else ""))
            span = item.get("size_range")
            span = f" (range {span[0]}–{span[1]})" if span and span[0] != span[1] else ""
            print(f"{kind} {side:6s} {item['vendor']} / {item['family']} size {item['size']}{span}  ({extra})")
        for kind, why in summary.get("not_templated", {}).items():
            print(f"{kind} {side:6s} not templated: {why}")
        for name, value in summary.get("measured", {}).items():
            print(f"measured {name:30s} {value:8.1f} mm")
        for note in summary["notes"]:
            print(f"note: {note}")
        return
    for kind in ("cup", "stem", "head"):
        item = summary.get(kind)
        if item is None:
            continue
        extra = {"cup": lambda i: f"{i['outer_diameter_mm']:g} mm, inclination {i['inclination_deg']:.0f}°"
                        + (f", coverage {i['coverage_pct']:.0f}%" if "coverage_pct" in i else ""),
                 "stem": lambda i: f"offset {i['horizontal_offset_mm']:g} mm, CCD {i['neck_shaft_angle_deg']:g}°"
                         + (f", cut {i['resection_above_lt_mm']:.1f} mm above LT" if "resection_above_lt_mm" in i else ""),
                 "head": lambda i: f"{i['diameter_mm']:g} mm, neck {i['neck_length_mm']:+g} mm"}[kind](item)
        print(f"{kind} {side:6s} {item['vendor']} / {item['family']} size {item['size']}  ({extra})")
    for name, value in summary["predicted"].items():
        pre = summary["preoperative"].get(name)
        change = f"  (pre-op {pre:+.1f}, change {value - pre:+.1f})" if pre is not None else ""
        print(f"predicted {name:32s} {value:+8.1f} mm{change}")
    for note in summary["notes"]:
        print(f"note: {note}")


def cmd_template(args: argparse.Namespace) -> int:
    """Template a total hip on one side; print the choices and the predicted reconstruction."""
    from .pipeline import plan_radiograph

    rad = _load(args)
    lms = _read_landmarks(args.landmarks) if args.landmarks else None
    rad = _oriented_by_file(rad, args.landmarks)
    cal = _calibrate(args, rad)
    plan = plan_radiograph(rad, calibration=cal, landmarks=lms, view=args.view, side=args.side)
    plan, catalog = _template_plan(args, rad, plan)
    summary = _templating_summary(plan, _template_side(args, rad, plan), catalog)
    if args.out:
        written = write_plan_outputs(rad, plan, Path(args.out), dicom=not args.no_dicom)
        summary["files"] = {k: str(v) for k, v in written.items()}
    if args.json:
        _print_json({"calibration": _calibration_summary(cal), **summary})
    else:
        print(f"calibration: {cal.label}")
        _print_templating(summary)
        why = summary.get("not_templated", {}).get("femoral_component", "")
        if getattr(args, "lateral", None) and "confirm them" in why:  # how a person confirms them here
            side = summary["side"]
            print(f"  to confirm: orthoplan detect {args.lateral} --view knee-lateral --side {side} --json > "
                  "lateral.json, check the points on the film and move any that are wrong, then give "
                  "--lateral-landmarks lateral.json (or the AP dimension with --femoral-ap MM)")
        for kind, path in summary.get("files", {}).items():
            print(f"{kind:8s} {path}")
    return 0


def cmd_catalog_list(args: argparse.Namespace) -> int:
    from .catalog import catalog_listing, load_catalog

    from .errors import CatalogError

    catalog = load_catalog(args.catalog or None)
    rows = catalog_listing(catalog)
    if not rows:
        raise CatalogError("no implant catalog found: the installation lacks its bundled catalogs "
                           "(reinstall orthoplan) and no --catalog or ORTHOPLAN_CATALOG_PATH folder holds a family")
    if args.kind:
        rows = [r for r in rows if r["kind"] == args.kind]
    if args.json:
        _print_json({"families": rows, "problems": [str(p) for p in catalog.problems]})
    else:
        for r in rows:
            print(f"{r['kind']:5s} {r['vendor']} / {r['family']}  sizes {', '.join(r['sizes'])}  [{r['data_quality']}]")
        for problem in catalog.problems:
            print(f"problem: {problem}")
    return 0


def cmd_catalog_check(args: argparse.Namespace) -> int:
    from .catalog import validate_catalog_folder
    from .errors import CatalogError

    problems = validate_catalog_folder(args.path)
    if args.json:
        _print_json({"path": args.path, "problems": [p.to_dict() for p in problems]})
    else:
        for problem in problems:
            print(problem)
        if not problems:
            print(f"{args.path}: no problems")
    return exit_code_for(CatalogError()) if any(p.severity == "error" for p in problems) else 0


def _add_templating_parsers(sub) -> None:
    t = sub.add_parser("template", help="template a total hip (cup, stem, head) and predict leg length and offset; "
                       "--view long-leg: a total knee (femoral component, tibial tray, insert)")
    t.add_argument("image", help=_IMAGE_HELP)
    t.add_argument("--landmarks", metavar="FILE.json", help="landmarks in image pixels (default: detect them)")
    t.add_argument("--out", metavar="DIR", help="also write plan.json, overlay.png, SR and GSPS there")
    t.add_argument("--no-dicom", action="store_true", help="with --out: only plan.json and overlay.png")
    t.add_argument("--json", action="store_true", help=_JSON_HELP)
    _add_template_options(t)
    _add_calibration_args(t)
    _add_view_arg(t)
    t.set_defaults(func=cmd_template)

    c = sub.add_parser("catalog", help="implant catalogs: list the families, check a catalog folder")
    csub = c.add_subparsers(dest="catalog_command", required=True, metavar="ACTION")
    cl = csub.add_parser("list", help="every family (vendor, family, kind, sizes, data quality)")
    cl.add_argument("--kind", choices=("cup", "stem", "head", "femoral_component", "tibial_tray", "tibial_insert"),
                    help="only the families of this kind")
    cl.add_argument("--catalog", action="append", metavar="DIR", help="extra catalog folder (repeatable)")
    cl.add_argument("--json", action="store_true", help=_JSON_HELP)
    cl.set_defaults(func=cmd_catalog_list)
    cc = csub.add_parser("check", aliases=["validate"],
                         help="validate a catalog folder: every problem with file, field and reason")
    cc.add_argument("path", help="a catalog folder (one folder per vendor, one JSON file per family) or one file")
    cc.add_argument("--json", action="store_true", help=_JSON_HELP)
    cc.set_defaults(func=cmd_catalog_check)


# --------------------------------------------------------------------------- train


#: The environment variable that makes detection use a model trained for each network.
_TRAINED_MODEL_ENV = {"ap-pelvis": "ORTHOPLAN_MODEL", "knee": "ORTHOPLAN_KNEE_MODEL", "knee-ap": "ORTHOPLAN_KNEE_AP_MODEL"}


def cmd_train(args: argparse.Namespace) -> int:
    """Fine-tune (or train) a learned detector's network on a site's checked landmarks."""
    from .landmarks import network, training

    net = args.network
    views = training.NETWORK_VIEWS[net]
    model_view = training.NETWORK_MODEL_VIEW[net]
    base = None
    if not args.scratch:
        if args.init_model is None and net == "knee-ap":  # not $ORTHOPLAN_KNEE_MODEL: another network's size
            from .landmarks.knee_learned import KNEE_AP_MODEL, KNEE_AP_MODEL_ENV

            path = os.environ.get(KNEE_AP_MODEL_ENV) or network.MODEL_DIR / f"{KNEE_AP_MODEL}.onnx"
            base = network.load_model(path, view=model_view)
        else:
            base = network.load_model(args.init_model, view=model_view)
    channels = tuple(base.channels) if base is not None else training.NETWORK_CHANNELS[net]
    films = []
    for folder in args.landmarks or ():
        films += training.films_from_landmark_files(folder, channels, views=views)
    for folder in args.references or ():
        from .landmarks.references import load_references

        if not args.root:
            raise LandmarkError("--references needs --root (the folder the references' image paths start from)")
        refs = [r for r in load_references(folder) if r.view in views]
        films += training.films_from_references(refs, args.root, channels)
    if args.archive:
        from .archive import open_archive
        from .archive.plans import latest_plan
        from .pipeline import load_radiograph

        archive = open_archive(args.archive)
        pairs = []
        for study in args.study or ():
            plan = latest_plan(archive, study)
            if not plan.image.sop_instance_uid:
                continue
            pairs.append((load_radiograph(archive.retrieve(plan.image.sop_instance_uid)), plan))
        films += training.films_from_plans(pairs, channels, views=views)
    n_site = len(films)
    if not n_site and not args.phantoms:
        raise LandmarkError(f"no training film for the {net} network ({' and '.join(views)} films): give --landmarks "
                            "DIR, --references DIR --root DIR or --archive URL --study UID with landmarks a person "
                            "placed or confirmed")
    if args.phantoms:
        make = training.films_from_phantoms if net == "ap-pelvis" else training.films_from_knee_phantoms
        films += make(args.phantoms, seed=args.seed, channels=channels)
    init, size, meta = None, args.input_size, {}
    if base is not None:
        init = Path(base.path).with_suffix(".npz")
        if not init.exists():
            raise LandmarkError(f"{init.name}: the base model's weights are missing; use --scratch")
        size, meta = base.input_size, base.meta
    attribution = meta.get("attribution", training.FRACATLAS_ATTRIBUTION if args.references else "")
    result = training.train(
        films, args.out, channels=channels, view=model_view, epochs=args.epochs, seed=args.seed, input_size=size,
        init=init,
        lr=args.lr or (5e-4 if init else 2e-3), command="orthoplan " + " ".join(sys.argv[1:]) if sys.argv else "",
        attribution=attribution, confidence=meta.get("confidence") if init else None,
        extra_meta={"confidence_note": "inherited from the base model, not recalibrated on the site's films"}
        if init else {})
    print(f"trained on {n_site} site films" + (f" and {args.phantoms} phantoms" if args.phantoms else "")
          + f" in {result.seconds:.0f} s: {result.onnx}")
    print(f"use it with {_TRAINED_MODEL_ENV[net]}={result.onnx} (or `orthoplan detect --model {result.onnx}"
          + ("" if net == "ap-pelvis" else f" --view {views[-1]}") + "`)")
    return 0


def _add_train_parser(sub) -> None:
    t = sub.add_parser("train", help="fine-tune a learned landmark detector on a site's checked landmarks "
                                     "(needs the [train] extra)")
    t.add_argument("--out", required=True, metavar="PATH", help="model path without suffix (writes .onnx, .json, .npz)")
    t.add_argument("--network", choices=sorted(_TRAINED_MODEL_ENV), default="ap-pelvis",
                   help="the network to fine-tune: ap-pelvis (AP pelvis and hip films; default), knee (lateral knee "
                        "films and the AP films' axis points; learns from AP and lateral knee films) or knee-ap (AP "
                        "knee films). Only the films of its views are used")
    t.add_argument("--landmarks", action="append", metavar="DIR",
                   help="folder of images with <image stem>.json landmark files (manual/refined points only)")
    t.add_argument("--references", action="append", metavar="DIR", help="folder of reference readings")
    t.add_argument("--root", metavar="DIR", help="where the references' image paths start")
    t.add_argument("--archive", metavar="URL", help="read the plans' SRs (and images) from this archive")
    t.add_argument("--study", action="append", metavar="UID", help="a study whose latest plan to learn from (repeatable)")
    t.add_argument("--phantoms", type=int, default=0, help="add this many phantom films (default 0)")
    t.add_argument("--epochs", type=int, default=15, help="passes over the training films (default 15)")
    t.add_argument("--lr", type=float, help="learning rate (default 5e-4 fine-tuning, 2e-3 from scratch)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--scratch", action="store_true", help="train from random weights instead of fine-tuning")
    t.add_argument("--init-model", metavar="FILE.onnx", help="the model to fine-tune (default: the network's model in use: its "
                   "environment variable's, else the shipped one)")
    t.add_argument("--input-size", type=int, default=384, help="network input (px) when training from scratch "
                   "(the shipped model's recipe: 384)")
    t.set_defaults(func=cmd_train)


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orthoplan", description="Orthopaedic planning and templating on radiographs.")
    p.add_argument("--version", action="version", version=f"orthoplan {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("calibrate", help="print the image's calibration (scale, source, uncertainty)")
    c.add_argument("image", help=_IMAGE_HELP)
    _add_calibration_args(c)
    _add_ball_at_arg(c)
    c.add_argument("--json", action="store_true", help=_JSON_HELP)
    c.set_defaults(func=cmd_calibrate)

    m = sub.add_parser("measure", help="measure from landmarks given in a JSON file: the hip (AP pelvis/hip), "
                       "the lower limb (long-leg) or the knee (knee-ap, knee-lateral), by --view")
    m.add_argument("image", help=_IMAGE_HELP)
    m.add_argument("--landmarks", required=True, metavar="FILE.json",
                   help='{"landmarks": {"teardrop_left": [x, y], ...}} in image pixels (DICOM origin)')
    _add_calibration_args(m)
    _add_view_arg(m)
    m.add_argument("--json", action="store_true", help=_JSON_HELP)
    m.set_defaults(func=cmd_measure)

    d = sub.add_parser("detect", help="detect the landmarks automatically")
    d.add_argument("image", help=_IMAGE_HELP)
    d.add_argument("--side", choices=("left", "right"), type=_lower,
                   help="the knee a knee view shows (default: ImageLaterality; a lateral knee view needs one)")
    d.add_argument("--model", metavar="FILE.onnx",
                   help="the learned detector's model (default: $ORTHOPLAN_MODEL for the AP pelvis, "
                        "$ORTHOPLAN_KNEE_MODEL for knee views ($ORTHOPLAN_KNEE_AP_MODEL for AP knee films), or the shipped "
                        "model; a site's own from `orthoplan train`)")
    _add_calibration_args(d)
    _add_view_arg(d)
    d.add_argument("--json", action="store_true", help=_JSON_HELP)
    d.set_defaults(func=cmd_detect)

    pl = sub.add_parser("plan", help="calibrate, detect/read landmarks, measure; write plan.json, overlay.png, SR, GSPS")
    pl.add_argument("image", help="image file, or a SOP Instance UID with --archive")
    pl.add_argument("--landmarks", metavar="FILE.json",
                    help='landmarks in image pixels, {"landmarks": {"teardrop_left": [x, y], ...}} '
                         "(default: detect them)")
    pl.add_argument("--out", required=True, metavar="DIR",
                    help="folder for plan.json, overlay.png and (DICOM input) plan-sr.dcm, plan-gsps.dcm")
    pl.add_argument("--archive", metavar="URL", help="store the SR and GSPS there (folder://, http(s)://…/dicom-web, dicom://AET@HOST:PORT); "
                    "if the archive cannot take them they wait in the outbox: exit 12, run `orthoplan archive flush` later")
    pl.add_argument("--author", help="name of the planning person (goes into the plan and the SR)")
    pl.add_argument("--no-dicom", action="store_true", help="write only plan.json and overlay.png")
    pl.add_argument("--draft", action="store_true",
                    help="store even a plan with implausible values (outside their plausible ranges), as a "
                         "draft; without it such a plan is refused (exit 7) and nothing is stored")
    pl.add_argument("--revise", action="store_true",
                    help="revise the latest plan on this image in --archive: the next revision of that plan "
                         "(same plan identifier, its own time and series; the SR references the one it "
                         "replaces), starting from its landmarks, calibration and implants; --landmarks "
                         "moves or adds landmarks (docs/archive.md)")
    pl.add_argument("--pdf", action="store_true",
                    help="also write plan.pdf: the plan document to print (A4; picture, measurements, implants, "
                         "calibration, author, status)")
    pl.add_argument("--store-pdf", action="store_true",
                    help="with --archive: also store the plan document in the image's study as a DICOM "
                         "Encapsulated PDF (plan-pdf.dcm), for viewers without SR support (implies --pdf)")
    _add_template_options(pl)
    o = pl.add_argument_group("osteotomy (--view long-leg; docs/osteotomy.md)")
    o.add_argument("--osteotomy", choices=("hto", "dfo"),
                   help="plan a high tibial (hto) or distal femoral (dfo) osteotomy by the Miniaci method")
    o.add_argument("--osteotomy-side", choices=("left", "right"), type=_lower,
                   help="the patient's leg (default: the image laterality)")
    o.add_argument("--target-fraction", type=float, metavar="F",
                   help="where the new weight-bearing line crosses the plateau, from its medial margin "
                        "(default 0.625, the Fujisawa point, for hto; 0.5 for dfo)")
    o.add_argument("--wedge", choices=("opening", "closing"), default="opening", help="wedge type (default opening)")
    _add_calibration_args(pl)
    _add_ball_at_arg(pl)
    _add_view_arg(pl)
    pl.set_defaults(func=cmd_plan)

    de = sub.add_parser("demo", help="make the bundled example image and plan it end to end (no server needed)")
    de.add_argument("--out", default="orthoplan-demo", metavar="DIR",
                    help="folder for the example image, the plan and the folder archive (default orthoplan-demo)")
    de.add_argument("--seed", type=int, default=7, help="the example's random seed (default 7)")
    de.add_argument("--archive", metavar="URL", help="default: a folder archive inside --out")
    de.add_argument("--exact-landmarks", action="store_true",
                    help="use the example's true landmarks instead of detecting them")
    de.add_argument("--side", choices=("left", "right"), type=_lower, default="left", help="the hip to template (default left)")
    de.set_defaults(func=cmd_demo)

    ps = sub.add_parser("plans", help="list the plans of a study in an archive")
    ps.add_argument("--archive", required=True, metavar="URL",
                    help="the archive (folder://PATH, http(s)://…/dicom-web, dicom://AET@HOST:PORT)")
    ps.add_argument("--study", required=True, metavar="UID", help="the Study Instance UID of the image's study")
    ps.add_argument("--plan", metavar="PLAN_UID", help="only this plan (when the study has several)")
    ps.add_argument("--open", action="store_true", help="read back the latest revision and show it (JSON with --json)")
    ps.add_argument("--json", action="store_true", help=_JSON_HELP)
    ps.set_defaults(func=cmd_plans)

    ar = sub.add_parser("archive", help="archive maintenance")
    arsub = ar.add_subparsers(dest="archive_command", required=True, metavar="ACTION")
    fl = arsub.add_parser("flush", help="retry storing every plan waiting in the outbox")
    fl.add_argument("--outbox", metavar="DIR", help="default: $ORTHOPLAN_OUTBOX or ~/.local/share/orthoplan/outbox")
    fl.add_argument("--json", action="store_true", help=_JSON_HELP)
    fl.set_defaults(func=cmd_archive_flush)
    _add_batch_parsers(sub)
    _add_templating_parsers(sub)
    _add_train_parser(sub)
    return p


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file (tests capture it): nothing to flush
        pass


def _orthoplan_records(record: logging.LogRecord) -> bool:
    """Pass orthoplan's own log records (the filter of the terminal handler without ``-v``)."""
    return record.name == "orthoplan" or record.name.startswith("orthoplan.")


def configure_logging(verbose: int) -> None:
    """Log to the terminal (stderr): orthoplan's warnings, more with ``-v``/``-vv``.

    Third-party loggers (pydicom, Pillow, the decoders...) and Python warnings reach the
    terminal only with ``-v``: without it, a damaged file gives the user one line of
    orthoplan's, not pydicom's warnings or a decoder's logged traceback. Nothing is
    changed when the logging is already configured (an application, a test runner).

    Examples
    --------
    >>> configure_logging(0)       # doctest: +SKIP
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(max(verbose, 0), 2)]
    root = logging.getLogger()
    if root.handlers:
        return
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # warnings.warn (pydicom, Pillow) as records of "py.warnings"
    if verbose <= 0:
        for handler in root.handlers:
            handler.addFilter(_orthoplan_records)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # `orthoplan … | head`: the reader has what it wanted
        _silence_stdout()
        return 141
    except OrthoplanError as exc:
        sys.stderr.write(f"orthoplan: error: {exc}\n")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        sys.stderr.write("orthoplan: interrupted\n")
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback in the debug log
        log.debug("internal error", exc_info=True)
        sys.stderr.write(f"orthoplan: internal error ({type(exc).__name__}): {exc}; rerun with -vv for details\n")
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
