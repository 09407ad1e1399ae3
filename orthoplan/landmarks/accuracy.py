"""Accuracy of the landmark detector: ``python -m orthoplan.landmarks.accuracy``.

Runs :func:`orthoplan.landmarks.detect` on ``N`` synthetic AP pelves of varied anatomy,
pose, exposure, noise, photometric interpretation, collimation, gonadal shield,
calibration-ball position and prosthesis (:func:`synthetic_variants`), compares with the
truth by construction, and prints per landmark the detection rate, the mean and
95th-percentile radial error in mm, the number of confident misses (confidence ≥ 0.8 and
more than 5 mm from the truth) and the head-radius error. With ``--real`` it adds the
real hip CR of ``../shared/data/real`` against the reference head circle documented in
``tests/landmarks/test_real.py``.

With ``--knee-ap`` / ``--knee-lateral`` it runs :func:`orthoplan.landmarks.knee.detect_knee`
on ``N`` synthetic AP or lateral knees (:func:`knee_variants`) and adds the error of every
knee measurement from the detected landmarks (:func:`evaluate_knee`).

With ``--long-leg`` it runs :func:`orthoplan.landmarks.detect_long_leg` on ``N`` synthetic
standing long legs (:func:`limb_variants`: every deformity preset, both photometric
interpretations, both image orientations, noise) and adds the HKA error from the detected
landmarks (:func:`evaluate_long_leg`).

Examples
--------
>>> v = synthetic_variants(5)
>>> [kw["seed"] for kw in v], v[1]["photometric"], v[4]["implant_side"]
([0, 1, 2, 3, 4], 'MONOCHROME1', 'left')
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..model import LandmarkName, Side

log = logging.getLogger(__name__)

#: Small images keep the benchmark quick; the detector works at ~1 mm/px anyway.
SMALL = dict(rows=1000, columns=1200, detector_spacing_mm=0.38)

#: Reference circle of the femoral head (patient's left) in ``hip_cr_rg2.dcm``, full
#: resolution pixels: see tests/landmarks/test_real.py for how it was made.
REAL_HEAD_REFERENCE = {"file": "hip_cr_rg2.dcm", "side": "left"}


def synthetic_variants(n: int, start: int = 0) -> list[dict]:
    """``make_pelvis`` keyword sets for ``n`` varied cases (deterministic per index).

    Anatomy and pose come from the seed; every case also varies noise, exposure
    (photometric interpretation), and in turn collimation, a gonadal shield, the
    calibration ball over bone, and a prosthesis on one side (every 5th case).
    """
    out = []
    for i in range(start, start + n):
        kw: dict = dict(seed=i, **SMALL)
        kw["photometric"] = "MONOCHROME1" if i % 2 else "MONOCHROME2"
        kw["noise"] = (0.5, 1.0, 2.0)[i % 3]
        kw["collimation"] = i % 4 == 1
        kw["gonadal_shield"] = i % 4 == 2
        kw["ball_position"] = "bone" if i % 6 == 3 else "thigh"
        kw["ball_side"] = "left" if i % 7 < 3 else "right"
        if i % 5 == 4:
            kw["implant_side"] = "left" if i % 10 == 4 else "right"
        out.append(kw)
    return out


@dataclass
class Tally:
    """Errors of one landmark over the cases."""

    expected: int = 0
    errors: list[float] = field(default_factory=list)
    confident_misses: int = 0

    def row(self) -> dict:
        e = np.asarray(self.errors)
        return {
            "n": self.expected,
            "rate": len(e) / self.expected if self.expected else float("nan"),
            "mean_mm": float(e.mean()) if len(e) else float("nan"),
            "p95_mm": float(np.percentile(e, 95)) if len(e) else float("nan"),
            "max_mm": float(e.max()) if len(e) else float("nan"),
            "confident_misses": self.confident_misses,
        }


def _score(t: Tally, truth, lms, mm_per_px: float, seed: int):
    """Count one expected landmark in ``t``: missing, or its radial error (and confident miss)."""
    t.expected += 1
    lm = lms.get(truth.name)
    if lm is None:
        log.info("seed %s: %s missing: %s", seed, truth.name.value, lms.missing_reason(truth.name))
        return None
    err = float(np.hypot(lm.x - truth.x, lm.y - truth.y) * mm_per_px)
    t.errors.append(err)
    if lm.confidence >= 0.8 and err > 5.0:
        t.confident_misses += 1
    if err > 5.0:
        log.info("seed %s: %s off by %.1f mm (confidence %.2f)", seed, truth.name.value, err, lm.confidence)
    return lm


def evaluate(n: int = 40, start: int = 0) -> dict:
    """Run the detector on ``n`` synthetic variants; per-anatomy statistics and timings."""
    from ..phantoms import pelvis as phantom
    from ..pipeline import load_radiograph
    from . import detect

    tallies: dict[str, Tally] = {}
    radius_err: list[float] = []
    times = []
    for kw in synthetic_variants(n, start):
        case = phantom.make_pelvis(**kw)
        rad = load_radiograph(case.dataset)
        t0 = time.perf_counter()
        lms = detect(rad)
        times.append(time.perf_counter() - t0)
        for truth in case.landmarks:
            anatomy = truth.name.anatomy
            if kw.get("implant_side") == truth.name.side.value and anatomy in (
                "femoral_neck_center", "acetabular_lateral_edge", "sourcil_medial"
            ):
                continue  # replaced by the implant: reported missing by design
            lm = _score(tallies.setdefault(anatomy, Tally()), truth, lms, case.mm_per_px, kw["seed"])
            if lm is None:
                continue
            if truth.radius_px and lm.radius_px and kw.get("implant_side") != truth.name.side.value:
                radius_err.append(abs(lm.radius_px - truth.radius_px) * case.mm_per_px)
    rows = {k: tallies[k].row() for k in _order(tallies)}
    return {"cases": n, "rows": rows, "head_radius_mean_mm": float(np.mean(radius_err)) if radius_err else None,
            "head_radius_p95_mm": float(np.percentile(radius_err, 95)) if radius_err else None,
            "median_time_s": float(np.median(times))}


def _order(tallies) -> list[str]:
    seen = []
    for name in LandmarkName:
        if name.anatomy in tallies and name.anatomy not in seen:
            seen.append(name.anatomy)
    return seen


def evaluate_real(data_dir: Path) -> dict:
    """The real hip CR: head circle found vs the reference circle (mm), and the other side."""
    from ..pipeline import load_radiograph
    from . import detect

    ref = real_head_reference()
    out = {}
    for fname in ("hip_cr_rg2.dcm", "hip_cr_rg2_j2k.dcm"):
        path = data_dir / fname
        if not path.exists():
            continue
        rad = load_radiograph(str(path))
        mm = float(rad.spacing.pixel_spacing_mm[1])
        lms = detect(rad)
        head = lms.get(LandmarkName.of("femoral_head_center", ref["side"]))
        other = lms.get(LandmarkName.of("femoral_head_center", Side(ref["side"]).other))
        out[fname] = {
            "found": head is not None,
            "centre_error_mm": float(np.hypot(head.x - ref["x"], head.y - ref["y"]) * mm) if head else None,
            "radius_error_mm": float(abs(head.radius_px - ref["r"]) * mm) if head else None,
            "confidence": head.confidence if head else None,
            "other_side_reported": other is not None,
            "landmarks_found": len(lms),
            "landmarks": evaluate_real_landmarks(rad),
        }
    return out


def real_head_reference() -> dict:
    """The reference head circle of the real CR (see tests/landmarks/test_real.py)."""
    from ..geometry import fit_circle

    pts = np.asarray(REAL_HEAD_RIM_POINTS, dtype=float)
    cx, cy, r, rms = fit_circle(pts)
    return {"x": cx, "y": cy, "r": r, "rms": rms, "side": REAL_HEAD_REFERENCE["side"]}


#: Rim points of the femoral head in hip_cr_rg2.dcm, full-resolution (x, y) pixels, read
#: by eye off zoomed PNG crops (procedure in tests/landmarks/test_real.py).
REAL_HEAD_RIM_POINTS: list[tuple[float, float]] = [
    (764.2, 850.0), (764.6, 875.0), (765.8, 900.0),  # medial rim
    (870.0, 736.0), (900.0, 735.0),  # superior rim, below the joint space
    (987.0, 760.0), (997.5, 770.0), (1024.0, 800.0), (1039.0, 820.0), (1040.0, 840.0),  # lateral rim
]

#: Reference positions of the other landmarks that are clearly visible in hip_cr_rg2.dcm
#: (patient's left): ``name: (x, y, reading uncertainty)``, full-resolution pixels, read by
#: eye off zoomed PNG crops (procedure in tests/landmarks/test_real.py).
REAL_LANDMARK_POINTS: dict[str, tuple[float, float, float]] = {
    "ischial_tuberosity_left": (667.0, 1244.5, 10.0),  # flat bottom: ±3 px up/down, ±10 px along
    "teardrop_left": (742.0, 961.0, 8.0),  # where the two limbs of the U meet
    "acetabular_lateral_edge_left": (991.0, 712.0, 4.0),  # lateral end of the sourcil/roof
    "sourcil_medial_left": (800.0, 744.0, 10.0),  # the dense line fades out
}

#: The femoral shaft's two outer borders read on three image columns:
#: ``(x, y of the lateral (upper) border, y of the medial (lower) border)``, pixels (±3 px).
#: Their midpoints define the reference shaft axis (:func:`real_shaft_axis`).
REAL_SHAFT_BORDERS: list[tuple[float, float, float]] = [
    (1250.0, 1087.0, 1271.0), (1320.0, 1136.5, 1331.25), (1390.0, 1185.75, 1384.75),
]


def real_shaft_axis() -> tuple[np.ndarray, np.ndarray]:
    """Point and unit direction (distal) of the reference shaft axis of the real CR: the
    least-squares line through the midpoints of :data:`REAL_SHAFT_BORDERS`."""
    mids = np.array([(x, 0.5 * (a + b)) for x, a, b in REAL_SHAFT_BORDERS])
    c = mids.mean(axis=0)
    _, _, vt = np.linalg.svd(mids - c)
    d = vt[0] if vt[0][1] > 0 else -vt[0]
    return c, d / np.linalg.norm(d)


def evaluate_real_landmarks(radiograph) -> dict:
    """The detected landmarks of the real CR against :data:`REAL_LANDMARK_POINTS` (mm) and the
    shaft points against the reference axis (distance across it, mm; axis angle, degrees)."""
    from . import detect

    mm = float(radiograph.spacing.pixel_spacing_mm[1])
    lms = detect(radiograph)
    out: dict = {}
    for name, (x, y, unc) in REAL_LANDMARK_POINTS.items():
        lm = lms.get(name)
        out[name] = {"reference": (x, y), "uncertainty_mm": unc * mm, "found": lm is not None,
                     "error_mm": float(np.hypot(lm.x - x, lm.y - y) * mm) if lm else None,
                     "confidence": lm.confidence if lm else None,
                     "reason": None if lm else lms.missing_reason(name)}
    c, d = real_shaft_axis()
    n = np.array([-d[1], d[0]])
    pts = [lms.get(f"femoral_shaft_{k}_left") for k in ("proximal", "distal")]
    for k, lm in zip(("femoral_shaft_proximal_left", "femoral_shaft_distal_left"), pts):
        out[k] = {"found": lm is not None, "confidence": lm.confidence if lm else None,
                  "across_axis_mm": float(abs((np.array([lm.x, lm.y]) - c) @ n) * mm) if lm else None}
    if all(pts):
        v = np.array([pts[1].x - pts[0].x, pts[1].y - pts[0].y])
        out["shaft_axis_angle_deg"] = float(np.degrees(np.arccos(abs(v @ d) / np.linalg.norm(v))))
    return out


def _landmark_table(rows: dict) -> list[str]:
    """Markdown rows of the per-landmark table (detection rate, errors, confident misses)."""
    out = ["| landmark | n | detected | mean error (mm) | 95th pct (mm) | max (mm) | confident misses |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for k, r in rows.items():
        out.append(f"| `{k}` | {r['n']} | {100 * r['rate']:.0f} % | {r['mean_mm']:.2f} | {r['p95_mm']:.2f} | "
                   f"{r['max_mm']:.2f} | {r['confident_misses']} |")
    return out


def markdown(result: dict, real: dict | None = None) -> str:
    """The result as a markdown table (docs/accuracy.md)."""
    lines = [
        f"Synthetic cases: {result['cases']} (`synthetic_variants`), detection median "
        f"{result['median_time_s'] * 1000:.0f} ms per 1000×1200 image.",
        "",
        *_landmark_table(result["rows"]),
    ]
    if result.get("head_radius_mean_mm") is not None:
        lines += ["", f"Femoral head radius error (native heads): mean {result['head_radius_mean_mm']:.2f} mm, "
                      f"95th percentile {result['head_radius_p95_mm']:.2f} mm."]
    if real:
        lines += ["", "| real image | head found | centre error (mm) | radius error (mm) | confidence | other hip claimed |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for f, r in real.items():
            if r["found"]:
                lines.append(f"| `{f}` | yes | {r['centre_error_mm']:.2f} | {r['radius_error_mm']:.2f} | "
                             f"{r['confidence']:.2f} | {'yes' if r['other_side_reported'] else 'no'} |")
            else:
                lines.append(f"| `{f}` | no | – | – | – | {'yes' if r['other_side_reported'] else 'no'} |")
    if real and "landmarks" in next(iter(real.values())):
        rl = next(iter(real.values()))["landmarks"]
        lines += ["", "| `hip_cr_rg2.dcm` landmark | reference ± reading (mm) | detected | error (mm) | confidence |",
                  "| --- | --- | --- | --- | --- |"]
        for k, r in rl.items():
            if not isinstance(r, dict):
                continue
            if "reference" in r:
                ref = f"({r['reference'][0]:.0f}, {r['reference'][1]:.0f}) ± {r['uncertainty_mm']:.1f}"
                got = (f"yes | {r['error_mm']:.2f} | {r['confidence']:.2f}" if r["found"]
                       else f"no ({r['reason']}) | – | –")
            elif k.startswith("femoral_shaft"):
                ref = "on the reference axis"
                got = (f"yes | {r['across_axis_mm']:.2f} across the axis | {r['confidence']:.2f}" if r["found"]
                       else "no | – | –")
            lines.append(f"| `{k}` | {ref} | {got} |")
        if "shaft_axis_angle_deg" in rl:
            lines += ["", "Shaft axis (proximal → distal point) vs the reference axis: "
                          f"{rl['shaft_axis_angle_deg']:.1f}°."]
    return "\n".join(lines)


#: Long-leg cases: 1950 x 720 pixels at 0.6 mm (0.57 mm/px at the anatomy); the detector
#: works on a ~0.5 mm working image, so the error hardly depends on the pitch.
LIMB_SMALL = dict(rows=1950, columns=720, detector_spacing_mm=0.6)

#: The deformity presets the long-leg cases cycle through (right leg; the left is shifted by 3).
LIMB_KINDS = ("neutral", "femoral_varus", "tibial_varus", "joint_line_varus", "combined_varus",
              "femoral_valgus", "tibial_valgus", "joint_line_valgus")


def limb_variants(n: int, start: int = 0) -> list[dict]:
    """``make_long_leg`` keyword sets (plus ``right``/``left`` presets) for ``n`` varied cases.

    >>> v = limb_variants(3)
    >>> [(k["right"], k["left"], k["photometric"]) for k in v][:2]
    [('neutral', 'joint_line_varus', 'MONOCHROME2'), ('femoral_varus', 'combined_varus', 'MONOCHROME1')]
    """
    out = []
    for i in range(start, start + n):
        kw: dict = dict(seed=i, **LIMB_SMALL)
        kw["right"], kw["left"] = LIMB_KINDS[i % 8], LIMB_KINDS[(i + 3) % 8]
        kw["photometric"] = "MONOCHROME1" if i % 2 else "MONOCHROME2"
        kw["patient_left_x"] = -1 if i % 3 == 2 else 1
        kw["noise"] = (0.5, 1.0, 2.0)[i % 3]
        out.append(kw)
    return out


def make_limb_case(kw: dict):
    """The synthetic long leg of one :func:`limb_variants` entry."""
    from ..phantoms.limb import LimbParams, make_long_leg

    kw = dict(kw)
    params = LimbParams.random(np.random.default_rng(kw["seed"]), kw.pop("right"), kw.pop("left"))
    return make_long_leg(params, **kw)


def evaluate_long_leg(n: int = 40, start: int = 0) -> dict:
    """Run the long-leg detector on ``n`` synthetic long legs: per-anatomy statistics, the HKA
    error from detected landmarks (per leg where HKA could be measured) and timings."""
    from ..calibration import calibrate
    from ..measurements import measure_lower_limb
    from ..pipeline import load_radiograph
    from .limb import LONG_LEG_DETECTED, detect_long_leg

    tallies: dict[str, Tally] = {}
    hka_err: list[float] = []
    hka_n = 0
    times = []
    for kw in limb_variants(n, start):
        case = make_limb_case(kw)
        rad = load_radiograph(case.dataset)
        cal = calibrate(rad)
        t0 = time.perf_counter()
        lms = detect_long_leg(rad, cal)
        times.append(time.perf_counter() - t0)
        for truth in case.landmarks:
            anatomy = truth.name.anatomy
            if anatomy not in LONG_LEG_DETECTED:
                continue
            lm = _score(tallies.setdefault(anatomy, Tally()), truth, lms, case.mm_per_px, kw["seed"])
            if lm is None:
                continue
        ms = measure_lower_limb(lms, cal, rad.orientation)
        for side in ("right", "left"):
            hka_n += 1
            m = ms.get(f"hka_{side}_deg")
            if m is not None:
                hka_err.append(abs(m.value - case.measurements[f"hka_{side}_deg"]))
    rows = {k: tallies[k].row() for k in _order(tallies)}
    e = np.asarray(hka_err)
    return {"cases": n, "rows": rows, "median_time_s": float(np.median(times)),
            "hka": {"legs": hka_n, "measured": len(e), "mean_deg": float(e.mean()) if len(e) else None,
                    "p95_deg": float(np.percentile(e, 95)) if len(e) else None,
                    "max_deg": float(e.max()) if len(e) else None,
                    "within_1deg": int((e <= 1.0).sum())}}


def markdown_long_leg(result: dict) -> str:
    """The long-leg result as a markdown table (docs/accuracy.md)."""
    lines = [
        f"Synthetic long legs: {result['cases']} (`limb_variants`), detection median "
        f"{result['median_time_s'] * 1000:.0f} ms per 1950×720 image.",
        "",
        *_landmark_table(result["rows"]),
    ]
    h = result["hka"]
    if h["measured"]:
        lines += ["", f"HKA from detected landmarks: measured on {h['measured']} of {h['legs']} legs; error mean "
                      f"{h['mean_deg']:.2f}°, 95th percentile {h['p95_deg']:.2f}°, max {h['max_deg']:.2f}°; "
                      f"{h['within_1deg']} of {h['measured']} within 1°."]
    return "\n".join(lines)


#: Knee cases: 950 x 700 pixels at 0.4 mm (0.36 mm/px at the anatomy, a 345 x 255 mm field).
KNEE_SMALL = dict(rows=950, columns=700, detector_spacing_mm=0.4)
#: The measurement errors reported per knee view (degrees or mm, as the name says).
KNEE_MEASUREMENTS = {
    "knee-ap": ("aldfa", "ampta", "jlca", "fta", "femoral_condylar_width", "tibial_plateau_width"),
    "knee-lateral": ("posterior_tibial_slope", "femoral_ap_dimension", "posterior_condylar_offset"),
}


def knee_variants(n: int, view: str, start: int = 0) -> list[dict]:
    """``make_knee_ap``/``make_knee_lateral`` keyword sets for ``n`` varied cases: anatomy and
    pose from the seed, both sides, both photometric interpretations, both image
    orientations, noise 0.5-2.

    >>> [(k["side"], k["photometric"]) for k in knee_variants(2, "knee-ap")]
    [('right', 'MONOCHROME2'), ('left', 'MONOCHROME1')]
    """
    out = []
    for i in range(start, start + n):
        kw: dict = dict(seed=i, **KNEE_SMALL)
        kw["side"] = "right" if i % 2 == 0 else "left"
        kw["photometric"] = "MONOCHROME1" if i % 2 else "MONOCHROME2"
        kw["noise"] = (0.5, 1.0, 2.0)[i % 3]
        if view == "knee-ap":
            kw["patient_left_x"] = -1 if i % 4 >= 2 else 1
        else:
            kw["anterior_x"] = -1 if i % 4 >= 2 else 1
        out.append(kw)
    return out


def evaluate_knee(view: str, n: int = 40, start: int = 0) -> dict:
    """Run the knee detector (:func:`orthoplan.landmarks.knee.detect_knee`) on ``n`` synthetic
    knees of ``view`` after the calibration the pipeline would make (the ball): per-anatomy
    statistics, the error of every knee measurement from the detected landmarks, and timings.
    The AP view is detected without a side (taken from the fibula); the lateral with it."""
    from ..calibration import calibrate
    from ..measurements import measure_knee
    from ..pipeline import load_radiograph
    from ..phantoms.knee import make_knee_ap, make_knee_lateral
    from .knee import KNEE_AP_DETECTED, KNEE_LATERAL_DETECTED, detect_knee

    make = make_knee_ap if view == "knee-ap" else make_knee_lateral
    detected = KNEE_AP_DETECTED if view == "knee-ap" else KNEE_LATERAL_DETECTED
    tallies: dict[str, Tally] = {}
    errs: dict[str, list[float]] = {m: [] for m in KNEE_MEASUREMENTS[view]}
    times = []
    for kw in knee_variants(n, view, start):
        case = make(**kw)
        rad = load_radiograph(case.dataset)
        cal = calibrate(rad)
        t0 = time.perf_counter()
        lms = detect_knee(rad, cal, view=view, side=None if view == "knee-ap" else case.side)
        times.append(time.perf_counter() - t0)
        for truth in case.landmarks:
            if truth.name.anatomy in detected:
                _score(tallies.setdefault(truth.name.anatomy, Tally()), truth, lms, case.mm_per_px, kw["seed"])
        ms = measure_knee(lms, cal, rad.orientation, view=view, sides=(case.side,))
        for m in KNEE_MEASUREMENTS[view]:
            name = next(k for k in case.measurements if k.startswith(m + "_" + case.side.value))
            got = ms.get(name)
            if got is not None:
                errs[m].append(abs(got.value - case.measurements[name]))
    rows = {k: tallies[k].row() for k in _order(tallies)}
    meas = {}
    for m, e in errs.items():
        a = np.asarray(e)
        meas[m] = {"measured": len(a), "mean": float(a.mean()) if len(a) else None,
                   "p95": float(np.percentile(a, 95)) if len(a) else None, "max": float(a.max()) if len(a) else None}
    return {"view": view, "cases": n, "rows": rows, "measurements": meas, "median_time_s": float(np.median(times))}


def markdown_knee(result: dict) -> str:
    """The knee result as markdown tables (docs/accuracy.md)."""
    lines = [
        f"Synthetic {result['view']} knees: {result['cases']} (`knee_variants`), detection median "
        f"{result['median_time_s'] * 1000:.0f} ms per 950×700 image.",
        "",
        *_landmark_table(result["rows"]),
    ]
    lines += ["", "| measurement from detected landmarks | measured | mean error | 95th pct | max |",
              "| --- | --- | --- | --- | --- |"]
    for m, r in result["measurements"].items():
        unit = "mm" if m in ("femoral_condylar_width", "tibial_plateau_width", "femoral_ap_dimension",
                             "posterior_condylar_offset") else "°"
        if r["measured"]:
            lines.append(f"| `{m}` ({unit}) | {r['measured']} of {result['cases']} | {r['mean']:.2f} | "
                         f"{r['p95']:.2f} | {r['max']:.2f} |")
        else:
            lines.append(f"| `{m}` ({unit}) | 0 of {result['cases']} | – | – | – |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m orthoplan.landmarks.accuracy", description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=40, help="number of synthetic cases (default 40)")
    ap.add_argument("--start", type=int, default=0, help="first seed")
    ap.add_argument("--real", metavar="DIR", help="folder with hip_cr_rg2.dcm (e.g. ../shared/data/real)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every miss")
    ap.add_argument("--long-leg", action="store_true", help="the standing AP long-leg detector instead")
    ap.add_argument("--knee-ap", action="store_true", help="the AP knee detector instead")
    ap.add_argument("--knee-lateral", action="store_true", help="the lateral knee detector instead")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    if args.knee_ap or args.knee_lateral:
        for view, wanted in (("knee-ap", args.knee_ap), ("knee-lateral", args.knee_lateral)):
            if wanted:
                res = evaluate_knee(view, args.n, args.start)
                print(json.dumps(res, indent=2) if args.json else markdown_knee(res) + "\n")
        return 0
    if args.long_leg:
        res = evaluate_long_leg(args.n, args.start)
        print(json.dumps(res, indent=2) if args.json else markdown_long_leg(res))
        return 0
    res = evaluate(args.n, args.start)
    real = evaluate_real(Path(args.real)) if args.real else None
    if args.json:
        print(json.dumps({"synthetic": res, "real": real}, indent=2))
    else:
        print(markdown(res, real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
