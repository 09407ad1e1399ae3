"""Read reference landmarks on real films, at high zoom, by eye.

A tool for the person (or reading session) who makes the references that train and measure
the landmark detectors. It draws; the reader decides. Every picture carries a grid labelled
in the film's *stored* pixel coordinates (DICOM convention: (0, 0) is the top-left corner of
the top-left pixel), so a point read off a picture is written down as it is.

    python scripts/read_films.py new   IMAGE --reader R --dir datasets/fracatlas-hip/references
    python scripts/read_films.py new   IMAGE --reader R --dir datasets/fracatlas-knee/references --view knee-ap
    python scripts/read_films.py names --view knee-lateral      # the vocabulary of a view
    python scripts/read_films.py show  IMAGE                    # the whole film, CLAHE, grid
    python scripts/read_films.py zoom  IMAGE X Y [--half 25]    # a crop around (X, Y), 6-8x
    python scripts/read_films.py circle "x,y" "x,y" ...         # circle through outline points
    python scripts/read_films.py check REFERENCE.json           # validate + draw every point

Pictures are written under ``$READ_FILMS_OUT`` (default ``/tmp/read-films``) and their
paths printed. The file format is :mod:`orthoplan.landmarks.references`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFile, ImageFont

ImageFile.LOAD_TRUNCATED_IMAGES = True  # one FracAtlas film ends 34 bytes short; its pixels are whole enough to read

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from orthoplan.geometry import fit_circle  # noqa: E402
from orthoplan.landmarks.references import FORMAT, load_reference, reference_to_dict  # noqa: E402

OUT = Path(os.environ.get("READ_FILMS_OUT", "/tmp/read-films"))
METHOD = ("read by eye on CLAHE-enhanced crops upscaled 4-8x with a grid in stored-pixel coordinates "
          "(scripts/read_films.py); heads fitted to >= 8 outline points; every point checked drawn on the film")
KNEE_METHOD = ("read by eye on CLAHE-enhanced crops upscaled 4-8x with a grid in stored-pixel coordinates "
               "(scripts/read_films.py), as docs/reading-films.md says for the view; every point checked drawn "
               "on the film")

ABBREV = {"femoral_head_center": "H", "teardrop": "TD", "ischial_tuberosity": "IT", "lesser_trochanter": "LT",
          "greater_trochanter": "GT", "acetabular_lateral_edge": "LE", "sourcil_medial": "SM",
          "femoral_neck_center": "NC", "femoral_shaft_proximal": "SP", "femoral_shaft_distal": "SD",
          # knee views
          "femoral_condyle_medial": "FCm", "femoral_condyle_lateral": "FCl", "tibial_plateau_medial": "TPm",
          "tibial_plateau_lateral": "TPl", "femoral_epicondyle_medial": "EPm", "femoral_epicondyle_lateral": "EPl",
          "femoral_knee_center": "FKC", "tibial_knee_center": "TKC", "knee_femoral_axis_proximal": "FAp",
          "knee_femoral_axis_distal": "FAd", "knee_tibial_axis_proximal": "TAp", "knee_tibial_axis_distal": "TAd",
          "femoral_anterior_cortex": "FAC", "femoral_posterior_cortex": "FPC", "femoral_posterior_condyle": "PCo",
          "tibial_plateau_anterior": "TPa", "tibial_plateau_posterior": "TPp"}

#: What a reader reads on each view (anatomies; each gets ``_right`` / ``_left``). Definitions:
#: docs/landmarks.md; reading notes: docs/reading-films.md.
VOCABULARY = {
    "ap-pelvis": ("femoral_head_center", "teardrop", "ischial_tuberosity", "lesser_trochanter",
                  "greater_trochanter", "acetabular_lateral_edge", "sourcil_medial", "femoral_neck_center",
                  "femoral_shaft_proximal", "femoral_shaft_distal"),
    "knee-ap": ("femoral_condyle_medial", "femoral_condyle_lateral", "tibial_plateau_medial",
                "tibial_plateau_lateral", "femoral_epicondyle_medial", "femoral_epicondyle_lateral",
                "femoral_knee_center", "tibial_knee_center", "knee_femoral_axis_proximal",
                "knee_femoral_axis_distal", "knee_tibial_axis_proximal", "knee_tibial_axis_distal"),
    "knee-lateral": ("femoral_anterior_cortex", "femoral_posterior_cortex", "femoral_posterior_condyle",
                     "tibial_plateau_anterior", "tibial_plateau_posterior", "knee_femoral_axis_proximal",
                     "knee_femoral_axis_distal", "knee_tibial_axis_proximal", "knee_tibial_axis_distal"),
}
VOCABULARY["ap-hip"] = VOCABULARY["ap-pelvis"]


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def load_grey(path: str | Path) -> np.ndarray:
    """The film as float grey values in [0, 1], bone bright, stored orientation (DICOM through
    orthoplan's loader; a bitmap that the loader refuses as truncated, through Pillow)."""
    from orthoplan.errors import CorruptImageError
    from orthoplan.image import load

    try:
        return np.asarray(load(path).display, dtype=np.float32)
    except CorruptImageError:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def clahe(img: np.ndarray) -> np.ndarray:
    from skimage.exposure import equalize_adapthist

    return equalize_adapthist(img, clip_limit=0.015)


def _grid_step(span_px: float, target_lines: int = 10) -> int:
    raw = span_px / target_lines
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if step >= raw:
            return step
    return 1000


def render(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, zoom: float,
           marks: list[tuple] = (), circles: list[tuple] = (), grid: bool = True) -> Image.Image:
    """The region [x0, x1) x [y0, y1) of ``img`` (stored px) magnified ``zoom`` times, with a
    labelled grid in stored-pixel coordinates, points ``(x, y, label, colour)`` and circles
    ``(cx, cy, r, colour)``."""
    h, w = img.shape
    xa, ya, xb, yb = (int(np.floor(max(0, x0))), int(np.floor(max(0, y0))),
                      int(np.ceil(min(w, x1))), int(np.ceil(min(h, y1))))
    crop = img[ya:yb, xa:xb]
    out_w, out_h = max(1, round((xb - xa) * zoom)), max(1, round((yb - ya) * zoom))
    pil = Image.fromarray((np.clip(crop, 0, 1) * 255).astype(np.uint8)).resize(
        (out_w, out_h), Image.BICUBIC if zoom > 1 else Image.LANCZOS)
    margin = 44
    canvas = Image.new("RGB", (out_w + margin, out_h + margin), (255, 255, 255))
    canvas.paste(pil.convert("RGB"), (margin, margin))
    d = ImageDraw.Draw(canvas)
    font = _font(13)
    to = lambda x, y: (margin + (x - xa) * zoom, margin + (y - ya) * zoom)  # noqa: E731
    if grid:
        step = _grid_step(max(xb - xa, yb - ya))
        for gx in range(int(np.ceil(xa / step) * step), xb + 1, step):
            px = to(gx, 0)[0]
            d.line([(px, margin), (px, margin + out_h)], fill=(0, 170, 255), width=1)
            d.text((px - 10, 4), str(gx), fill=(0, 0, 0), font=font)
        for gy in range(int(np.ceil(ya / step) * step), yb + 1, step):
            py = to(0, gy)[1]
            d.line([(margin, py), (margin + out_w, py)], fill=(0, 170, 255), width=1)
            d.text((2, py - 7), str(gy), fill=(0, 0, 0), font=font)
        if step >= 5 and zoom >= 4:  # minor ticks every pixel edge / 1 px on the border
            minor = 1 if step <= 10 else step // 5
            for gx in range(int(np.ceil(xa / minor) * minor), xb + 1, minor):
                px = to(gx, 0)[0]
                d.line([(px, margin - 6), (px, margin)], fill=(0, 0, 0))
            for gy in range(int(np.ceil(ya / minor) * minor), yb + 1, minor):
                py = to(0, gy)[1]
                d.line([(margin - 6, py), (margin, py)], fill=(0, 0, 0))
    for cx, cy, r, colour in circles:
        a, b = to(cx - r, cy - r), to(cx + r, cy + r)
        d.ellipse([a, b], outline=colour, width=2)
    for x, y, label, colour in marks:
        px, py = to(x, y)
        d.line([(px - 7, py), (px + 7, py)], fill=colour, width=2)
        d.line([(px, py - 7), (px, py + 7)], fill=colour, width=2)
        if label:
            d.text((px + 6, py + 3), label, fill=colour, font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    return canvas


def _save(pil: Image.Image, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    p = OUT / name
    pil.save(p)
    return p


def _side_hint(superior: str) -> str:
    where = {"up": "image LEFT", "down": "image RIGHT", "left": "image BOTTOM", "right": "image TOP"}[superior]
    return (f"with the head {superior} in the stored film, a standard AP view has the patient's RIGHT side on the "
            f"{where} (an R/L marker overrides this)")


def cmd_show(a) -> None:
    img = clahe(load_grey(a.image))
    h, w = img.shape
    zoom = a.size / max(h, w)
    p = _save(render(img, 0, 0, w, h, zoom), f"{Path(a.image).stem}-whole.png")
    print(f"{p}  ({w} x {h} stored px, shown at {zoom:.2f}x)")


def cmd_zoom(a) -> None:
    img = load_grey(a.image)
    h, w = img.shape
    half = a.half or (25 if max(h, w) < 1000 else 120)
    zoom = a.zoom or max(2.0, min(12.0, 420.0 / half))
    ctx = max(3 * half, 64)  # enhance a wider context than the crop, so CLAHE sees the neighbourhood
    ya, yb, xa, xb = (max(0, int(a.y - ctx)), min(h, int(a.y + ctx)), max(0, int(a.x - ctx)), min(w, int(a.x + ctx)))
    local = np.zeros_like(img)
    local[ya:yb, xa:xb] = clahe(img[ya:yb, xa:xb])
    marks = [(float(p.split(",")[0]), float(p.split(",")[1]), "", (255, 40, 40)) for p in a.mark]
    p = _save(render(local, a.x - half, a.y - half, a.x + half, a.y + half, zoom, marks),
              f"{Path(a.image).stem}-zoom-{int(a.x)}-{int(a.y)}.png")
    print(f"{p}  (x {a.x - half:.0f}..{a.x + half:.0f}, y {a.y - half:.0f}..{a.y + half:.0f}, {zoom:.1f}x)")


def cmd_circle(a) -> None:
    pts = np.array([[float(v) for v in s.split(",")] for s in a.points])
    cx, cy, r, rms = fit_circle(pts)
    res = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) - r
    print(json.dumps({"x": round(cx, 2), "y": round(cy, 2), "radius": round(r, 2), "rms": round(rms, 3),
                      "residuals": [round(float(v), 2) for v in res]}))


def cmd_new(a) -> None:
    img = load_grey(a.image)
    h, w = img.shape
    root = Path(a.root).resolve() if a.root else Path(a.image).resolve().parents[1]
    rel = os.path.relpath(Path(a.image).resolve(), root)
    target = Path(a.dir) / f"{Path(a.image).stem}.json"
    if target.exists() and not a.force:
        sys.exit(f"{target} exists (--force to overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    sides = ("assumed standard AP display (no marker)" if a.view in ("ap-pelvis", "ap-hip")
             else "to be decided: fibula lateral on an AP film; an L/R marker; else side_known false")
    doc = {"format": FORMAT, "image": rel, "width": w, "height": h, "view": a.view, "usable": True,
           "patient": "adult", "superior": "up", "sides_from": sides,
           "findings": [], "reader": a.reader, "read_on": dt.date.today().isoformat(),
           "method": KNEE_METHOD if a.view.startswith("knee") else METHOD,
           "landmarks": {}, "missing": {}, "notes": ""}
    target.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{target}  ({w} x {h}, view {a.view}); {_side_hint('up')}")
    print("read: " + ", ".join(VOCABULARY[a.view]) + " (each _right / _left)")


def cmd_names(a) -> None:
    for anatomy in VOCABULARY[a.view]:
        print(f"{anatomy:30s} {ABBREV.get(anatomy, '')}")


def _image_of(ref, reference_path: str, root: str | None) -> Path:
    """The film of a reference: under ``root``, else under the shared data's folder of the
    same name as the data set's (``$ORTHOPLAN_SHARED_DATA`` or ``../shared/data/real``)."""
    dataset = Path(reference_path).resolve().parents[1]
    shared = Path(os.environ.get("ORTHOPLAN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared/data/real"))
    for base in ([Path(root)] if root else []) + [dataset, shared / dataset.name]:
        if (base / ref.image).exists():
            return base / ref.image
    sys.exit(f"cannot find {ref.image} (give --root)")


def cmd_check(a) -> None:
    ref = load_reference(a.reference)
    Path(a.reference).write_text(json.dumps(reference_to_dict(ref), indent=1) + "\n")  # circles written out
    image = _image_of(ref, a.reference, a.root)
    img = clahe(load_grey(image))
    h, w = img.shape
    marks, circles = [], []
    for name, p in ref.points.items():
        anatomy, side = name.rsplit("_", 1)
        colour = (255, 60, 60) if side == "right" else (60, 255, 60)
        marks.append((p.x, p.y, ABBREV.get(anatomy, anatomy[:3]) + side[0].upper(), colour))
        if p.radius:
            circles.append((p.x, p.y, p.radius, colour))
    zoom = a.size / max(h, w)
    whole = render(img, 0, 0, w, h, zoom, marks, circles)
    paths = [_save(whole, f"{ref.stem}-check.png")]
    for side in ("right", "left"):
        pts = [(p.x, p.y) for n, p in ref.points.items() if n.endswith("_" + side)]
        if not pts:
            continue
        arr = np.array(pts)
        x0, y0 = arr.min(0) - 0.06 * max(h, w)
        x1, y1 = arr.max(0) + 0.06 * max(h, w)
        z = min(8.0, 700.0 / max(x1 - x0, y1 - y0))
        paths.append(_save(render(img, x0, y0, x1, y1, z, marks, circles), f"{ref.stem}-check-{side}.png"))
    print(f"ok: {len(ref.points)} points, {len(ref.missing)} missing; view {ref.view}, patient {ref.patient}")
    sides = {n.rsplit("_", 1)[1] for n in list(ref.points) + list(ref.missing)}
    unread = [f"{anatomy}_{side}" for side in sorted(sides) for anatomy in VOCABULARY.get(ref.view, ())
              if f"{anatomy}_{side}" not in ref.points and f"{anatomy}_{side}" not in ref.missing]
    if ref.usable and unread:
        print("NOT YET READ OR MISSING (read them, or give the reason in 'missing'): " + ", ".join(unread))
    for n, p in sorted(ref.points.items()):
        extra = f" r={p.radius:.1f} rms={p.fit_rms:.2f}" if p.radius and p.fit_rms is not None else ""
        print(f"  {n:34s} ({p.x:7.1f}, {p.y:7.1f}) {p.certainty}{extra}")
    print("pictures: " + " ".join(map(str, paths)))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("show", help="the whole film with CLAHE and a grid")
    s.add_argument("image")
    s.add_argument("--size", type=int, default=1000, help="longest side of the picture (px)")
    s.set_defaults(run=cmd_show)
    s = sub.add_parser("zoom", help="a magnified crop around (X, Y)")
    s.add_argument("image")
    s.add_argument("x", type=float)
    s.add_argument("y", type=float)
    s.add_argument("--half", type=float, help="half the crop's side in stored px (25 on small films, 120 on large)")
    s.add_argument("--zoom", type=float, help="magnification (default: the crop shown about 840 px wide)")
    s.add_argument("--mark", action="append", default=[], help="draw a cross at 'x,y' (repeatable)")
    s.set_defaults(run=cmd_zoom)
    s = sub.add_parser("circle", help="least-squares circle through outline points 'x,y'")
    s.add_argument("points", nargs="+")
    s.set_defaults(run=cmd_circle)
    s = sub.add_parser("new", help="a new reference file for IMAGE")
    s.add_argument("image")
    s.add_argument("--reader", required=True)
    s.add_argument("--dir", required=True, help="the reading's folder")
    s.add_argument("--root", help="the data set's root (default: the image's folder's parent)")
    s.add_argument("--view", default="ap-pelvis", choices=sorted(VOCABULARY))
    s.add_argument("--force", action="store_true")
    s.set_defaults(run=cmd_new)
    s = sub.add_parser("names", help="the landmark vocabulary of a view")
    s.add_argument("--view", default="ap-pelvis", choices=sorted(VOCABULARY))
    s.set_defaults(run=cmd_names)
    s = sub.add_parser("check", help="validate a reference and draw every point")
    s.add_argument("reference")
    s.add_argument("--root", help="the data set's root (default: ../shared/data/real/<data set>)")
    s.add_argument("--size", type=int, default=1000)
    s.set_defaults(run=cmd_check)
    a = ap.parse_args(argv)
    a.run(a)


if __name__ == "__main__":
    main()
