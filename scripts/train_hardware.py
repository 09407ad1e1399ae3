#!/usr/bin/env python3
"""Train and measure the metal-hardware classifier (orthoplan.landmarks.hardware).

    python scripts/train_hardware.py                      # cross-validation, then the shipped model
    python scripts/train_hardware.py --skip-cv --threads 2

The films are the FracAtlas hip and knee films of ``../shared/data/real`` (CC BY 4.0); the
label is the dataset's own ``hardware`` flag in each folder's ``index.csv``. Films that are the
same picture (FracAtlas holds duplicates) are kept in one fold. The cross-validation trains one
network per fold on the other folds (seeded) and prints, per threshold, how many films with
metal are found and how many without are taken for such; the table is written into the model's
description (``crossval``) beside the command and the seed.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.errors import OrthoplanError  # noqa: E402
from orthoplan.image import load  # noqa: E402
from orthoplan.landmarks import training  # noqa: E402
from orthoplan.landmarks.crossval import picture_groups  # noqa: E402
from orthoplan.landmarks.hardware import HARDWARE_MIN_PROBABILITY, film_probability  # noqa: E402

FOLDERS = ("fracatlas-hip", "fracatlas-knee")
#: The table's rows: each folder, the real films together, the phantoms.
TABLE_ROWS = FOLDERS + ("real films", "phantoms")
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95)

log = logging.getLogger("train_hardware")


def load_films(root: Path, limit: int | None = None, size: int = training.HARDWARE_INPUT) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Network inputs, labels, names (``folder/file``) and 32-px thumbnails of the films."""
    from orthoplan.landmarks.network import prepare_input

    xs, ys, names, thumbs = [], [], [], []
    for folder in FOLDERS:
        index = root / folder / "index.csv"
        if not index.is_file():
            raise SystemExit(f"train_hardware: {index} not found (--root names the folder of the real films)")
        with open(index, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        if limit:
            rows = [r for r in rows if r["hardware"] == "1"][: limit // 2] + [r for r in rows if r["hardware"] == "0"][
                : limit - limit // 2]
        for r in rows:
            try:
                display = np.asarray(load(root / folder / "images" / r["image_id"]).display, np.float32)
            except OrthoplanError as exc:
                log.warning("skipped %s/%s: %s", folder, r["image_id"], exc.__class__.__name__)
                continue
            xs.append(training.hardware_input(display, size))
            thumbs.append(prepare_input(display, 32)[0])
            ys.append(int(r["hardware"]))
            names.append(f"{folder}/{r['image_id']}")
    return np.stack(xs), np.array(ys), names, np.stack(thumbs)


def phantom_films(n: int, seed: int = 0, size: int = training.HARDWARE_INPUT
                  ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """``n`` phantom pelvises (with the steel calibration ball, which is not hardware; every
    fifth with a hip prosthesis, which is) and ``n`` phantom knees (AP and lateral): without
    them the smooth, bright phantoms of the bundled example were taken for metal."""
    from orthoplan.image import from_dataset
    from orthoplan.landmarks.network import prepare_input
    from orthoplan.phantoms.knee import make_knee_ap, make_knee_lateral
    from orthoplan.phantoms.pelvis import make_pelvis

    rng = np.random.default_rng(seed)
    xs, ys, names, thumbs = [], [], [], []
    for i in range(2 * n):
        s = int(rng.integers(0, 1_000_000))
        if i < n:
            implant = i % 5 == 4
            case = make_pelvis(seed=s, rows=900, columns=1100, detector_spacing_mm=float(rng.uniform(0.33, 0.45)),
                               implant_side="left" if implant else None)
            label, name = int(implant), f"phantoms/pelvis-{s}"
        else:
            make = make_knee_ap if i % 2 == 0 else make_knee_lateral
            case = make(seed=s, side="left" if i % 4 < 2 else "right", rows=1000, columns=800,
                        detector_spacing_mm=float(rng.uniform(0.45, 0.55)))
            label, name = 0, f"phantoms/knee-{s}"
        display = np.asarray(from_dataset(case.dataset).display, np.float32)
        xs.append(training.hardware_input(display, size))
        thumbs.append(prepare_input(display, 32)[0])
        ys.append(label)
        names.append(name)
    return np.stack(xs), np.array(ys), names, np.stack(thumbs)


def folds_by_group(labels: np.ndarray, group: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Fold of each film: whole groups, the groups with metal dealt round first."""
    rng = np.random.default_rng(seed)
    groups = np.unique(group)
    fold_of = dict(zip(groups, rng.integers(0, k, groups.size)))
    metal = np.unique(group[labels == 1])
    rng.shuffle(metal)
    for i, g in enumerate(metal):
        fold_of[g] = i % k
    return np.array([fold_of[g] for g in group])


def predict(net, images: np.ndarray) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), 64):
            ev = net(torch.from_numpy(images[i:i + 64])[:, None]).numpy()
            out += [film_probability(e) for e in ev]
    return np.array(out)


def cross_validate(x, y, group, k, steps, seed, threads, synthetic, members=1) -> np.ndarray:
    fold = folds_by_group(y, group, k, seed)
    p = np.zeros(len(y))
    for f in range(k):
        t0 = time.perf_counter()
        net = training.train_hardware(x[fold != f], y[fold != f], None, steps=steps, seed=seed + f, threads=threads,
                                      synthetic=synthetic, members=members)
        p[fold == f] = predict(net, x[fold == f])
        log.info("fold %d/%d: %.0f s", f + 1, k, time.perf_counter() - t0)
    return p


def table(p: np.ndarray, y: np.ndarray, names: list[str]) -> list[dict]:
    """Per threshold and folder: films with metal found, films without taken for such."""
    rows = []
    for t in THRESHOLDS:
        for folder in TABLE_ROWS:
            sel = np.array([not n.startswith("phantoms/") if folder == "real films" else n.startswith(folder + "/")
                            for n in names])
            rows.append({"threshold": t, "films": folder, "with_metal": int((y[sel] == 1).sum()),
                         "found": int(((p >= t) & (y == 1) & sel).sum()), "without": int((y[sel] == 0).sum()),
                         "false": int(((p >= t) & (y == 0) & sel).sum())})
    return rows


def markdown(rows: list[dict]) -> str:
    out = ["| threshold | films | with metal: found | without: taken for metal |", "| ---: | --- | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r['threshold']:g} | {r['films']} | {r['found']} / {r['with_metal']} | "
                   f"{r['false']} / {r['without']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "real"))
    ap.add_argument("--out", default=str(REPO / "orthoplan" / "landmarks" / "models" / "hardware"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--threshold", type=float, default=HARDWARE_MIN_PROBABILITY)
    ap.add_argument("--synthetic", type=int, default=training.HARDWARE_SYNTHETIC,
                    help="films given synthetic metal per batch of 32")
    ap.add_argument("--input-size", type=int, default=training.HARDWARE_INPUT)
    ap.add_argument("--skip-cv", action="store_true", help="train the model only (no cross-validation)")
    ap.add_argument("--cv-only", action="store_true", help="cross-validate only (write no model)")
    ap.add_argument("--rows", default=None, help="write each film's held-out probability here (JSON)")
    ap.add_argument("--limit", type=int, default=None, help="a few films per folder (a quick test)")
    ap.add_argument("--phantoms", type=int, default=30, help="phantom pelvises and as many phantom knees")
    ap.add_argument("--members", type=int, default=1, help="networks averaged (an ensemble; each from its own seed)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if a.folds < 2:
        ap.error("--folds must be at least 2")
    if a.limit is not None and a.limit < 2:
        ap.error("--limit must be at least 2 (films per folder: half with metal, half without)")
    if a.phantoms < 0:
        ap.error("--phantoms must be 0 or more")
    if a.steps < 1:
        ap.error("--steps must be at least 1")
    if a.members < 1:
        ap.error("--members must be at least 1")
    if not 0.0 < a.threshold < 1.0:
        ap.error("--threshold must lie between 0 and 1")
    if not 0 <= a.synthetic <= training.HARDWARE_BATCH - training.HARDWARE_REAL:
        ap.error(f"--synthetic must lie between 0 and {training.HARDWARE_BATCH - training.HARDWARE_REAL}")
    if a.input_size < 64 or a.input_size % training.HARDWARE_STRIDE:
        ap.error("--input-size must be a multiple of 32, at least 64")
    if a.skip_cv and a.cv_only:
        ap.error("--skip-cv and --cv-only exclude each other")
    root = Path(a.root)
    x, y, names, thumbs = load_films(root, a.limit, a.input_size)
    if a.phantoms:
        px, py, pn, pt = phantom_films(a.phantoms, a.seed, a.input_size)
        x, y, names, thumbs = np.concatenate([x, px]), np.concatenate([y, py]), names + pn, np.concatenate([thumbs, pt])
    group = picture_groups(thumbs)
    log.info("%d films (phantoms included), %d with metal, %d duplicates kept with their picture", len(y), int(y.sum()),
             len(y) - np.unique(group).size)
    cv = None
    if not a.skip_cv:
        p = cross_validate(x, y, group, a.folds, a.steps, a.seed, a.threads, a.synthetic, a.members)
        cv = table(p, y, names)
        real = np.array([not n.startswith("phantoms/") for n in names])
        print(f"**Metal hardware: {a.folds}-fold cross-validation ({int(real.sum())} real films, "
              f"{int(y[real].sum())} with metal; {int((~real).sum())} phantoms)**\n")
        print(markdown(cv))
        if a.rows:
            Path(a.rows).write_text(json.dumps([{"film": n, "hardware": int(t), "probability": round(float(q), 4)}
                                                for n, t, q in zip(names, y, p)], indent=0) + "\n")
    if a.cv_only:
        return 0
    command = "python scripts/train_hardware.py" + ("" if argv is None else " " + " ".join(argv))
    if argv is None:
        command = "python scripts/train_hardware.py " + " ".join(sys.argv[1:])
    res = training.train_hardware(x, y, a.out, steps=a.steps, seed=a.seed, threads=a.threads, command=command.strip(),
                                  attribution=training.FRACATLAS_ATTRIBUTION.split(" Landmark references")[0],
                                  threshold=a.threshold, synthetic=a.synthetic, members=a.members,
                                  extra_meta={"labels": "the FracAtlas hardware flag (index.csv of "
                                              + " and ".join(FOLDERS) + ")",
                                              "crossval": cv, "crossval_folds": a.folds if cv else None})
    print(f"model written: {res.onnx} ({res.seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
