"""Reference landmarks read by people on real films: the file format, read and checked.

One JSON file per film and reading (``datasets/<set>/<reading>/<image stem>.json``)::

    {
      "format": "orthoplan-landmark-reference/1",
      "image": "images/IMG0000041.jpg",      # relative to the data set's root
      "width": 2304, "height": 2880,          # stored pixels
      "view": "ap-pelvis",                    # or ap-hip, knee-ap, knee-lateral, other
      "usable": true,                         # false: not this view / nothing to read (say why)
      "patient": "adult",                     # adult | adolescent | child | unknown
      "superior": "up",                       # where the patient's head is in the stored film
      "sides_from": "assumed standard AP display (no marker)",
      "side_known": true,                     # false: which knee is not on the film (lateral, no
                                              # marker); its points are then named _right
      "findings": ["plate in the left proximal femur"],
      "reader": "reader-a", "read_on": "2026-12-06",
      "method": "CLAHE crops at 6-8x with a pixel grid (scripts/read_films.py)",
      "landmarks": {
        "femoral_head_center_left": {"x": 812.4, "y": 640.2, "certainty": "clear",
                                     "radius": 48.1, "outline": [[x, y], ...]},
        "teardrop_left": {"x": 700.5, "y": 690.0, "certainty": "probable"}
      },
      "missing": {"lesser_trochanter_right": "leg internally rotated: not visible"},
      "notes": "free text"
    }

Coordinates are image ``(x, y)`` in *stored* pixels with the DICOM SCOORD origin (the
centre of array element ``[r, c]`` is ``(c + 0.5, r + 0.5)``). A femoral head given by its
outline points gets its centre and radius from :func:`orthoplan.geometry.fit_circle`.
Sides are the patient's.

Examples
--------
>>> ref = parse_reference({"format": FORMAT, "image": "a.jpg", "width": 100, "height": 80,
...     "view": "ap-pelvis", "usable": True, "reader": "r1",
...     "landmarks": {"teardrop_left": {"x": 50, "y": 40, "certainty": "clear"}}})
>>> ref.points["teardrop_left"].xy, ref.points["teardrop_left"].certainty
((50.0, 40.0), 'clear')
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import LandmarkError
from ..geometry import fit_circle
from ..model import LandmarkName

FORMAT = "orthoplan-landmark-reference/1"
VIEWS = ("ap-pelvis", "ap-hip", "knee-ap", "knee-lateral", "other")
PATIENTS = ("adult", "adolescent", "child", "unknown")
SUPERIOR = ("up", "down", "left", "right")
#: How sure the reader was of a point: clear (seen sharply), probable, uncertain.
CERTAINTIES = ("clear", "probable", "uncertain")

__all__ = ["FORMAT", "ReferencePoint", "Reference", "parse_reference", "load_reference",
           "load_references", "reference_to_dict", "median_reading"]


@dataclass(frozen=True)
class ReferencePoint:
    """One read point (``radius`` for circles, ``outline`` the points a circle was fitted to)."""

    name: str
    x: float
    y: float
    certainty: str
    radius: float | None = None
    outline: tuple[tuple[float, float], ...] = ()
    fit_rms: float | None = None

    @property
    def xy(self) -> tuple[float, float]:
        return (self.x, self.y)


@dataclass(frozen=True)
class Reference:
    """One reading of one film (see the module docstring for the file format)."""

    image: str
    width: int
    height: int
    view: str
    usable: bool
    reader: str
    points: Mapping[str, ReferencePoint] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)
    patient: str = "unknown"
    superior: str = "up"
    sides_from: str = ""
    side_known: bool = True
    findings: tuple[str, ...] = ()
    read_on: str = ""
    method: str = ""
    notes: str = ""
    path: str = ""

    @property
    def stem(self) -> str:
        return Path(self.image).stem

    @property
    def marker_letter(self) -> str | None:
        """The side marker's letter (``"R"``/``"L"``) the reader saw on the film, as ``sides_from``
        begins: ``"R marker ..."``, ``"L KNEE marker ..."``, ``"mirror-image 'L' marker ..."``,
        ``"faint mirrored L marker ..."``; None where it names none.

        >>> Reference("a.jpg", 10, 10, "knee-ap", True, "r", sides_from="L KNEE marker; fibula agrees").marker_letter
        'L'
        >>> Reference("a.jpg", 10, 10, "knee-ap", True, "r", sides_from="no L/R marker on the film").marker_letter is None
        True
        """
        said = _MARKER_SAID.match(self.sides_from)
        return said.group(1) if said else None


#: How a reader's ``sides_from`` says the film carries a side marker (:attr:`Reference.marker_letter`).
_MARKER_SAID = re.compile(r"^(?:faint )?(?:mirror(?:ed|-image) )?'?([RL])'?(?: KNEE)? marker")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LandmarkError(f"{what}: not a finite number ({value!r})")
    return float(value)


def _point(name: str, value: Mapping[str, Any], width: int, height: int, where: str) -> ReferencePoint:
    if name not in LandmarkName.__members__.values():
        raise LandmarkError(f"{where}: unknown landmark {name!r}")
    if not isinstance(value, Mapping):
        raise LandmarkError(f"{where}: {name} must be an object with x, y and certainty")
    certainty = value.get("certainty")
    if certainty not in CERTAINTIES:
        raise LandmarkError(f"{where}: {name} certainty must be one of {', '.join(CERTAINTIES)}")
    outline = tuple((_number(p[0], f"{where}: {name} outline"), _number(p[1], f"{where}: {name} outline"))
                    for p in value.get("outline", ()) or ())
    radius = value.get("radius")
    rms = None
    if outline:
        if len(outline) < 5:
            raise LandmarkError(f"{where}: {name} outline needs at least 5 points, got {len(outline)}")
        cx, cy, r, rms = fit_circle(np.asarray(outline))
        x, y, radius = cx, cy, r
    else:
        x = _number(value.get("x"), f"{where}: {name}.x")
        y = _number(value.get("y"), f"{where}: {name}.y")
        if radius is not None:
            radius = _number(radius, f"{where}: {name}.radius")
    if not (-0.5 * width <= x <= 1.5 * width and -0.5 * height <= y <= 1.5 * height):
        raise LandmarkError(f"{where}: {name} at ({x:.1f}, {y:.1f}) is far outside the {width} x {height} film")
    return ReferencePoint(name, float(x), float(y), certainty, None if radius is None else float(radius),
                          outline, None if rms is None else float(rms))


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise LandmarkError(f"{where}: side_known must be true or false")
    return value


def parse_reference(data: Mapping[str, Any], where: str = "reference") -> Reference:
    """Validate a reference document (a parsed JSON object) and return a :class:`Reference`.

    Raises :class:`~orthoplan.errors.LandmarkError` naming what is wrong.
    """
    if not isinstance(data, Mapping):
        raise LandmarkError(f"{where}: not a JSON object")
    if data.get("format") != FORMAT:
        raise LandmarkError(f"{where}: format must be {FORMAT!r}")
    for key in ("image", "reader"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise LandmarkError(f"{where}: {key!r} is required")
    width, height = data.get("width"), data.get("height")
    if not all(isinstance(v, int) and v > 0 for v in (width, height)):
        raise LandmarkError(f"{where}: width and height must be positive integers")
    view = data.get("view")
    if view not in VIEWS:
        raise LandmarkError(f"{where}: view must be one of {', '.join(VIEWS)}")
    patient = data.get("patient", "unknown")
    if patient not in PATIENTS:
        raise LandmarkError(f"{where}: patient must be one of {', '.join(PATIENTS)}")
    superior = data.get("superior", "up")
    if superior not in SUPERIOR:
        raise LandmarkError(f"{where}: superior must be one of {', '.join(SUPERIOR)}")
    points = {name: _point(name, v, width, height, where) for name, v in (data.get("landmarks") or {}).items()}
    missing = {str(k): str(v) for k, v in (data.get("missing") or {}).items()}
    for name in missing:
        if name not in LandmarkName.__members__.values():
            raise LandmarkError(f"{where}: unknown landmark {name!r} in missing")
    both = set(points) & set(missing)
    if both:
        raise LandmarkError(f"{where}: {sorted(both)[0]} is both read and missing")
    return Reference(
        image=data["image"], width=width, height=height, view=view, usable=bool(data.get("usable", True)),
        reader=data["reader"], points=points, missing=missing, patient=patient, superior=superior,
        sides_from=str(data.get("sides_from", "")), side_known=_flag(data.get("side_known", True), where),
        findings=tuple(map(str, data.get("findings", ()) or ())),
        read_on=str(data.get("read_on", "")), method=str(data.get("method", "")), notes=str(data.get("notes", "")),
        path=where,
    )


def load_reference(path: str | Path) -> Reference:
    """Read and validate one reference file."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LandmarkError(f"{p.name}: cannot read the reference ({exc.__class__.__name__})") from exc
    return parse_reference(data, where=str(p))


