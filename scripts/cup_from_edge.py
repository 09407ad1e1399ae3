"""How far a cup sized from the acetabular lateral edge alone can be trusted, on real films.

On every adult hip of our FracAtlas references with both a femoral head circle and an
acetabular lateral edge, compares twice the edge's distance from the head centre (the
edge-based cup target) with the head-based target (head diameter + 2 x 4 mm joint space, the
films' scale taken from a 50 mm head). Prints the median and the 95 % range of the ratio:
``orthoplan.templating.hip.EDGE_CUP_RATIO`` and ``EDGE_CUP_RATIO_95`` come from here.

    python scripts/cup_from_edge.py [--refs datasets/fracatlas-hip/references]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from orthoplan.landmarks.references import load_references
from orthoplan.templating.hip import JOINT_SPACE_MM

#: The head diameter assumed to turn the films' pixels into mm (adult mean, about 50 mm).
HEAD_DIAMETER_MM = 50.0


def edge_ratios(refs) -> np.ndarray:
    """Edge-based over head-based cup target, one per adult hip with both readings."""
    out = []
    for ref in refs:
        if not ref.usable or ref.patient != "adult":
            continue
        for side in ("left", "right"):
            head = ref.points.get(f"femoral_head_center_{side}")
            edge = ref.points.get(f"acetabular_lateral_edge_{side}")
            if head is None or edge is None or not head.radius:
                continue
            px_per_mm = 2.0 * head.radius / HEAD_DIAMETER_MM
            from_edge = 2.0 * math.hypot(edge.x - head.x, edge.y - head.y) / px_per_mm
            out.append(from_edge / (HEAD_DIAMETER_MM + 2.0 * JOINT_SPACE_MM))
    return np.asarray(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--refs", default="datasets/fracatlas-hip/references")
    r = edge_ratios(load_references(ap.parse_args().refs))
    lo, med, hi = np.percentile(r, [2.5, 50, 97.5])
    print(f"{len(r)} adult hips: edge / head cup target median {med:.3f}, 95 % {lo:.3f}-{hi:.3f}")


if __name__ == "__main__":
    main()
