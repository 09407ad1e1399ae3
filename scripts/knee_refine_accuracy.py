"""How well :func:`orthoplan.landmarks.knee_refine.refine_joint_point` moves knee joint-line points
onto the feature on real films, against our reference readings.

For every usable adult reference point of the joint-line anatomies (AP: femoral condyles and
tibial plateau margins; lateral: posterior condyle, anterior and posterior plateau rims), start
points are put at the reference plus a seeded random offset:

* ``network``: 2-6 % of the film's size (condylar width on AP films, femoral AP width on lateral
  ones), in a random direction: the error a learned detector on a reduced film makes;
* ``click``: anywhere within 10 mm (uniform over the disc), at the film's plausible scale.

The films have no spacing: the plausible scale is 80 mm over the condylar width read on the film
(AP; :func:`orthoplan.landmarks.crossval.condylar_width`) or 65 mm over the femoral AP width
(lateral). The directions the function is given come from the same reading (the femoral or tibial
axis points for ``down``, the epicondyles or the plateau rims for the side), as a caller would
take them from the detector's other points.

Reported per anatomy and start kind: the share of points within 2 mm (and within 3 % of the size)
of the reference for the start and for the result (the start where the function is unsure), the
share unsure (``None``), the share made worse (further from the reference than the start), and
the same shares against the second reading where the film was read twice, beside the reader
floor (the share of points the two readers put within 2 mm of each other).

    PYTHONPATH=. python3 scripts/knee_refine_accuracy.py [--seed 0] [--repeats 3] [--draw /tmp/kr-draw]
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from orthoplan.landmarks.crossval import condylar_width, femoral_ap_width  # noqa: E402
from orthoplan.landmarks.knee_refine import UNRELIABLE, refine_condyle_pair, refine_joint_point_details  # noqa: E402
from orthoplan.landmarks.references import Reference, load_references  # noqa: E402

log = logging.getLogger("knee_refine_accuracy")

REPO = Path(__file__).resolve().parents[1]
REFS = REPO / "datasets" / "fracatlas-knee" / "references"
SECOND = REPO / "datasets" / "fracatlas-knee" / "second-reading"
ROOT = REPO.parent / "shared" / "data" / "real" / "fracatlas-knee"

AP_ANATOMIES = ("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial", "tibial_plateau_lateral")
LATERAL_ANATOMIES = ("femoral_posterior_condyle", "tibial_plateau_anterior", "tibial_plateau_posterior")
#: A typical adult size (mm): condylar width (AP), femoral AP width (lateral).
SIZE_MM = {"knee-ap": 80.0, "knee-lateral": 65.0}
NETWORK_PCT = (2.0, 6.0)
CLICK_MM = 10.0
#: The condyles' distal points are extreme perpendicular to the tangent through both condyles:
#: the other condyle's point (the reading's, plus a network-like offset) gives that tangent.
TANGENT_PARTNER = {"femoral_condyle_medial": "femoral_condyle_lateral",
                   "femoral_condyle_lateral": "femoral_condyle_medial"}
NEAR_MM = 2.0
NEAR_PCT = 3.0


def load_display(path: Path) -> np.ndarray:
    """The film as ``Radiograph.display`` (bone bright, [0, 1]); a bitmap the loader refuses as
    truncated (one FracAtlas film) through Pillow."""
    from orthoplan.errors import CorruptImageError
    from orthoplan.image import load

    try:
        return np.asarray(load(path).display, dtype=np.float32)
    except CorruptImageError:
        from PIL import Image, ImageFile

        ImageFile.LOAD_TRUNCATED_IMAGES = True
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def _xy(ref: Reference, name: str) -> np.ndarray | None:
    p = ref.points.get(name)
    return None if p is None else np.array(p.xy)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / float(np.hypot(*v))


def _superior_down(ref: Reference) -> np.ndarray:
    return {"up": np.array([0.0, 1.0]), "down": np.array([0.0, -1.0]),
            "left": np.array([1.0, 0.0]), "right": np.array([-1.0, 0.0])}[ref.superior]


def directions(ref: Reference, anatomy: str, side: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(down, lateral)`` for a point, from the same reading's other points (see the module doc)."""
    bone = "femoral" if anatomy.startswith("femoral") else "tibial"
    prox, dist = _xy(ref, f"knee_{bone}_axis_proximal_{side}"), _xy(ref, f"knee_{bone}_axis_distal_{side}")
    down = _unit(dist - prox) if prox is not None and dist is not None and np.hypot(*(dist - prox)) > 1 \
        else _superior_down(ref)
    perp = np.array([-down[1], down[0]])
    if ref.view == "knee-ap":
        pairs = (("femoral_epicondyle_medial", "femoral_epicondyle_lateral"),
                 ("tibial_plateau_medial", "tibial_plateau_lateral"))
    elif bone == "femoral":
        pairs = (("femoral_posterior_cortex", "femoral_anterior_cortex"),
                 ("femoral_posterior_condyle", "femoral_anterior_cortex"))
    else:
        pairs = (("tibial_plateau_posterior", "tibial_plateau_anterior"),)
    for a, b in pairs:
        pa, pb = _xy(ref, f"{a}_{side}"), _xy(ref, f"{b}_{side}")
        if pa is not None and pb is not None:
            s = float(perp @ (pb - pa))
            if abs(s) > 1:
                return down, perp * math.copysign(1.0, s)
    return None


