#!/usr/bin/env python3
"""Coverage of the calibration's stated 95 % interval on phantom AP pelvises, per kind of ball.

Each case is a synthetic AP pelvis (:func:`orthoplan.phantoms.pelvis.make_pelvis`, 800 x 960 px,
0.375 mm detector, ``ImagerPixelSpacing`` only, so the ball is the only way to a scale) with a
random anatomy, magnification ``M`` ~ U(1.08, 1.28) at the hip, a ball ``dz`` ~ N(0, 30 mm)
above or below the hip's plane (its own magnification ``SID / (SID / M - dz)``, SID 1150 mm),
random noise, side, photometric interpretation and ball position. The truth is the hip's
scale (detector spacing / M); ``orthoplan.calibration.calibrate`` states a scale and a ±U %
interval, or refuses. Kinds:

* ``steel``: an opaque steel ball (beside the thigh, over the iliac wing or between the thighs);
* ``weak``: a weakly attenuating ball (brightness follows the chord length: brightest at the centre);
* ``edge-cut``: a ball (steel or weak) cut by the film's edge (10-45 % of its diameter off the film);
* ``soft-tissue``: a ball (steel or weak) over the soft tissue between the thighs;
* ``round-shadow``: a ball (steel or weak) beside a flat round bone shadow of 15-40 mm.

Printed per kind: n, how many were calibrated, refused, warned as ambiguous; the median and
95th percentile of the absolute scale error; the coverage (share of calibrated cases whose
interval holds the truth) and the wrong-object count (the chosen circle is not the ball).

Usage (one core, a few minutes)::

    taskset -c 0 python3 scripts/calibration_coverage.py --cases 200 --seed 2026
    python3 scripts/calibration_coverage.py --cases 40 --kinds weak round-shadow --json out.json

``--calibration-file`` runs another version of ``orthoplan/calibration.py`` on the same
phantoms (a before/after comparison).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orthoplan import image  # noqa: E402
from orthoplan.errors import CalibrationError  # noqa: E402
from orthoplan.phantoms import pelvis  # noqa: E402

KINDS = ("steel", "weak", "edge-cut", "soft-tissue", "round-shadow")
SID_MM = 1150.0
ROWS, COLUMNS, DETECTOR_MM = 800, 960, 0.375

log = logging.getLogger("calibration_coverage")


def case_params(kind: str, rng: np.random.Generator) -> dict[str, Any]:
    """``make_pelvis`` keyword arguments of one random case of ``kind``.

    Examples
    --------
    >>> kw = case_params("weak", np.random.default_rng(0))
    >>> kw["ball_material"], kw["calibration_tags"]
    ('weak', 'imager')
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    m = float(rng.uniform(1.08, 1.28))
    dz = float(np.clip(rng.normal(0.0, 30.0), -90.0, 90.0))
    m_ball = SID_MM / (SID_MM / m - dz)
    kw: dict[str, Any] = dict(
        seed=int(rng.integers(0, 2**31 - 1)),
        rows=ROWS,
        columns=COLUMNS,
        detector_spacing_mm=DETECTOR_MM,
        magnification=m,
        ball_magnification=m_ball,
        ball_side=str(rng.choice(["left", "right"])),
        ball_position=str(rng.choice(["thigh", "bone", "soft"])),
        photometric=str(rng.choice(["MONOCHROME1", "MONOCHROME2"])),
        noise=float(rng.uniform(0.5, 1.5)),
        calibration_tags="imager",
        ball_material="steel",
    )
    if kind == "weak":
        kw["ball_material"] = "weak"
    elif kind == "edge-cut":
        kw["ball_material"] = str(rng.choice(["steel", "weak"]))
        kw["ball_position"] = "thigh"
        kw["ball_cut"] = float(rng.uniform(0.1, 0.45))
    elif kind == "soft-tissue":
        kw["ball_material"] = str(rng.choice(["steel", "weak"]))
        kw["ball_position"] = "soft"
    elif kind == "round-shadow":
        kw["ball_material"] = str(rng.choice(["steel", "weak"]))
        kw["round_shadow_mm"] = float(rng.uniform(15.0, 40.0))
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(40.0, 70.0)
        kw["round_shadow_offset_mm"] = (float(dist * np.cos(ang)), float(dist * np.sin(ang)))
    return kw


