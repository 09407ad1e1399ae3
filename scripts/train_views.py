#!/usr/bin/env python3
"""Make the shipped view classifier (:mod:`orthoplan.landmarks.views`) and the fibula-side
model, and measure them.

    python scripts/train_views.py            # about 3 minutes on 2 CPU cores

1. The features of every FracAtlas hip and knee film (``../shared/data/real/fracatlas-hip`` and
   ``fracatlas-knee``, or under ``$ORTHOPLAN_SHARED_DATA/real``): the knee films labelled by the
   data set's ``index.csv`` (views judged by eye from thumbnails; byte-identical duplicates left
   out), every hip film ``ap-pelvis``; and phantoms (``--phantoms`` AP pelves, lateral hips, AP
   knees and lateral knees), so that the synthetic films of the examples and tests are known too.
   Each film also turned by half a turn, with its label: a film stored upside down without
   orientation tags shows the same view (since 7 December 2026).
2. 5-fold cross-validation (seed 0; the same picture stored twice stays in one fold): the
   confusion matrix; for two views side by side, the share found and the share of single views
   taken for two; and for the detectors' refusal of the other kind of film
   (:func:`orthoplan.landmarks.views.other_film_reason`), how many films of each kind would be
   refused, at several thresholds; the same for the films turned. Printed as markdown
   (``docs/accuracy.md``).
3. The model fitted on every film, written to ``orthoplan/landmarks/models/view.{npz,json}``
   with the command, the seed and the cross-validation figures.
4. The fibula-side model (``knee-fibula``): on which side of a head-up AP knee image the fibula
   lies, learned from the AP knee films read in ``datasets/fracatlas-knee/references`` (one
   knee each; its lateral side from the readers' lateral and medial points) and their mirror
   images; cross-validated by film the same way, then fitted on all.
5. The upright model (``knee-upright``): whether the patient's head lies at the top or the bottom
   of an AP knee image, learned from every AP knee film of the knee subset's ``index.csv``
   turned head up (where the head lies as stored: the reading's where the film was read, else
   up; :data:`SEEN_TURNED` left out), each as it is and turned by half a turn, each also
   mirrored; cross-validated by picture the same way, then fitted on all.
6. The lateral turn model (``knee-lateral-turn``): where the patient's head lies in a lateral knee
   image (top, left, bottom, right), learned from every lateral knee film of the index turned
   head up (the reading's orientation where read, else up), each in the four quarter turns and
   mirrored; cross-validated by picture the same way, then fitted on all. Its held-out
   probabilities are written to ``--lateral-turn-held-out`` (JSON) for
   ``scripts/knee_orientation_check.py``.

``--models`` picks which of the models are made (default all).
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

from orthoplan.landmarks.crossval import picture_groups  # noqa: E402
from orthoplan.landmarks.references import load_references  # noqa: E402
from orthoplan.landmarks.views import (FIBULA_CLASSES, FIBULA_L2, FIBULA_MIN_PROBABILITY,  # noqa: E402
                                       HEAD_DOWN_MIN_PROBABILITY, KNEE_FILM_CLASSES, OTHER_FILM_MIN_PROBABILITY,
                                       TWO_VIEW_MIN_PROBABILITY, UPRIGHT_CLASSES, UPRIGHT_L2, VIEW_CLASSES,
                                       LATERAL_TURN_CLASSES, LATERAL_TURN_L2, QUARTER_TURN_MIN_PROBABILITY,
                                       fibula_examples, fit_view_model, save_view_model, turned_examples,
                                       upright_examples,
                                       view_features)

#: index.csv's view names -> the classifier's classes (every hip film is an ap-pelvis)
LABELS = {"knee-ap": "knee-ap", "knee-lateral": "knee-lateral", "knee-other": "two-view", "long-leg": "long-leg"}
ATTRIBUTION = (
    "FracAtlas (CC BY 4.0): Abedeen I., Rahman M.A., Zohra Prottyasha F., Ahmed T., Mohmud Chowdhury T., "
    "Shatabda S. \"FracAtlas: A Dataset for Fracture Classification, Localization and Segmentation of "
    "Musculoskeletal Radiographs\". Scientific Data 10, 521 (2023). doi:10.1038/s41597-023-02432-4. "
    "Data: figshare, doi:10.6084/m9.figshare.22363012. View labels: the knee subset's index.csv (by eye, from "
    "thumbnails); every film of the hip subset is an ap-pelvis."
)
L2 = 1e-3
#: AP knee films of the index that no one has read and that are stored turned by a quarter turn
#: (both knees across the frame), seen by eye on 7 December 2026 while checking the upright
#: model's cross-validation: left out of its training (where their heads lie was not read).
SEEN_TURNED = ("IMG0001534.jpg", "IMG0001568.jpg")
MODELS = ("view", "fibula", "upright", "lateral-turn")
THRESHOLDS = tuple(sorted({0.8, 0.9, 0.95, 0.99, OTHER_FILM_MIN_PROBABILITY}))

log = logging.getLogger("train_views")


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


def real_films(real: Path, limit: int | None = None) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Display images, class indices and names (``folder/file``) of the FracAtlas films."""
    displays, labels, names = [], [], []
    for folder in ("fracatlas-knee", "fracatlas-hip"):
        index = real / folder / "index.csv"
        if not index.is_file():
            raise SystemExit(f"train_views: {index} not found (--real names the folder of the real films)")
        with open(index, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if "duplicate" not in r.get("note", "")]
        for r in rows:
            r["label"] = LABELS[r["view"]] if folder == "fracatlas-knee" else "ap-pelvis"
        if limit:
            per: dict[str, int] = {}
            rows = [r for r in rows if per.setdefault(r["label"], 0) < limit and not per.update({r["label"]: per[r["label"]] + 1})]
        for r in rows:
            displays.append(load_display(real / folder / "images" / r["image_id"]))
            labels.append(VIEW_CLASSES.index(r["label"]))
            names.append(f"{folder}/{r['image_id']}")
    return displays, labels, names