def tangent_down(start: np.ndarray, other: np.ndarray, down: np.ndarray) -> np.ndarray:
    """Perpendicular to the condylar tangent (the line from ``start`` to the other condyle's
    point), on the side of ``down``: the direction the condyles' distal points are extreme in."""
    t = other - start
    perp = _unit(np.array([-t[1], t[0]]))
    perp = perp if float(perp @ down) >= 0 else -perp
    return perp if float(perp @ down) > math.cos(math.radians(30)) else down  # a tangent 30° off: not one


def size_px(ref: Reference, side: str) -> float | None:
    return condylar_width(ref, side) if ref.view == "knee-ap" else femoral_ap_width(ref, side)


def starts(rng: np.random.Generator, ref_xy: np.ndarray, size: float, mm_per_px: float, repeats: int
           ) -> dict[str, list[np.ndarray]]:
    """Seeded start points around a reference point, per kind."""
    out: dict[str, list[np.ndarray]] = {"network": [], "click": []}
    for _ in range(repeats):
        a = rng.uniform(0, 2 * math.pi)
        r = rng.uniform(*NETWORK_PCT) / 100.0 * size
        out["network"].append(ref_xy + r * np.array([math.cos(a), math.sin(a)]))
        a = rng.uniform(0, 2 * math.pi)
        r = CLICK_MM * math.sqrt(rng.uniform()) / mm_per_px
        out["click"].append(ref_xy + r * np.array([math.cos(a), math.sin(a)]))
    return out


