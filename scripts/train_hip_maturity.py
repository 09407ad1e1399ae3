#!/usr/bin/env python3
"""Make the shipped hip maturity model (:func:`orthoplan.landmarks.views.skeletal_immaturity`) and measure it.

    python scripts/train_hip_maturity.py          # about 2 minutes on 2 CPU cores

1. Every FracAtlas hip film read in ``datasets/fracatlas-hip/references`` whose reader judged
   the patient (adult; child or adolescent = immature), usable for landmarks or not (a
   child's whole-body film is a child's film too). Its features
   (:func:`~orthoplan.landmarks.views.maturity_features`): the head-up film's view features and
   the gradients around each femoral head the shipped detector finds (the learned detector, run
   without the maturity check). Adult phantom pelvises join the adults (``--phantoms``).
2. 5-fold cross-validation by film (seed 0): children's films found and adults' films taken for
   children at several thresholds, printed as markdown (``docs/accuracy.md``), with the films
   the model gets wrong at :data:`~orthoplan.landmarks.views.IMMATURE_MIN_PROBABILITY`.
3. The model fitted on every film, written to ``orthoplan/landmarks/models/hip-maturity.{npz,json}``
   with the command, the seed and the cross-validation figures.

The heads come from the shipped detector, which was trained on these films: on a film it never
saw they are found less well, but the neighbourhood (six head radii square) is wide against
that error (about 6 % of the head diameter).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.landmarks import crossval, learned, training  # noqa: E402
from orthoplan.landmarks.references import load_references  # noqa: E402
from orthoplan.landmarks.views import (IMMATURE_MIN_PROBABILITY, MATURITY_CLASSES, MATURITY_L2,  # noqa: E402
                                       fit_view_model, save_view_model)


def features(root: Path, ref) -> np.ndarray | None:
    """One film's maturity features, the heads found as at run time (None: not decodable)."""
    from orthoplan.errors import CorruptImageError
    from orthoplan.image import load

    try:
        radiograph = load(root / ref.image)
    except CorruptImageError:
        return None
    return learned.maturity_inputs(radiograph, learned.detect_learned(radiograph, check_maturity=False))