def phantom_films(n: int, seed: int = 0) -> tuple[list[np.ndarray], list[int], list[str]]:
    """``n`` phantom AP pelves, ``n`` lateral hips (a hip film too: the pelvis detector says why
    it reads no pelvis), ``n`` AP knees and ``n`` lateral knees (seeded)."""
    from orthoplan.image import from_dataset
    from orthoplan.phantoms.knee import make_knee_ap, make_knee_lateral
    from orthoplan.phantoms.pelvis import lateral_hip_radiograph, make_pelvis

    rng = np.random.default_rng(seed)
    displays, labels, names = [], [], []
    for i in range(4 * n):
        s = int(rng.integers(0, 1_000_000))
        kind = ("ap-pelvis", "lateral-hip", "knee-ap", "knee-lateral")[i % 4]
        if kind == "ap-pelvis":
            case = make_pelvis(seed=s, rows=900, columns=1100, detector_spacing_mm=float(rng.uniform(0.33, 0.45)),
                               implant_side="left" if i % 20 == 0 else None)
        elif kind == "lateral-hip":
            case = lateral_hip_radiograph(seed=s, rows=900, columns=1100, detector_spacing_mm=float(rng.uniform(0.33, 0.45)),
                                          side="left" if i % 8 == 1 else "right")
        else:
            make = make_knee_ap if kind == "knee-ap" else make_knee_lateral
            case = make(seed=s, side="left" if i % 8 < 4 else "right", rows=1000, columns=800,
                        detector_spacing_mm=float(rng.uniform(0.45, 0.55)))
        displays.append(np.asarray(from_dataset(case.dataset).display, np.float32))
        labels.append(VIEW_CLASSES.index("ap-pelvis" if kind == "lateral-hip" else kind))
        names.append(f"phantoms/{kind}-{s}")
    return displays, labels, names


