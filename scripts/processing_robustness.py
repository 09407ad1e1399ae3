#!/usr/bin/env python3
"""The learned detectors on real films shown as another site's image processing would show them.

    python scripts/processing_robustness.py --view ap-pelvis          # fold models of train_ap_pelvis.py
    python scripts/processing_robustness.py --view knee-ap            # fold models of train_knee.py
    python scripts/processing_robustness.py --view knee-lateral

Every usable adult film of the view is detected by the cross-validation's fold model that never
saw it (``--workdir``: the ``fold<k>/`` folders that ``scripts/train_ap_pelvis.py`` and
``scripts/train_knee.py`` leave), once as stored and once through each processing below, applied
to the display image. FracAtlas films come from one kind of acquisition; films from other sites
come out of other vendors' processing: edge enhancement, local contrast equalisation, other
tone curves, other noise, other collimation. The table gives, per landmark, the share reported
(confidence ≥ 0.3; pelvis only: the knee cross-validation reports every point) and the median
error against the reading (% of the view's size; knee axis points across the axis), and for knee
films the angles within 2° of the reading's.

Processings (``PROCESSINGS``): ``gamma0.6`` / ``gamma1.6`` (tone curves), ``unsharp`` (an unsharp
mask, σ 3 % of the film, gain 1.5), ``clahe`` (local equalisation, clip limit 0.02), ``noise``
(Gaussian, σ 0.04), ``blur`` (Gaussian, σ 1.5 px), ``pad`` (the film in a 25 % larger black
frame: the anatomy smaller in it).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orthoplan.image import load  # noqa: E402
from orthoplan.landmarks import crossval  # noqa: E402
from orthoplan.landmarks.network import LandmarkModel, load_model  # noqa: E402
from orthoplan.landmarks.references import load_references  # noqa: E402

PAD = 0.25


def _unsharp(d: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return np.clip(d + 1.5 * (d - ndimage.gaussian_filter(d, 0.03 * max(d.shape))), 0, 1)


def _clahe(d: np.ndarray) -> np.ndarray:
    from skimage import exposure

    return exposure.equalize_adapthist(d, clip_limit=0.02)


def _noise(d: np.ndarray) -> np.ndarray:
    return np.clip(d + np.random.default_rng(0).normal(0, 0.04, d.shape), 0, 1)


def _blur(d: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(d, 1.5)


def _pad(d: np.ndarray) -> np.ndarray:
    h, w = d.shape
    return np.pad(d, ((int(h * PAD / 2),) * 2, (int(w * PAD / 2),) * 2))


PROCESSINGS = {"none": lambda d: d, "gamma0.6": lambda d: d ** 0.6, "gamma1.6": lambda d: d ** 1.6,
               "unsharp": _unsharp, "clahe": _clahe, "noise": _noise, "blur": _blur, "pad": _pad}


def _offset(name: str, shape: tuple[int, int]) -> tuple[int, int]:
    """Where the stored film's (0, 0) lies in the processed image."""
    return (int(shape[1] * PAD / 2), int(shape[0] * PAD / 2)) if name == "pad" else (0, 0)


def _all_peaks(m: LandmarkModel) -> LandmarkModel:
    """The model with every peak reported (confidence 1), as the knee cross-validation reads it."""
    return LandmarkModel(m.path, m.view, m.channels, m.input_size, m.stride,
                         {**m.meta, "confidence": {"*": {"score": [-1e9], "confidence": [1.0]}}}, m.session)


def detections(view: crossval.FilmView, refs, root: Path, workdir: Path, folds: int, names: list[str],
               only: list[int] | None = None, all_peaks: bool = False
               ) -> dict[str, dict[str, dict[str, tuple[float, float]]]]:
    """film → processing → landmark → (x, y) in the stored film's pixels (reported points); the
    held-out films of the folds ``only`` (default all). ``all_peaks``: every peak reported (the
    pelvis fold models' own confidence tables set aside, as for the knee), to compare models
    whose tables differ."""
    assign = crossval.folds_of(refs, folds, 0)
    views = ("ap-pelvis", "ap-hip") if view is crossval.AP_PELVIS else (view.view,)
    films = [r for r in refs if r.usable and r.patient == "adult" and r.view in views]
    out: dict[str, dict[str, dict[str, tuple[float, float]]]] = {}
    for fold in only or range(folds):
        w = workdir / f"fold{fold}"
        if view is crossval.AP_PELVIS:
            from orthoplan.landmarks.learned import detect_learned

            model = load_model(w / "ap-pelvis.onnx", view="ap-pelvis")
            model = _all_peaks(model) if all_peaks else model
            run = lambda ref, rad: {lm.name.value: (lm.x, lm.y) for lm in detect_learned(rad, model=model).landmarks}  # noqa: E731
        else:
            family = "knee-ap" if view is crossval.KNEE_AP else "knee"
            model = _all_peaks(load_model(w / f"{family}.onnx", view="knee"))
            axis = load_model(w / "knee.onnx", view="knee") if family == "knee-ap" else None
            fibula = crossval._fold_fibula_model(refs, root, assign, fold) if view is crossval.KNEE_AP else None
            run = lambda ref, rad: {r.name: r.det_xy for r in crossval._detect_and_score(  # noqa: E731
                ref, rad, model, fold, family, fibula, axis) if r.det_xy is not None}
        for ref in films:
            if assign[ref.stem] != fold:
                continue
            rad = load(root / ref.image)
            for name in names:
                d = PROCESSINGS[name](np.asarray(rad.display, np.float32)).astype(np.float32)
                dx, dy = _offset(name, rad.display.shape)
                pts = run(ref, dataclasses.replace(rad, display=d, pixels=d))
                out.setdefault(ref.stem, {})[name] = {n: (x - dx, y - dy) for n, (x, y) in pts.items()}
    return out


