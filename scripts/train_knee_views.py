#!/usr/bin/env python3
"""Make the shipped knee view classifier (:mod:`orthoplan.landmarks.views`) and measure it.

    python scripts/train_knee_views.py            # about 3 minutes on 2 CPU cores

1. The features of every FracAtlas knee film (``../shared/data/real/fracatlas-knee``, or
   ``$ORTHOPLAN_SHARED_DATA/real/fracatlas-knee``), labelled by the data set's ``index.csv``
   (views judged by eye from thumbnails); byte-identical duplicates are left out, so that no
   film is in both training and test.
2. 5-fold cross-validation (seed 0): the confusion matrix and, for two views side by side,
   the share found and the share of single views taken for two, at several thresholds;
   printed as markdown (``docs/accuracy.md``).
3. The model fitted on every film, written to ``orthoplan/landmarks/models/knee-view.{npz,json}``
   with the command, the seed and the cross-validation figures.
4. The fibula-side model (``knee-fibula``): on which side of a head-up AP knee image the fibula
   lies, learned from the AP knee films read in ``datasets/fracatlas-knee/references`` (one
   knee each; its lateral side from the readers' lateral and medial points) and their mirror
   images; cross-validated by film the same way, then fitted on all.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.landmarks.references import load_references  # noqa: E402
from orthoplan.landmarks.views import (FIBULA_CLASSES, FIBULA_L2, FIBULA_MIN_PROBABILITY, VIEW_CLASSES,  # noqa: E402
                                       fibula_examples,
                                       fit_view_model, save_view_model, view_features)

#: index.csv's view names -> the classifier's classes
LABELS = {"knee-ap": "knee-ap", "knee-lateral": "knee-lateral", "knee-other": "two-view", "long-leg": "long-leg"}
ATTRIBUTION = (
    "FracAtlas (CC BY 4.0): Abedeen I., Rahman M.A., Zohra Prottyasha F., Ahmed T., Mohmud Chowdhury T., "
    "Shatabda S. \"FracAtlas: A Dataset for Fracture Classification, Localization and Segmentation of "
    "Musculoskeletal Radiographs\". Scientific Data 10, 521 (2023). doi:10.1038/s41597-023-02432-4. "
    "Data: figshare, doi:10.6084/m9.figshare.22363012. View labels: the knee subset's index.csv (by eye, from thumbnails)."
)
L2 = 1e-3


def load_display(path: Path) -> np.ndarray:
    from PIL import Image, ImageFile

    from orthoplan.errors import CorruptImageError
    from orthoplan.image import load

    try:
        return np.asarray(load(path).display, dtype=np.float32)
    except CorruptImageError:  # a JPEG a few bytes short: its pixels are whole enough
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def cross_validate(x: np.ndarray, y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Held-out class probabilities of every film (``k`` folds)."""
    fold = np.random.default_rng(seed).integers(0, k, y.size)
    p = np.zeros((y.size, len(VIEW_CLASSES)))
    for f in range(k):
        m = fit_view_model(x[fold != f], y[fold != f], l2=L2)
        p[fold == f] = m.probabilities(x[fold == f])
    return p


def report(y: np.ndarray, p: np.ndarray, k: int) -> tuple[str, dict]:
    pred = p.argmax(axis=1)
    cm = np.zeros((len(VIEW_CLASSES),) * 2, int)
    for a, b in zip(y, pred):
        cm[a, b] += 1
    lines = [f"**Knee view classifier: {k}-fold cross-validation ({y.size} FracAtlas knee films)** — "
             f"accuracy {100 * np.mean(pred == y):.1f} %", "",
             "| labelled \\ classified | " + " | ".join(VIEW_CLASSES) + " |",
             "| --- | " + " | ".join(["---:"] * len(VIEW_CLASSES)) + " |"]
    for i, c in enumerate(VIEW_CLASSES):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in cm[i]) + " |")
    two = VIEW_CLASSES.index("two-view")
    lines += ["", "| two views: probability ≥ | two-view films found | single views taken for two |", "| ---: | ---: | ---: |"]
    figures = {"accuracy": float(np.mean(pred == y)), "confusion": cm.tolist(), "two_view": {}}
    for t in (0.5, 0.8, 0.9):
        found, wrong = float(np.mean(p[y == two, two] >= t)), float(np.mean(p[y != two, two] >= t))
        figures["two_view"][str(t)] = {"found": found, "single_taken_for_two": wrong}
        lines.append(f"| {t} | {100 * found:.0f} % ({int(np.sum(p[y == two, two] >= t))} of {int(np.sum(y == two))}) | "
                     f"{100 * wrong:.1f} % ({int(np.sum(p[y != two, two] >= t))} of {int(np.sum(y != two))}) |")
    return "\n".join(lines), figures