def cross_validate(x: np.ndarray, y: np.ndarray, group: np.ndarray, k: int, seed: int,
                   x_turned: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Held-out class probabilities of every film (``k`` folds of whole picture groups) and,
    given ``x_turned`` (the same films turned by half a turn, trained on with them), of every
    film turned."""
    groups = np.unique(group)
    fold_of = dict(zip(groups, np.random.default_rng(seed).integers(0, k, groups.size)))
    fold = np.array([fold_of[g] for g in group])
    p = np.zeros((y.size, len(VIEW_CLASSES)))
    pt = None if x_turned is None else np.zeros_like(p)
    for f in range(k):
        if not np.any(fold == f):
            continue
        train = fold != f
        xs, ys = (x[train], y[train]) if x_turned is None else (np.r_[x[train], x_turned[train]], np.r_[y[train], y[train]])
        m = fit_view_model(xs, ys, l2=L2)
        p[fold == f] = m.probabilities(x[fold == f])
        if pt is not None:
            pt[fold == f] = m.probabilities(x_turned[fold == f])
    return p, pt


def turned_report(y: np.ndarray, pt: np.ndarray, real: np.ndarray) -> tuple[str, dict]:
    """What the cross-validation makes of the real films turned by half a turn (stored upside
    down without orientation tags): the accuracy and the refusals that matter."""
    knee_cls = [VIEW_CLASSES.index(c) for c in KNEE_FILM_CLASSES]
    pelvis, two = VIEW_CLASSES.index("ap-pelvis"), VIEW_CLASSES.index("two-view")
    hips, knees = real & (y == pelvis), real & np.isin(y, knee_cls)
    single, is_two = real & (y != two), real & (y == two)
    knee_p, two_p = pt[:, knee_cls].sum(axis=1), pt[:, two] >= TWO_VIEW_MIN_PROBABILITY
    t = OTHER_FILM_MIN_PROBABILITY
    figures = {"accuracy": float(np.mean(pt[real].argmax(axis=1) == y[real])),
               "hip_films_refused_as_knee": float(np.mean(knee_p[hips] >= t)),
               "knee_films_refused_as_pelvis": float(np.mean(pt[knees, pelvis] >= t)),
               "single_taken_for_two": float(np.mean(two_p[single])), "two_view_found": float(np.mean(two_p[is_two]))}
    text = (f"**The same films turned by half a turn** (held out the same way): accuracy "
            f"{100 * figures['accuracy']:.1f} %; hip films refused by the pelvis detector (knee ≥ {t}) "
            f"{_count(knee_p >= t, hips)}; knee films refused by the knee detectors {_count(pt[:, pelvis] >= t, knees)}; "
            f"single views taken for two (≥ {TWO_VIEW_MIN_PROBABILITY}) {_count(two_p, single)}; two-view films found "
            f"{_count(two_p, is_two)}.")
    return text, figures


def _count(sel: np.ndarray, among: np.ndarray) -> str:
    n = int(among.sum())
    return f"{100 * np.sum(sel & among) / max(n, 1):.1f} % ({int(np.sum(sel & among))} of {n})"


def report(y: np.ndarray, p: np.ndarray, real: np.ndarray, k: int) -> tuple[str, dict]:
    """The cross-validation's tables (markdown) and figures, on the real films; the phantoms apart."""
    pred = p.argmax(axis=1)
    cm = np.zeros((len(VIEW_CLASSES),) * 2, int)
    for a, b in zip(y[real], pred[real]):
        cm[a, b] += 1
    lines = [f"**View classifier: {k}-fold cross-validation ({int(real.sum())} FracAtlas hip and knee films)** — "
             f"accuracy {100 * np.mean(pred[real] == y[real]):.1f} %", "",
             "| labelled \\ classified | " + " | ".join(VIEW_CLASSES) + " |",
             "| --- | " + " | ".join(["---:"] * len(VIEW_CLASSES)) + " |"]
    for i, c in enumerate(VIEW_CLASSES):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in cm[i]) + " |")
    figures: dict = {"accuracy": float(np.mean(pred[real] == y[real])), "confusion": cm.tolist(), "two_view": {},
                     "other_film": {}}
    two = VIEW_CLASSES.index("two-view")
    is_two, is_single = real & (y == two), real & (y != two)
    lines += ["", "| two views: probability ≥ | two-view films found | single views taken for two |", "| ---: | ---: | ---: |"]
    for t in (0.5, TWO_VIEW_MIN_PROBABILITY, 0.9):
        sel = p[:, two] >= t
        figures["two_view"][str(t)] = {"found": float(np.mean(sel[is_two])), "single_taken_for_two": float(np.mean(sel[is_single]))}
        lines.append(f"| {t} | {_count(sel, is_two)} | {_count(sel, is_single)} |")
    knee = p[:, [VIEW_CLASSES.index(c) for c in KNEE_FILM_CLASSES]].sum(axis=1)
    pelvis = p[:, VIEW_CLASSES.index("ap-pelvis")]
    hip_films = real & (y == VIEW_CLASSES.index("ap-pelvis"))
    knee_films = real & np.isin(y, [VIEW_CLASSES.index(c) for c in KNEE_FILM_CLASSES])
    lines += ["", "| probability ≥ | knee films refused by the pelvis detector | hip films refused by the pelvis detector "
              "| hip films refused by the knee detectors | knee films refused by the knee detectors |",
              "| ---: | ---: | ---: | ---: | ---: |"]
    for t in THRESHOLDS:
        figures["other_film"][str(t)] = {
            "knee_films_refused_as_pelvis": float(np.mean(knee[knee_films] >= t)),
            "hip_films_refused_as_pelvis": float(np.mean(knee[hip_films] >= t)),
            "hip_films_refused_as_knee": float(np.mean(pelvis[hip_films] >= t)),
            "knee_films_refused_as_knee": float(np.mean(pelvis[knee_films] >= t))}
        lines.append(f"| {t} | {_count(knee >= t, knee_films)} | {_count(knee >= t, hip_films)} | "
                     f"{_count(pelvis >= t, hip_films)} | {_count(pelvis >= t, knee_films)} |")
    if (~real).any():
        ph = ~real
        figures["phantoms"] = {"films": int(ph.sum()), "accuracy": float(np.mean(pred[ph] == y[ph]))}
        lines += ["", f"Phantoms (held out the same way): {int(np.sum(pred[ph] == y[ph]))} of {int(ph.sum())} "
                  "classified as what they are."]
    return "\n".join(lines), figures


