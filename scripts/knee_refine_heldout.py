#!/usr/bin/env python3
"""The knee joint-line refinement (:mod:`orthoplan.landmarks.knee_refine`) started from the
learned detector's own held-out points.

    python scripts/knee_refine_heldout.py            # from the rows of scripts/train_knee.py

For every adult AP knee of the cross-validation rows (each film's points from the fold model that
never saw it), the condyles are refined as a pair and each plateau margin alone, with the
directions and the scale (80 mm over the detected epicondylar width) from the detection; the
distance to the reference reading before and after is printed per point (in mm at the reading's
plausible scale, 80 mm over its condylar width).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.image import load  # noqa: E402
from orthoplan.landmarks import crossval  # noqa: E402
from orthoplan.landmarks.knee_refine import refine_condyle_pair, refine_joint_point  # noqa: E402
from orthoplan.landmarks.references import load_references  # noqa: E402

JOINT = ("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial", "tibial_plateau_lateral")
EPICONDYLES = ("femoral_epicondyle_medial", "femoral_epicondyle_lateral")
WIDTH_MM = 80.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refs", default=str(REPO / "datasets" / "fracatlas-knee" / "references"))
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "real" / "fracatlas-knee"))
    ap.add_argument("--rows", default="/tmp/orthoplan-knee-cv/rows.json")
    a = ap.parse_args(argv)
    refs = {r.stem: r for r in load_references(a.refs)}
    det: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for r in crossval.rows_from_json(json.loads(Path(a.rows).read_text())):
        if refs[r.film].view == "knee-ap" and r.patient == "adult" and r.det_xy is not None:
            anatomy, side = r.name.rsplit("_", 1)
            det.setdefault((r.film, side), {})[anatomy] = np.array(r.det_xy)
    res: dict[str, list[tuple[float, float, bool]]] = {a: [] for a in JOINT}
    for (film, side), p in sorted(det.items()):
        ref = refs[film]
        width = crossval.condylar_width(ref, side)
        if not width or not all(k in p for k in JOINT + EPICONDYLES):
            continue
        display = np.asarray(load(Path(a.root) / ref.image).display, np.float32)
        mm = WIDTH_MM / float(np.hypot(*(p[EPICONDYLES[0]] - p[EPICONDYLES[1]])))
        lateral = p["femoral_condyle_lateral"] - p["femoral_condyle_medial"]
        lateral /= np.linalg.norm(lateral)
        down = np.array([-lateral[1], lateral[0]])
        down = down if down[1] > 0 else -down  # the films are head up
        medial, lat = refine_condyle_pair(display, p[JOINT[0]], p[JOINT[1]], down, mm)
        out = {JOINT[0]: medial.xy, JOINT[1]: lat.xy}
        for anatomy in JOINT[2:]:
            got = refine_joint_point(display, anatomy, p[anatomy], down, lateral, mm)
            out[anatomy] = None if got is None else got[:2]
        mm_ref = WIDTH_MM / width
        for anatomy in JOINT:
            q = ref.points.get(f"{anatomy}_{side}")
            if q is None:
                continue
            before = float(np.hypot(*(p[anatomy] - q.xy))) * mm_ref
            after = before if out[anatomy] is None else float(np.hypot(*(np.array(out[anatomy]) - q.xy))) * mm_ref
            res[anatomy].append((before, after, out[anatomy] is None))
    print("| point | n | median mm before → after | within 2 mm before → after | further off | unsure |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for anatomy, v in res.items():
        x = np.array(v)
        print(f"| {anatomy} | {len(x)} | {np.median(x[:, 0]):.2f} → {np.median(x[:, 1]):.2f} | "
              f"{100 * np.mean(x[:, 0] <= 2):.0f} → {100 * np.mean(x[:, 1] <= 2):.0f} % | "
              f"{100 * np.mean(x[:, 1] > x[:, 0] + 1e-9):.0f} % | {100 * np.mean(x[:, 2]):.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