def load_references(folder: str | Path) -> list[Reference]:
    """Every reference file (``*.json``) of a reading folder, sorted by image."""
    return sorted((load_reference(p) for p in Path(folder).glob("*.json")), key=lambda r: r.image)


def reference_to_dict(ref: Reference) -> dict:
    """The JSON document of a reference (fitted circles written out with their outline)."""
    lms = {}
    for name, p in ref.points.items():
        d: dict[str, Any] = {"x": round(p.x, 2), "y": round(p.y, 2), "certainty": p.certainty}
        if p.radius is not None:
            d["radius"] = round(p.radius, 2)
        if p.outline:
            d["outline"] = [[round(a, 2), round(b, 2)] for a, b in p.outline]
            d["fit_rms"] = round(p.fit_rms or 0.0, 3)
        lms[name] = d
    return {"format": FORMAT, "image": ref.image, "width": ref.width, "height": ref.height, "view": ref.view,
            "usable": ref.usable, "patient": ref.patient, "superior": ref.superior, "sides_from": ref.sides_from,
            "side_known": ref.side_known,
            "findings": list(ref.findings), "reader": ref.reader, "read_on": ref.read_on, "method": ref.method,
            "landmarks": lms, "missing": dict(ref.missing), "notes": ref.notes}



def median_reading(readings: Sequence[Reference]) -> Reference:
    """A consensus of several independent readings of one film: each point that every reading
    read, at the coordinate-wise median of their positions (their mean for two readings; for
    three, one reader's gross slip does not move it); a circle's radius likewise. Its error
    against the truth is a reader's over about the square root of the number of readings, so
    a detector measured against it is charged less of the readers' own error than against one.
    Usable only where every reading is; the least sure certainty of a point's readings.

    >>> a, b, c = (Reference("f.jpg", 100, 100, "ap-pelvis", True, r,
    ...                      {"teardrop_left": ReferencePoint("teardrop_left", x, 50.0, "clear")})
    ...            for r, x in (("r1", 10.0), ("r2", 12.0), ("r3", 40.0)))
    >>> m = median_reading([a, b, c])
    >>> m.points["teardrop_left"].xy, m.reader
    ((12.0, 50.0), 'r1+r2+r3')
    """
    readings = list(readings)
    if not readings or not all(isinstance(r, Reference) for r in readings) or len({r.stem for r in readings}) != 1:
        raise LandmarkError("a median reading needs one or more readings (Reference) of the same film")
    first = readings[0]
    points = {}
    for name in first.points:
        ps = [r.points.get(name) for r in readings]
        if any(q is None for q in ps):
            continue
        radii = [q.radius for q in ps]
        points[name] = ReferencePoint(
            name, float(np.median([q.x for q in ps])), float(np.median([q.y for q in ps])),
            max((q.certainty for q in ps), key=CERTAINTIES.index),
            float(np.median(radii)) if all(v is not None for v in radii) else None)
    return replace(first, points=points, usable=all(r.usable for r in readings),
                   reader="+".join(r.reader for r in readings), method="median of independent readings",
                   missing={k: v for k, v in first.missing.items() if k not in points})