def fibula_report(x: np.ndarray, y: np.ndarray, g: np.ndarray, k: int, seed: int) -> tuple[str, dict]:
    films = np.unique(g)
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(films, rng.integers(0, k, films.size)))
    fold = np.array([fold_of[v] for v in g])
    p = np.zeros(y.size)
    for f in range(k):
        m = fit_view_model(x[fold != f], y[fold != f], classes=FIBULA_CLASSES, l2=FIBULA_L2)
        p[fold == f] = m.probabilities(x[fold == f])[:, 1]
    pred = (p >= 0.5).astype(int)
    sure = np.maximum(p, 1 - p) >= FIBULA_MIN_PROBABILITY
    figures = {"films": int(films.size), "accuracy": float(np.mean(pred == y)), "decided": float(np.mean(sure)),
               "accuracy_decided": float(np.mean(pred[sure] == y[sure])) if sure.any() else None,
               "threshold": FIBULA_MIN_PROBABILITY}
    lines = [f"**Fibula side on real AP knee films: {k}-fold cross-validation by film ({films.size} films read in "
             f"`datasets/fracatlas-knee`, each also mirrored: {y.size} images)** — the fibula's side of the image "
             f"right {100 * figures['accuracy']:.1f} % of the time", "",
             "| probability ≥ | images decided | decided rightly | wrong |", "| ---: | ---: | ---: | ---: |"]
    for t in (FIBULA_MIN_PROBABILITY, 0.9, 0.95):
        sel = np.maximum(p, 1 - p) >= t
        lines.append(f"| {t} | {100 * np.mean(sel):.0f} % | {100 * np.mean(pred[sel] == y[sel]):.1f} % | "
                     f"{int(np.sum(pred[sel] != y[sel]))} of {int(sel.sum())} |")
    wrong = sorted({int(v) for v in g[sure & (pred != y)]})
    figures["wrong_films"] = wrong
    text = "\n".join(lines)
    return text, figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--root", default=str(shared / "real" / "fracatlas-knee"))
    ap.add_argument("--out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "knee-view"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, help="only the first N films of each view (a quick run)")
    ap.add_argument("--references", default=str(REPO / "datasets" / "fracatlas-knee" / "references"),
                    help="knee readings (the fibula model's labels)")
    ap.add_argument("--fibula-out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "knee-fibula"))
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = Path(a.root)
    rows = [r for r in csv.DictReader(open(root / "index.csv", newline="")) if "duplicate" not in r["note"]]
    if a.limit:
        per: dict[str, int] = {}
        rows = [r for r in rows if per.setdefault(r["view"], 0) < a.limit and not per.update({r["view"]: per[r["view"]] + 1})]
    t0 = time.time()
    x = np.stack([view_features(load_display(root / "images" / r["image_id"])) for r in rows])
    y = np.array([VIEW_CLASSES.index(LABELS[r["view"]]) for r in rows])
    logging.info("features of %d films in %.0f s", y.size, time.time() - t0)
    text, figures = report(y, cross_validate(x, y, a.folds, a.seed), a.folds)
    print(text)
    command = "python scripts/train_knee_views.py " + " ".join(argv if argv is not None else sys.argv[1:])
    model = fit_view_model(x, y, l2=L2, meta={
        "trained": {"command": command.strip(), "seed": a.seed, "films": int(y.size), "l2": L2,
                    "labels": "FracAtlas knee index.csv (knee-other = two-view)"},
        "cross_validation": {"folds": a.folds, **figures}, "attribution": ATTRIBUTION})
    paths = save_view_model(model, a.out)
    print(f"\nwrote {paths[0]} and {paths[1]}")
    refs = [r for r in (load_references(a.references) if Path(a.references).is_dir() else []) if r.view == "knee-ap"]
    if a.limit:
        refs = refs[: 4 * a.limit]
    fx, fy, fg = fibula_examples(refs, lambda ref: load_display(root / ref.image))
    if fy.size < 20:
        print(f"\nfibula model: only {fy.size // 2} AP knee readings of one knee: not written")
        return 0
    ftext, ffig = fibula_report(fx, fy, fg, a.folds, a.seed)
    ffig["wrong_films"] = [refs[i].stem for i in ffig["wrong_films"]]
    logging.info("fibula side wrong at >= %s on: %s", FIBULA_MIN_PROBABILITY, ", ".join(ffig["wrong_films"]))
    print("\n" + ftext)
    fmodel = fit_view_model(fx, fy, classes=FIBULA_CLASSES, l2=FIBULA_L2, meta={
        "trained": {"command": command.strip(), "seed": a.seed, "films": int(np.unique(fg).size), "l2": FIBULA_L2,
                    "labels": "the readers' lateral and medial points (datasets/fracatlas-knee), and mirror images"},
        "cross_validation": {"folds": a.folds, **ffig}, "attribution": ATTRIBUTION})
    fpaths = save_view_model(fmodel, a.fibula_out)
    print(f"\nwrote {fpaths[0]} and {fpaths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