def phantom_features(n: int) -> list[np.ndarray]:
    """The features of ``n`` adult phantom pelvises (:mod:`orthoplan.phantoms.pelvis`; seeds from
    1000, not those of ``python -m orthoplan.landmarks.accuracy``): half in the varied small
    format of the accuracy runs, half as the demo makes them. Without them a phantom, smooth and
    unlike any real film, is taken for a child's pelvis."""
    from orthoplan.image import from_dataset
    from orthoplan.landmarks.accuracy import synthetic_variants
    from orthoplan.phantoms.pelvis import make_pelvis

    out = []
    for i in range(n):
        kw = synthetic_variants(1, start=1000 + i)[0] if i % 2 else {"seed": 1000 + i}
        rad = from_dataset(make_pelvis(**kw).dataset)
        out.append(learned.maturity_inputs(rad, learned.detect_learned(rad, check_maturity=False)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--root", default=str(shared / "real" / "fracatlas-hip"))
    ap.add_argument("--refs", default=str(REPO / "datasets" / "fracatlas-hip" / "references"))
    ap.add_argument("--out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "hip-maturity"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--phantoms", type=int, default=40, help="adult phantom pelvises added to the adults")
    a = ap.parse_args(argv)
    if a.folds < 2:
        ap.error("--folds must be at least 2")
    if a.phantoms < 0:
        ap.error("--phantoms must be 0 or more")
    root = Path(a.root)
    if not (root / "images").is_dir():
        ap.error(f"no FracAtlas hip films at {root} (give --root or set $ORTHOPLAN_SHARED_DATA)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    refs = [r for r in load_references(a.refs) if r.patient in ("adult", "child", "adolescent")]
    t0 = time.time()
    x, y, kept = [], [], []
    for ref in refs:
        f = features(root, ref)
        if f is None:
            logging.warning("%s: not decodable, left out", ref.image)
            continue
        x.append(f)
        y.append(0 if ref.patient == "adult" else 1)
        kept.append(ref)
    px = phantom_features(a.phantoms)
    logging.info("features of %d films and %d phantoms in %.0f s", len(y), len(px), time.time() - t0)
    folds = crossval.folds_of(kept, a.folds, a.seed)
    fold = np.array([folds[r.stem] for r in kept] + [i % a.folds for i in range(len(px))])
    real = np.arange(fold.size) < len(y)
    x, y = np.array(x + px), np.array(y + [0] * len(px))
    p = np.zeros(y.size)
    for k in range(a.folds):
        m = fit_view_model(x[fold != k], y[fold != k], MATURITY_CLASSES, l2=MATURITY_L2)
        p[fold == k] = m.probabilities(x[fold == k])[:, 1]
    p_phantom, x_all, y_all = p[~real], x, y
    x, y, p = x[real], y[real], p[real]
    usable = np.array([r.usable for r in kept])
    lines = [f"**Skeletally immature pelvis: {a.folds}-fold cross-validation by film ({y.size} FracAtlas hip films; "
             f"{int(y.sum())} of children or adolescents, {int((y == 0).sum())} of adults, as the readers judged them)**",
             "", "| probability ≥ | immature films found | of them read as usable AP films | adults' films taken for "
             "immature | of them usable AP films |", "| ---: | ---: | ---: | ---: | ---: |"]
    figures: dict = {"films": int(y.size), "immature": int(y.sum()), "thresholds": {}}
    for t in (0.5, 0.7, 0.9):
        hit = p >= t
        row = {"found": int((hit & (y == 1)).sum()), "found_usable": int((hit & (y == 1) & usable).sum()),
               "adults_flagged": int((hit & (y == 0)).sum()), "adults_flagged_usable": int((hit & (y == 0) & usable).sum())}
        figures["thresholds"][str(t)] = row
        lines.append(f"| {t} | {row['found']} of {int(y.sum())} | {row['found_usable']} of {int((usable & (y == 1)).sum())} | "
                     f"{row['adults_flagged']} of {int((y == 0).sum())} | {row['adults_flagged_usable']} of "
                     f"{int((usable & (y == 0)).sum())} |")
    wrong = [(r.stem, r.patient, round(float(q), 2)) for r, q, lab in zip(kept, p, y)
             if (q >= IMMATURE_MIN_PROBABILITY) != bool(lab)]
    figures["wrong_at_threshold"] = wrong
    figures["phantoms"] = {"n": len(px), "taken_for_immature": int((p_phantom >= IMMATURE_MIN_PROBABILITY).sum())}
    lines += ["", f"Adult phantom pelvises (held out by fold as the films are) taken for immature at "
              f"{IMMATURE_MIN_PROBABILITY}: {figures['phantoms']['taken_for_immature']} of {len(px)}."]
    print("\n".join(lines))
    print(f"\nwrong at {IMMATURE_MIN_PROBABILITY}: " + ", ".join(f"{s} ({who}, {q})" for s, who, q in wrong))
    command = "python scripts/train_hip_maturity.py " + " ".join(argv if argv is not None else sys.argv[1:])
    model = fit_view_model(x_all, y_all, MATURITY_CLASSES, l2=MATURITY_L2, meta={
        "trained": {"command": command.strip(), "seed": a.seed, "films": int(y.size), "phantoms": len(px),
                    "l2": MATURITY_L2,
                    "labels": "the readers' judgement of the patient (datasets/fracatlas-hip/references: "
                              "adult; child or adolescent = immature)"},
        "cross_validation": {"folds": a.folds, **figures}, "attribution": training.FRACATLAS_ATTRIBUTION})
    paths = save_view_model(model, a.out)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