def held_out_probabilities(x: np.ndarray, y: np.ndarray, g: np.ndarray, k: int, seed: int, classes: tuple[str, ...],
                           l2: float) -> np.ndarray:
    """Each image's held-out probabilities ``(n, classes)``: ``k`` folds of whole groups ``g``
    (a film, or the same picture stored twice)."""
    groups = np.unique(g)
    fold_of = dict(zip(groups, np.random.default_rng(seed).integers(0, k, groups.size)))
    fold = np.array([fold_of[v] for v in g])
    p = np.zeros((y.size, len(classes)))
    for f in range(k):
        if np.any(fold == f):
            m = fit_view_model(x[fold != f], y[fold != f], classes=classes, l2=l2)
            p[fold == f] = m.probabilities(x[fold == f])
    return p


def held_out_binary(x: np.ndarray, y: np.ndarray, g: np.ndarray, k: int, seed: int, classes: tuple[str, str],
                    l2: float) -> np.ndarray:
    """Each image's held-out probability of ``classes[1]`` (:func:`held_out_probabilities`)."""
    return held_out_probabilities(x, y, g, k, seed, classes, l2)[:, 1]


def fibula_report(x: np.ndarray, y: np.ndarray, g: np.ndarray, k: int, seed: int) -> tuple[str, dict]:
    films = np.unique(g)
    p = held_out_binary(x, y, g, k, seed, FIBULA_CLASSES, FIBULA_L2)
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


def upright_films(real: Path, references: Path, view: str = "knee-ap") -> tuple[list[np.ndarray], list[str], list[str]]:
    """Display images, where the patient's head lies as stored, and names of the ``view`` knee
    films of the index (no byte-identical duplicates, none of :data:`SEEN_TURNED`)."""
    read = {r.stem: r.superior for r in (load_references(references) if references.is_dir() else [])}
    folder = real / "fracatlas-knee"
    index = folder / "index.csv"
    if not index.is_file():
        raise SystemExit(f"train_views: {index} not found (--real names the folder of the real films)")
    with open(index, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["view"] == view and "duplicate" not in r.get("note", "")
                and r["image_id"] not in SEEN_TURNED]
    displays = [load_display(folder / "images" / r["image_id"]) for r in rows]
    return displays, [read.get(Path(r["image_id"]).stem, "up") for r in rows], [r["image_id"] for r in rows]


