#!/usr/bin/env python3
"""The learned AP pelvis detector on the readers' usable films as stored and turned by half a turn.

    python scripts/pelvis_orientation_check.py          # about 5 minutes on 2 CPU cores

For every usable AP pelvis/hip film read in ``datasets/fracatlas-hip/references`` the shipped
model (which saw these films: in-sample figures) plans the film as stored and the film turned
by half a turn (no orientation tags; :func:`orthoplan.landmarks.learned.detect_learned` tries
the turns where the heads are faint, :func:`orthoplan.frames.orientation_from_landmarks` gives
the plan's orientation). It prints:

* the films as stored whose plan is not in the reader's orientation;
* the films turned by half a turn: how many are planned head down, how many keep the assumed
  head-up orientation (and with how many points, at what confidence, refused as another view or
  not), and, for those planned
  head down, how far their points lie from the plan of the film as stored (mapped back by the
  turn, in % of the reader's head diameter) and how far their angles are.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.errors import CorruptImageError  # noqa: E402
from orthoplan.image import load  # noqa: E402
from orthoplan.landmarks.crossval import head_diameter  # noqa: E402
from orthoplan.landmarks.references import load_references  # noqa: E402
from orthoplan.model import Calibration  # noqa: E402
from orthoplan.pipeline import plan_radiograph  # noqa: E402
from scripts.knee_orientation_check import half_turned  # noqa: E402

SCALE = Calibration(1.0, "explicit-spacing", 0.0)  # angles need no scale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--root", default=str(shared / "real" / "fracatlas-hip"))
    a = ap.parse_args(argv)
    refs = [r for r in load_references(REPO / "datasets" / "fracatlas-hip" / "references") if r.usable]
    wrong, down, kept, dist, angle, far = [], [], [], [], [], []
    for ref in refs:
        try:
            rad = load(Path(a.root) / ref.image)
        except CorruptImageError:  # one FracAtlas film ends a few bytes short
            print(f"{ref.stem}: not decoded, left out")
            continue
        stored = plan_radiograph(rad, calibration=SCALE, view="ap-pelvis")
        if stored.orientation.superior_name != ref.superior:
            wrong.append(ref.stem)
        if ref.superior != "up":
            continue
        turned = plan_radiograph(half_turned(rad), calibration=SCALE, view="ap-pelvis")
        if turned.orientation.superior_name != "down":
            refused = any("not an AP pelvis/hip film" in n for n in turned.notes)
            kept.append((ref.stem, len(turned.landmarks), max((lm.confidence for lm in turned.landmarks), default=0),
                         refused))
            continue
        down.append(ref.stem)
        rows, cols = np.asarray(rad.display).shape
        for lm in stored.landmarks:
            q = turned.landmarks[lm.name] if lm.name in turned.landmarks else None
            size = head_diameter(ref, lm.name.side.value)
            if q is not None and size:
                dist.append(100 * np.hypot(cols - q.x - lm.x, rows - q.y - lm.y) / size)
                if dist[-1] > 20:
                    far.append(f"{ref.stem} {lm.name.value} {dist[-1]:.0f} % (confidence {lm.confidence:.2f} / "
                               f"{q.confidence:.2f})")
        for m in stored.measurements:
            if m.value is not None and m.name.endswith("_deg") and m.name in turned.measurements \
                    and turned.measurements[m.name].value is not None:
                angle.append(abs(m.value - turned.measurements[m.name].value))
    n_up = len(down) + len(kept)
    print(f"{len(refs)} usable films; planned as stored other than the reader's orientation: "
          f"{len(wrong)} ({', '.join(wrong) or 'none'})")
    print(f"the {n_up} head-up films turned by half a turn: planned head down {len(down)}, kept head up {len(kept)}")
    if kept:
        print("  kept head up (points, highest confidence): "
              + ", ".join(f"{s} ({n}, {c:.2f}{', refused as another view' if r else ''})" for s, n, c, r in kept))
        print(f"  of these, refused as another view by the view classifier: {sum(r for *_, r in kept)}; "
              f"with a point at >= 0.8: {sum(c >= 0.8 for _, _, c, _ in kept)}")
    if dist:
        d, g = np.asarray(dist), np.asarray(angle)
        print(f"  planned head down: points from the plan as stored (mapped back), % of the head diameter: median "
              f"{np.median(d):.1f}, 95th percentile {np.percentile(d, 95):.1f}, max {d.max():.1f}; angles: median "
              f"{np.median(g):.2f}°, 95th percentile {np.percentile(g, 95):.2f}°, max {g.max():.1f}°")
        print(f"  points more than 20 % of the head diameter apart: {len(far)} of {d.size}" + "".join(
            f"\n    {f}" for f in far))
    return 0


if __name__ == "__main__":
    sys.exit(main())