def run_case(kind: str, rng: np.random.Generator, calibration: ModuleType | None = None) -> dict[str, Any]:
    """Make one case of ``kind`` and calibrate it; the outcome as a dict (see :func:`summarise`)."""
    if calibration is None:
        from orthoplan import calibration
    kw = case_params(kind, rng)
    case = pelvis.make_pelvis(**kw)
    rad = image.from_dataset(case.dataset)
    truth = case.mm_per_px
    out: dict[str, Any] = {"kind": kind, "truth_mm_per_px": truth, "ball_magnification": kw["ball_magnification"],
                           "material": kw["ball_material"]}
    try:
        cal = calibration.calibrate(rad, ball_diameter_mm=25.0)
    except CalibrationError as exc:
        out.update(refused=True, reason=str(exc)[:200])
        return out
    lo, hi = cal.mm_per_px * (1 - cal.uncertainty_pct / 100), cal.mm_per_px * (1 + cal.uncertainty_pct / 100)
    centre = cal.details.get("center_xy")
    wrong = None
    if centre is not None and case.ball is not None:
        wrong = bool(math.hypot(centre[0] - case.ball["x"], centre[1] - case.ball["y"]) > 0.5 * case.ball["radius_px"])
    out.update(
        refused=False,
        source=cal.source.value,
        error_pct=100.0 * (cal.mm_per_px / truth - 1.0),
        # against the ball's own scale: what the detection measured, without the placement error
        ball_error_pct=100.0 * (cal.mm_per_px / (DETECTOR_MM / kw["ball_magnification"]) - 1.0),
        uncertainty_pct=cal.uncertainty_pct,
        covered=bool(lo <= truth <= hi),
        ambiguous=any("ambiguous" in w for w in cal.warnings),
        wrong_object=wrong,
    )
    return out


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """n, calibrated, refused, ambiguous, median / p95 |error| %, median ±U %, coverage, wrong objects."""
    cal = [r for r in rows if not r["refused"]]
    err = np.abs([r["error_pct"] for r in cal]) if cal else np.array([np.nan])
    return {
        "n": len(rows),
        "calibrated": len(cal),
        "refused": sum(r["refused"] for r in rows),
        "ambiguous": sum(bool(r.get("ambiguous")) for r in cal),
        "median_abs_error_pct": float(np.median(err)),
        "p95_abs_error_pct": float(np.percentile(err, 95)),
        "median_abs_ball_error_pct": float(np.median(np.abs([r["ball_error_pct"] for r in cal]))) if cal else float("nan"),
        "median_uncertainty_pct": float(np.median([r["uncertainty_pct"] for r in cal])) if cal else float("nan"),
        "coverage": (sum(r["covered"] for r in cal) / len(cal)) if cal else float("nan"),
        "wrong_object": sum(bool(r.get("wrong_object")) for r in cal),
    }


def coverage(kinds: Sequence[str], cases: int, seed: int, calibration: ModuleType | None = None) -> dict[str, dict[str, Any]]:
    """Run ``cases`` cases of each kind (seeded per kind) and summarise each kind.

    Examples
    --------
    >>> table = coverage(["steel"], 2, 1)          # doctest: +SKIP
    >>> table["steel"]["n"]                        # doctest: +SKIP
    2
    """
    table = {}
    for kind in kinds:
        i = KINDS.index(kind)  # a kind's cases do not depend on which other kinds run
        rng = np.random.default_rng([seed, i, i])
        rows = [run_case(kind, rng, calibration) for _ in range(cases)]
        table[kind] = {**summarise(rows), "rows": rows}
    return table


def _load_calibration(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("orthoplan._calibration_under_test", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "orthoplan"
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=200, help="cases per kind (default 200)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--json", metavar="FILE", help="write every case's outcome here")
    ap.add_argument("--calibration-file", metavar="PY", help="another orthoplan/calibration.py to measure")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    mod = _load_calibration(args.calibration_file) if args.calibration_file else None
    t0 = time.perf_counter()
    table = coverage(args.kinds, args.cases, args.seed, mod)
    print("| kind | n | calibrated | refused | ambiguity warnings | median abs error % | p95 abs error % "
          "| median abs error vs the ball's own scale % | median ±U % | coverage of the 95 % interval | wrong object |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for kind, s in table.items():
        print(f"| {kind} | {s['n']} | {s['calibrated']} | {s['refused']} | {s['ambiguous']} | "
              f"{s['median_abs_error_pct']:.2f} | {s['p95_abs_error_pct']:.2f} | {s['median_abs_ball_error_pct']:.2f} | "
              f"{s['median_uncertainty_pct']:.1f} | "
              f"{s['coverage']:.3f} | {s['wrong_object']} |")
    print(f"\n{sum(s['n'] for s in table.values())} cases in {time.perf_counter() - t0:.0f} s "
          f"(seed {args.seed}, {args.cases} per kind)")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