def markdown(view: crossval.FilmView, refs, dets, names: list[str]) -> str:
    by = {r.stem: r for r in refs}
    lines = [f"| landmark ({view.view}, {len(dets)} films) | " + " | ".join(names) + " |",
             "| --- | " + " | ".join("---:" for _ in names) + " |"]
    for anatomy in view.anatomies:
        cells = []
        for name in names:
            errs, n = [], 0
            for stem, d in dets.items():
                ref = by[stem]
                for side in ("left", "right"):
                    lm = f"{anatomy}_{side}"
                    p, size = ref.points.get(lm), view.size(ref, side)
                    if p is None or not size:
                        continue
                    n += 1
                    q = d[name].get(lm)
                    if q is None:
                        continue
                    axis = crossval.axis_direction(ref, lm)
                    ex, ey = q[0] - p.x, q[1] - p.y
                    errs.append(100.0 * (abs(ex * axis[1] - ey * axis[0]) if axis else math.hypot(ex, ey)) / size)
            found = f"{100 * len(errs) / n:.0f} %, " if view is crossval.AP_PELVIS and n else ""  # reported
            cells.append(f"{found}{np.median(errs):.1f}" if errs else "–")
        lines.append(f"| {anatomy} | " + " | ".join(cells) + " |")
    if view is not crossval.AP_PELVIS:
        sys.path.insert(0, str(REPO / "scripts"))
        from knee_accuracy import ANGLES, WITHIN_DEG, angles

        for angle in ANGLES[view.view]:
            cells = []
            for name in names:
                diffs = []
                for stem, d in dets.items():
                    det = angles(d[name], view.view)
                    read = angles({n: p.xy for n, p in by[stem].points.items()}, view.view)
                    diffs += [abs(det[k] - read[k]) for k in det if k.startswith(angle + "_") and k in read]
                cells.append(f"{100 * np.mean(np.asarray(diffs) <= WITHIN_DEG):.0f} % of {len(diffs)}" if diffs else "–")
            lines.append(f"| {angle} within 2° | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--view", choices=sorted(crossval.FILM_VIEWS), default="ap-pelvis")
    ap.add_argument("--workdir", help="the cross-validation's fold models (default: the training scripts')")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--fold", type=int, action="append", help="only these folds' held-out films (repeatable)")
    ap.add_argument("--all-peaks", action="store_true", help="pelvis: report every peak (compare models)")
    ap.add_argument("--processing", action="append", choices=sorted(PROCESSINGS),
                    help="repeatable (default: all); 'none' is always included")
    a = ap.parse_args(argv)
    if any(not 0 <= f < a.folds for f in a.fold or ()):
        ap.error(f"--fold must be 0 to {a.folds - 1} (a {a.folds}-fold cross-validation)")
    view = crossval.FILM_VIEWS[a.view]
    pelvis = view is crossval.AP_PELVIS
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", REPO.parent / "shared" / "data"))
    root = shared / "real" / ("fracatlas-hip" if pelvis else "fracatlas-knee")
    refs = load_references(REPO / "datasets" / root.name / "references")
    workdir = Path(a.workdir or ("/tmp/orthoplan-cv" if pelvis else "/tmp/orthoplan-knee-cv"))
    missing = [f for f in (a.fold or range(a.folds)) if not (workdir / f"fold{f}").is_dir()]
    if missing:
        ap.error(f"no fold model folder {workdir / f'fold{missing[0]}'}: run the training script's "
                 "cross-validation first (scripts/train_ap_pelvis.py, scripts/train_knee.py)")
    names = ["none"] + [p for p in (a.processing or PROCESSINGS) if p != "none"]
    print(markdown(view, refs, detections(view, refs, root, workdir, a.folds, names, a.fold, a.all_peaks), names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