def evaluate(refs: list[Reference], second: dict[str, Reference], root: Path, seed: int, repeats: int,
             draw: Path | None = None) -> list[dict]:
    """One row per (point, start): distances in mm to the reference and the second reading."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for ref in refs:
        if not ref.usable or ref.patient != "adult" or ref.view not in SIZE_MM:
            continue
        anatomies = AP_ANATOMIES if ref.view == "knee-ap" else LATERAL_ANATOMIES
        img = None
        marks = []
        for side in ("right", "left"):
            size = size_px(ref, side)
            if not size:
                continue
            mm = SIZE_MM[ref.view] / size
            for anatomy in anatomies:
                name = f"{anatomy}_{side}"
                p = _xy(ref, name)
                dirs = directions(ref, anatomy, side)
                if p is None or dirs is None:
                    continue
                if img is None:
                    img = load_display(root / ref.image)
                q = _xy(second[ref.stem], name) if ref.stem in second else None
                other = _xy(ref, f"{TANGENT_PARTNER[anatomy]}_{side}") if anatomy in TANGENT_PARTNER else None
                for kind, pts in starts(rng, p, size, mm, repeats).items():
                    for s in pts:
                        s = np.clip(s, 0, [img.shape[1], img.shape[0]])
                        down = dirs[0]
                        if other is not None:  # the condylar tangent through the other condyle's network point
                            a = rng.uniform(0, 2 * math.pi)
                            o = other + rng.uniform(*NETWORK_PCT) / 100.0 * size * np.array([math.cos(a), math.sin(a)])
                            down = tangent_down(s, o, dirs[0])
                        got = refine_joint_point_details(img, anatomy, s, down, dirs[1], mm,
                                                         include_unreliable=True)
                        rows.append(_row(ref, anatomy, kind, size, mm, got, s, p, q))
                        marks.append((s, s if got.xy is None else np.array(got.xy), p, q, got.xy is None))
                if anatomy == "femoral_condyle_medial" and other is not None:
                    rows += _pair_rows(rng, img, ref, side, size, mm, dirs[0], repeats, second.get(ref.stem))
        if draw is not None and img is not None and marks:
            _draw(img, marks, draw / f"{ref.stem}.png")
    return rows


def _row(ref: Reference, anatomy: str, kind: str, size: float, mm: float, got, s: np.ndarray, p: np.ndarray,
         q: np.ndarray | None) -> dict:
    end = s if got.xy is None else np.array(got.xy)
    return {"stem": ref.stem, "view": ref.view, "anatomy": anatomy, "kind": kind, "size_px": size, "mm_per_px": mm,
            "unsure": got.xy is None, "reason": got.reason, "confidence": got.confidence,
            "start_mm": float(np.hypot(*(s - p))) * mm, "end_mm": float(np.hypot(*(end - p))) * mm,
            "start2_mm": None if q is None else float(np.hypot(*(s - q))) * mm,
            "end2_mm": None if q is None else float(np.hypot(*(end - q))) * mm,
            "readers_mm": None if q is None else float(np.hypot(*(p - q))) * mm}


def _pair_rows(rng: np.random.Generator, img: np.ndarray, ref: Reference, side: str, size: float, mm: float,
               down: np.ndarray, repeats: int, second: Reference | None) -> list[dict]:
    """Both condyles refined together (:func:`refine_condyle_pair`): each start network-like, or
    one of them a click (the other network-like); only the clicked one is counted for a click."""
    names = ("femoral_condyle_medial", "femoral_condyle_lateral")
    ps = [_xy(ref, f"{a}_{side}") for a in names]
    qs = [None if second is None else _xy(second, f"{a}_{side}") for a in names]
    rows = []
    lim = np.array([img.shape[1], img.shape[0]])
    for _ in range(repeats):
        net = [np.clip(p + _offset(rng, rng.uniform(*NETWORK_PCT) / 100.0 * size), 0, lim) for p in ps]
        got = refine_condyle_pair(img, net[0], net[1], down, mm)
        rows += [_row(ref, a, "network, pair", size, mm, g, s, p, q) for a, g, s, p, q in zip(names, got, net, ps, qs)]
        for k in (0, 1):
            starts_ = list(net)
            starts_[k] = np.clip(ps[k] + _offset(rng, CLICK_MM * math.sqrt(rng.uniform()) / mm), 0, lim)
            got = refine_condyle_pair(img, starts_[0], starts_[1], down, mm)
            rows.append(_row(ref, names[k], "click, pair", size, mm, got[k], starts_[k], ps[k], qs[k]))
    return rows


def _offset(rng: np.random.Generator, r: float) -> np.ndarray:
    a = rng.uniform(0, 2 * math.pi)
    return r * np.array([math.cos(a), math.sin(a)])


def _draw(img: np.ndarray, marks: list, path: Path) -> None:
    """The knee with each start (blue), result (yellow; grey when unsure), reference (red) and
    second reading (green)."""
    from PIL import Image, ImageDraw

    pts = np.array([m[2] for m in marks])
    pad = 0.35 * max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 20)
    x0, y0 = np.maximum(0, pts.min(axis=0) - pad).astype(int)
    x1, y1 = np.minimum([img.shape[1], img.shape[0]], pts.max(axis=0) + pad).astype(int)
    zoom = 900.0 / max(x1 - x0, y1 - y0)
    crop = img[y0:y1, x0:x1]
    lo, hi = np.percentile(crop, [1, 99])
    pil = Image.fromarray((np.clip((crop - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8))
    pil = pil.resize((round((x1 - x0) * zoom), round((y1 - y0) * zoom)), Image.BICUBIC).convert("RGB")
    d = ImageDraw.Draw(pil)
    to = lambda v: ((v[0] - x0) * zoom, (v[1] - y0) * zoom)  # noqa: E731

    def cross(v, colour, r=5):
        x, y = to(v)
        d.line([(x - r, y), (x + r, y)], fill=colour, width=2)
        d.line([(x, y - r), (x, y + r)], fill=colour, width=2)

    for s, end, p, q, unsure in marks:
        d.line([to(s), to(end)], fill=(80, 80, 255), width=1)
        cross(s, (80, 80, 255), 3)
        cross(end, (150, 150, 150) if unsure else (255, 230, 0))
        cross(p, (255, 0, 0), 7)
        if q is not None:
            cross(q, (0, 220, 0), 7)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path)


def _share(values) -> float:
    v = list(values)
    return 100.0 * sum(v) / len(v) if v else math.nan


def table(rows: list[dict]) -> str:
    """The markdown table of :func:`evaluate`'s rows."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["view"], r["anatomy"], r["kind"])].append(r)
    order = {a: i for i, a in enumerate(AP_ANATOMIES + LATERAL_ANATOMIES)}
    lines = ["| view | landmark | start | starts (points) | start ≤ 2 mm | refined ≤ 2 mm | start ≤ 3 % | "
             "refined ≤ 3 % | median mm start → refined | unsure | worse | 2nd reading: starts | "
             "start ≤ 2 mm | refined ≤ 2 mm | readers ≤ 2 mm |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    fmt = lambda v: "–" if math.isnan(v) else f"{v:.0f} %"  # noqa: E731
    kinds = {"network": 0, "network, pair": 1, "click": 2, "click, pair": 3}
    for key in sorted(groups, key=lambda k: (k[0], order[k[1]], kinds[k[2]])):
        g = groups[key]
        pct = lambda r, k: r[k] / r["mm_per_px"] / r["size_px"] * 100.0  # noqa: E731
        two = [r for r in g if r["end2_mm"] is not None]
        pts = len({(r["stem"], r["anatomy"]) for r in g})
        mark = " (†)" if key[1] in UNRELIABLE else ""
        lines.append(
            f"| {key[0]} | `{key[1]}`{mark} | {key[2]} | {len(g)} ({pts}) | "
            f"{fmt(_share(r['start_mm'] <= NEAR_MM for r in g))} | {fmt(_share(r['end_mm'] <= NEAR_MM for r in g))} | "
            f"{fmt(_share(pct(r, 'start_mm') <= NEAR_PCT for r in g))} | "
            f"{fmt(_share(pct(r, 'end_mm') <= NEAR_PCT for r in g))} | "
            f"{np.median([r['start_mm'] for r in g]):.1f} → {np.median([r['end_mm'] for r in g]):.1f} | "
            f"{fmt(_share(r['unsure'] for r in g))} | {fmt(_share(r['end_mm'] > r['start_mm'] for r in g))} | "
            f"{len(two)} | {fmt(_share(r['start2_mm'] <= NEAR_MM for r in two))} | "
            f"{fmt(_share(r['end2_mm'] <= NEAR_MM for r in two))} | {fmt(_share(r['readers_mm'] <= NEAR_MM for r in two))} |")
    if any(k[1] in UNRELIABLE for k in groups):
        lines.append("\n(†) measured with `include_unreliable=True`: `refine_joint_point` returns None for it.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refs", type=Path, default=REFS)
    ap.add_argument("--second", type=Path, default=SECOND)
    ap.add_argument("--root", type=Path, default=ROOT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="start points of each kind per reference point")
    ap.add_argument("--view", choices=("knee-ap", "knee-lateral"), default=None)
    ap.add_argument("--limit", type=int, default=None, help="only the first N films (a quick look)")
    ap.add_argument("--draw", type=Path, default=None, help="write one PNG per film here")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("orthoplan").setLevel(logging.WARNING)  # "RGB bitmap ... greyscale" for every JPEG
    refs = [r for r in load_references(a.refs) if a.view is None or r.view == a.view][:a.limit]
    second = {r.stem: r for r in load_references(a.second)} if a.second.is_dir() else {}
    rows = evaluate(refs, second, a.root, a.seed, a.repeats, a.draw)
    sys.stdout.write(table(rows) + "\n")


if __name__ == "__main__":
    main()
