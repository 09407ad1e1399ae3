"""The ``orthoplan`` command.

Every sub-command is a thin face over the library: it parses arguments, calls
:mod:`orthoplan.pipeline` (or a stage), and prints text or JSON. Errors are one line on
stderr and an exit code per error class (:data:`orthoplan.errors.EXIT_CODES`; 2 is a usage
error, 70 an internal error).

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
from typing import Any

from . import __version__
from .errors import LandmarkError, OrthoplanError, exit_code_for

log = logging.getLogger("orthoplan")


# --------------------------------------------------------------------------- helpers


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, allow_nan=False) + "\n")


def _add_calibration_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("calibration")
    g.add_argument("--ball-mm", type=float, default=25.0, metavar="MM",
                   help="diameter of the calibration ball to look for (default 25 mm)")
    g.add_argument("--no-ball", action="store_true", help="do not look for a calibration ball")
    g.add_argument("--known-length", nargs=5, type=float, metavar=("X1", "Y1", "X2", "Y2", "MM"),
                   help="two image points (pixels) and the true distance between them in mm")
    g.add_argument("--assume-magnification", type=float, metavar="M",
                   help="opt in to an assumed magnification (e.g. 1.15) when nothing else calibrates; "
                        "flagged as assumed in the plan, report and picture")
    g.add_argument("--spacing", type=float, metavar="MM",
                   help="pixel spacing in mm at the anatomy, for PNG/TIFF input")


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
    )


def _read_landmarks(path: str):
    from .model import Landmarks

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise LandmarkError(f"landmark file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LandmarkError(f"landmark file {path} is not valid JSON: {exc}") from None
    return Landmarks.from_dict(data)


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
        "measurements": {m.name: {"value": m.value, "unit": m.unit, **({"notes": list(m.notes)} if m.notes else {})} for m in ms},
        "missing": dict(ms.missing),
    }


def _print_measurements(cal, ms) -> None:
    print(f"calibration: {cal.label}")
    for w in cal.warnings:
        print(f"  warning: {w}")
    for m in ms:
        unit = "°" if m.unit == "deg" else " mm"
        print(f"{m.name:32s} {m.value:9.2f}{unit}")
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
    cal = _calibrate(args, rad)
    plan = plan_radiograph(rad, calibration=cal, landmarks=lms)
    if args.json:
        _print_json({"calibration": _calibration_summary(cal), **_measurements_json(plan.measurements)})
    else:
        _print_measurements(cal, plan.measurements)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from .pipeline import detect_landmarks

    rad = _load(args)
    try:
        cal = _calibrate(args, rad)
    except OrthoplanError as exc:  # detection can run on pixel ranges alone
        log.warning("detecting without calibration: %s", exc)
        cal = None
    lms = detect_landmarks(rad, cal)
    if args.json:
        _print_json(lms.to_dict())
    else:
        for lm in lms:
            extra = f" r={lm.radius_px:.1f}" if lm.radius_px else ""
            print(f"{lm.name.value:32s} x={lm.x:8.1f} y={lm.y:8.1f}{extra} confidence={lm.confidence:.2f}")
        for name, reason in lms.missing:
            print(f"{name.value:32s} absent: {reason}")
    return 0


def write_plan_outputs(rad, plan, out: Path, *, dicom: bool = True) -> dict[str, Path]:
    """Write plan.json, overlay.png and (for DICOM input) plan-sr.dcm and plan-gsps.dcm."""
    from .render import render_plan

    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    (out / "plan.json").write_text(plan.to_json())
    written["plan"] = out / "plan.json"
    render_plan(rad, plan, out / "overlay.png")
    written["overlay"] = out / "overlay.png"
    if dicom and rad.dataset is not None:
        from .dicom import build_gsps, build_sr
        from .overlay import plan_overlay

        sr = build_sr(plan, rad.dataset)
        gsps = build_gsps(plan, rad.dataset, plan_overlay(plan))
        sr.save_as(out / "plan-sr.dcm", enforce_file_format=True)
        gsps.save_as(out / "plan-gsps.dcm", enforce_file_format=True)
        written["sr"], written["gsps"] = out / "plan-sr.dcm", out / "plan-gsps.dcm"
    return written


def cmd_plan(args: argparse.Namespace) -> int:
    from .pipeline import plan_radiograph

    rad = _load_or_retrieve(args)
    lms = _read_landmarks(args.landmarks) if args.landmarks else None
    cal = _calibrate(args, rad)
    plan = plan_radiograph(rad, calibration=cal, landmarks=lms, author=args.author)
    out = Path(args.out)
    written = write_plan_outputs(rad, plan, out, dicom=not args.no_dicom)
    for kind, path in written.items():
        print(f"{kind:8s} {path}")
    if args.archive and "sr" in written:
        _store(args.archive, [written["sr"], written["gsps"]])
    _print_measurements(cal, plan.measurements)
    return 0


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


def _store(url: str, paths: list[Path]) -> None:
    import pydicom

    from .archive import open_archive
    from .archive.outbox import Outbox, store_or_queue

    datasets = [pydicom.dcmread(p) for p in paths]
    result = store_or_queue(open_archive(url), datasets, Outbox.default())
    print(f"stored   {len(datasets)} objects in {result}")


def cmd_demo(args: argparse.Namespace) -> int:
    """Make the bundled example (synthetic AP pelvis with a 25 mm ball) and plan it end to end."""
    from . import synthetic
    from .pipeline import load_radiograph, plan_radiograph

    out = Path(args.out)
    case = synthetic.make_pelvis(seed=args.seed)
    files = synthetic.write_case(case, out / "example")
    print(f"example  {files['image']}  (true scale {case.mm_per_px:.5f} mm/px)")
    rad = load_radiograph(files["image"])
    from .calibration import calibrate

    cal = calibrate(rad, ball_diameter_mm=25.0)
    err = 100 * (cal.mm_per_px / case.mm_per_px - 1)
    print(f"calibrated {cal.label}  (error vs truth {err:+.2f}%)")
    lms = None if args.detect else _read_landmarks(str(files["landmarks"]))
    plan = plan_radiograph(rad, calibration=cal, landmarks=lms, author="orthoplan demo")
    written = write_plan_outputs(rad, plan, out / "plan")
    for kind, path in written.items():
        print(f"{kind:8s} {path}")
    if "sr" in written:
        url = args.archive or "folder://" + str((out / "archive").resolve())
        _store(url, [written["sr"], written["gsps"]])
    _print_measurements(cal, plan.measurements)
    return 0


def cmd_plans(args: argparse.Namespace) -> int:
    from .archive import open_archive
    from .dicom.sr import list_plans

    archive = open_archive(args.archive)
    plans = list_plans(archive, args.study)
    if args.json:
        _print_json(plans)
    else:
        for p in plans:
            print("  ".join(f"{k}={v}" for k, v in p.items()))
    return 0


def cmd_archive_flush(args: argparse.Namespace) -> int:
    from .archive import open_archive
    from .archive.outbox import Outbox, flush

    outbox = Outbox(args.outbox) if args.outbox else Outbox.default()
    report = flush(outbox, open_archive=open_archive)
    print(report)
    return 0 if not getattr(report, "failed", None) else exit_code_for(OrthoplanError())


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="orthoplan", description="Orthopaedic planning and templating on radiographs.")
    p.add_argument("--version", action="version", version=f"orthoplan {__version__}")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("calibrate", help="print the image's calibration (scale, source, uncertainty)")
    c.add_argument("image")
    _add_calibration_args(c)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_calibrate)

    m = sub.add_parser("measure", help="measure the hip from landmarks given in a JSON file")
    m.add_argument("image")
    m.add_argument("--landmarks", required=True, metavar="FILE.json",
                   help='{"landmarks": {"teardrop_left": [x, y], ...}} in image pixels (DICOM origin)')
    _add_calibration_args(m)
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_measure)

    d = sub.add_parser("detect", help="detect the landmarks automatically")
    d.add_argument("image")
    _add_calibration_args(d)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_detect)

    pl = sub.add_parser("plan", help="calibrate, detect/read landmarks, measure; write plan.json, overlay.png, SR, GSPS")
    pl.add_argument("image", help="image file, or a SOP Instance UID with --archive")
    pl.add_argument("--landmarks", metavar="FILE.json")
    pl.add_argument("--out", required=True, metavar="DIR")
    pl.add_argument("--archive", metavar="URL", help="store the SR and GSPS there (folder://, http(s)://…/dicom-web, dicom://AET@HOST:PORT)")
    pl.add_argument("--author", help="name of the planning person (goes into the plan and the SR)")
    pl.add_argument("--no-dicom", action="store_true", help="write only plan.json and overlay.png")
    _add_calibration_args(pl)
    pl.set_defaults(func=cmd_plan)

    de = sub.add_parser("demo", help="make the bundled example image and plan it end to end (no server needed)")
    de.add_argument("--out", default="orthoplan-demo", metavar="DIR")
    de.add_argument("--seed", type=int, default=7)
    de.add_argument("--archive", metavar="URL", help="default: a folder archive inside --out")
    de.add_argument("--detect", action="store_true", help="detect landmarks instead of using the example's")
    de.set_defaults(func=cmd_demo)

    ps = sub.add_parser("plans", help="list the plans of a study in an archive")
    ps.add_argument("--archive", required=True, metavar="URL")
    ps.add_argument("--study", required=True, metavar="UID")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_plans)

    ar = sub.add_parser("archive", help="archive maintenance")
    arsub = ar.add_subparsers(dest="archive_command", required=True, metavar="ACTION")
    fl = arsub.add_parser("flush", help="retry storing every plan waiting in the outbox")
    fl.add_argument("--outbox", metavar="DIR")
    fl.set_defaults(func=cmd_archive_flush)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
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