def upright_report(p: np.ndarray, y: np.ndarray, g: np.ndarray, names: list[str], k: int) -> tuple[str, dict]:
    """The upright model's cross-validation (``p``: held-out probabilities of head down)."""
    up, down = y == 0, y == 1
    figures: dict = {"films": int(len(names)), "threshold": HEAD_DOWN_MIN_PROBABILITY, "at": {}}
    lines = [f"**Upright model on real AP knee films: {k}-fold cross-validation by picture ({len(names)} FracAtlas AP "
             f"knee films, each head up and turned by half a turn, each also mirrored: {y.size} images)** — head down "
             f"told from head up (probability 0.5) on {100 * np.mean((p >= 0.5) == down):.1f} % of the images", "",
             "| head down: probability ≥ | images turned upside down found | head-up images taken for head down |",
             "| ---: | ---: | ---: |"]
    for t in (0.5, 0.8, HEAD_DOWN_MIN_PROBABILITY, 0.95, 0.99):
        sel = p >= t
        figures["at"][str(t)] = {"found": float(np.mean(sel[down])), "head_up_taken": int(np.sum(sel[up]))}
        lines.append(f"| {t} | {_count(sel, down)} | {_count(sel, up)} |")
    wrong = sorted({names[int(i)] for i in g[up & (p >= HEAD_DOWN_MIN_PROBABILITY)]})
    figures["head_up_taken_films"] = wrong
    if wrong:
        lines += ["", f"Head-up films taken for head down at {HEAD_DOWN_MIN_PROBABILITY}: {', '.join(wrong)}."]
    return "\n".join(lines), figures


def lateral_turn_report(p: np.ndarray, y: np.ndarray, names: list[str], k: int) -> tuple[str, dict]:
    """The lateral turn model's cross-validation (``p``: held-out probabilities of
    :data:`LATERAL_TURN_CLASSES`, ``y`` the true class)."""
    left, right = LATERAL_TURN_CLASSES.index("head-left"), LATERAL_TURN_CLASSES.index("head-right")
    up = y == LATERAL_TURN_CLASSES.index("head-up")
    quarter = (y == left) | (y == right)
    other = np.where(y == left, right, left)
    figures: dict = {"films": len(names), "threshold": QUARTER_TURN_MIN_PROBABILITY, "at": {}}
    lines = [f"**Lateral turn model on real lateral knee films: {k}-fold cross-validation by picture ({len(names)} "
             f"FracAtlas lateral knee films, each in the four quarter turns, each also mirrored: {y.size} images)** — "
             f"where the head lies told right (the most probable class) on {100 * np.mean(p.argmax(1) == y):.1f} % "
             "of the images", "",
             "| a quarter turn: probability ≥ | images turned a quarter turn found, the right way | the wrong way | "
             "head-up images taken for a quarter turn |", "| ---: | ---: | ---: | ---: |"]
    rows = np.arange(y.size)
    for t in (0.5, 0.8, QUARTER_TURN_MIN_PROBABILITY, 0.95, 0.99):
        right_way = p[rows, y] >= t
        wrong_way = p[rows, other] >= t
        taken = np.maximum(p[:, left], p[:, right]) >= t
        figures["at"][str(t)] = {"found": float(np.mean(right_way[quarter])), "wrong_way": int(np.sum(wrong_way[quarter])),
                                 "head_up_taken": int(np.sum(taken[up]))}
        lines.append(f"| {t} | {_count(right_way, quarter)} | {_count(wrong_way, quarter)} | {_count(taken, up)} |")
    return "\n".join(lines), figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--real", default=str(shared / "real"), help="the folder holding fracatlas-hip and fracatlas-knee")
    ap.add_argument("--out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "view"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--phantoms", type=int, default=20, help="phantom AP pelves, and as many lateral hips, AP knees and lateral knees")
    ap.add_argument("--limit", type=int, help="only the first N films of each class (a quick run)")
    ap.add_argument("--references", default=str(REPO / "datasets" / "fracatlas-knee" / "references"),
                    help="knee readings (the fibula model's labels)")
    ap.add_argument("--fibula-out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "knee-fibula"))
    ap.add_argument("--upright-out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "knee-upright"))
    ap.add_argument("--lateral-turn-out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "knee-lateral-turn"))
    ap.add_argument("--lateral-turn-held-out", default="/tmp/orthoplan-lateral-turn-held-out.json",
                    help="where the lateral turn model's held-out probabilities go (JSON; for knee_orientation_check)")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="which models to make")
    a = ap.parse_args(argv)
    if a.folds < 2:
        ap.error("--folds must be 2 or more")
    if a.phantoms < 0 or (a.limit is not None and a.limit < 1):
        ap.error("--phantoms must be 0 or more and --limit 1 or more")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("orthoplan.image").setLevel(logging.WARNING)  # not a line per RGB JPEG
    command = ("python scripts/train_views.py " + " ".join(argv if argv is not None else sys.argv[1:])).strip()
    for name in MODELS:
        if name in a.models:
            {"view": make_view_model, "fibula": make_fibula_model, "upright": make_upright_model,
             "lateral-turn": make_lateral_turn_model}[name](a, command)
    return 0


def make_view_model(a: argparse.Namespace, command: str) -> None:
    """Part 1-3 of the module docstring: the view classifier."""
    from orthoplan.landmarks.network import prepare_input

    t0 = time.time()
    displays, labels, names = real_films(Path(a.real), a.limit)
    if a.phantoms:
        pd, pl, pn = phantom_films(a.phantoms, a.seed)
        displays, labels, names = displays + pd, labels + pl, names + pn
    x = np.stack([view_features(d) for d in displays])
    # each film also turned by half a turn (a film stored upside down without orientation tags
    # shows the same view; aspect kept, unlike a quarter turn)
    x_turned = np.stack([view_features(np.ascontiguousarray(d[::-1, ::-1])) for d in displays])
    group = picture_groups(np.stack([prepare_input(d, 32)[0] for d in displays]))
    y = np.array(labels)
    real = np.array([not n.startswith("phantoms/") for n in names])
    log.info("features of %d films (%d phantoms), as stored and turned, in %.0f s", y.size, int((~real).sum()),
             time.time() - t0)
    p, pt = cross_validate(x, y, group, a.folds, a.seed, x_turned)
    text, figures = report(y, p, real, a.folds)
    turned_text, figures["turned"] = turned_report(y, pt, real)
    print(text)
    print()
    print(turned_text)
    model = fit_view_model(np.r_[x, x_turned], np.r_[y, y], l2=L2, meta={
        "trained": {"command": command, "seed": a.seed, "films": int(real.sum()), "phantoms": int((~real).sum()),
                    "l2": L2, "turned": "every film also turned by half a turn, with its label",
                    "labels": "FracAtlas knee index.csv (knee-other = two-view); every FracAtlas hip film ap-pelvis; "
                              "phantoms by construction"},
        "cross_validation": {"folds": a.folds, **figures}, "attribution": ATTRIBUTION})
    paths = save_view_model(model, a.out)
    print(f"\nwrote {paths[0]} and {paths[1]}")


def make_fibula_model(a: argparse.Namespace, command: str) -> None:
    """Part 4 of the module docstring: the fibula-side model."""
    root = Path(a.real) / "fracatlas-knee"
    refs = [r for r in (load_references(a.references) if Path(a.references).is_dir() else []) if r.view == "knee-ap"]
    if a.limit:
        refs = refs[: 4 * a.limit]
    fx, fy, fg = fibula_examples(refs, lambda ref: load_display(root / ref.image))
    if fy.size < 20:
        print(f"\nfibula model: only {fy.size // 2} AP knee readings of one knee: not written")
        return
    ftext, ffig = fibula_report(fx, fy, fg, a.folds, a.seed)
    ffig["wrong_films"] = [refs[i].stem for i in ffig["wrong_films"]]
    logging.info("fibula side wrong at >= %s on: %s", FIBULA_MIN_PROBABILITY, ", ".join(ffig["wrong_films"]))
    print("\n" + ftext)
    fmodel = fit_view_model(fx, fy, classes=FIBULA_CLASSES, l2=FIBULA_L2, meta={
        "trained": {"command": command, "seed": a.seed, "films": int(np.unique(fg).size), "l2": FIBULA_L2,
                    "labels": "the readers' lateral and medial points (datasets/fracatlas-knee), and mirror images"},
        "cross_validation": {"folds": a.folds, **ffig}, "attribution": ATTRIBUTION})
    fpaths = save_view_model(fmodel, a.fibula_out)
    print(f"\nwrote {fpaths[0]} and {fpaths[1]}")


def make_upright_model(a: argparse.Namespace, command: str) -> None:
    """Part 5 of the module docstring: the upright model."""
    from orthoplan.landmarks.network import prepare_input

    displays, superiors, names = upright_films(Path(a.real), Path(a.references))
    if a.limit:
        displays, superiors, names = displays[: 4 * a.limit], superiors[: 4 * a.limit], names[: 4 * a.limit]
    if len(names) < 10:
        print(f"\nupright model: only {len(names)} AP knee films: not written")
        return
    x, y, film = upright_examples(displays, superiors)
    group = picture_groups(np.stack([prepare_input(d, 32)[0] for d in displays]))[film]
    text, figures = upright_report(held_out_binary(x, y, group, a.folds, a.seed, UPRIGHT_CLASSES, UPRIGHT_L2), y,
                                   film, names, a.folds)
    print("\n" + text)
    model = fit_view_model(x, y, classes=UPRIGHT_CLASSES, l2=UPRIGHT_L2, meta={
        "trained": {"command": command, "seed": a.seed, "films": len(names), "l2": UPRIGHT_L2,
                    "labels": "where the patient's head lies: the readings of datasets/fracatlas-knee where read, else "
                              "up (the films as stored); each film head up and turned by half a turn, and mirrored",
                    "left_out": list(SEEN_TURNED)},
        "cross_validation": {"folds": a.folds, **figures}, "attribution": ATTRIBUTION})
    paths = save_view_model(model, a.upright_out)
    print(f"\nwrote {paths[0]} and {paths[1]}")



def make_lateral_turn_model(a: argparse.Namespace, command: str) -> None:
    """Part 6 of the module docstring: the lateral turn model."""
    import json

    from orthoplan.landmarks.network import prepare_input

    displays, superiors, names = upright_films(Path(a.real), Path(a.references), view="knee-lateral")
    if a.limit:
        displays, superiors, names = displays[: 4 * a.limit], superiors[: 4 * a.limit], names[: 4 * a.limit]
    if len(names) < 10:
        print(f"\nlateral turn model: only {len(names)} lateral knee films: not written")
        return
    x, y, film = turned_examples(displays, superiors, (0, 1, 2, 3))
    group = picture_groups(np.stack([prepare_input(d, 32)[0] for d in displays]))[film]
    p = held_out_probabilities(x, y, group, a.folds, a.seed, LATERAL_TURN_CLASSES, LATERAL_TURN_L2)
    text, figures = lateral_turn_report(p, y, names, a.folds)
    print("\n" + text)
    # the held-out probabilities of each film as stored head up, turned (not mirrored): per film, per class of y
    held = {n: {LATERAL_TURN_CLASSES[int(y[i])]: [round(float(v), 6) for v in p[i]]
                for i in np.nonzero((film == k) & (np.arange(y.size) % 8 < 4))[0]}
            for k, n in enumerate(names)}
    Path(a.lateral_turn_held_out).write_text(json.dumps({"classes": list(LATERAL_TURN_CLASSES), "films": held}))
    model = fit_view_model(x, y, classes=LATERAL_TURN_CLASSES, l2=LATERAL_TURN_L2, meta={
        "trained": {"command": command, "seed": a.seed, "films": len(names), "l2": LATERAL_TURN_L2,
                    "labels": "where the patient's head lies: the readings of datasets/fracatlas-knee where read, else "
                              "up (the films as stored); each film turned head up, then in the four quarter turns, "
                              "and mirrored"},
        "cross_validation": {"folds": a.folds, **figures}, "attribution": ATTRIBUTION})
    paths = save_view_model(model, a.lateral_turn_out)
    print(f"\nwrote {paths[0]} and {paths[1]}; held-out probabilities in {a.lateral_turn_held_out}")


if __name__ == "__main__":
    sys.exit(main())
