"""What every measurement module shares: points and directions in mm, the per-call context,
and measuring a list of names with the reason for each one that cannot be made.

The hip (:mod:`.hip`), lower-limb (:mod:`.lower_limb`) and knee (:mod:`.knee`) measurements are
built on these. A measurement function takes a :class:`Context` and returns a :class:`Result`,
or raises :class:`Absent` with the reason; :func:`measure_names` turns that into
:class:`~orthoplan.model.Measurement` values and ``missing`` entries.

Examples
--------
>>> from orthoplan.model import Calibration, Landmark, Landmarks, LandmarkName
>>> ctx = Context(Landmarks.from_landmarks([Landmark("teardrop_right", 10, 0)]), Calibration(0.5, "ball-marker", 1.0))
>>> ctx.need(LandmarkName.parse("teardrop_right"))[0].tolist()
[5.0, 0.0]
>>> direction((0, 0), (0, 3), "two points").tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ..errors import MeasurementError
from ..frames import MIN_SEPARATION_MM, direction, point, unit_vector
from ..geometry import to_mm
from ..model import Calibration, ImageOrientation, LandmarkName, Landmarks, Measurement, Side
from .definitions import plausibility_note

__all__ = [
    "MIN_SEPARATION_MM",
    "ASSUMED_SCALE_NOTE",
    "Absent",
    "Result",
    "Context",
    "point",
    "direction",
    "unit_vector",
    "segment",
    "value_or_absent",
    "measure_names",
    "positional_sd",
    "combined_interval",
    "Z95",
]

#: The two-sided 95 % quantile of the normal distribution.
Z95 = 1.959963984540054

def segment(*points) -> np.ndarray:
    """The points as an ``(N, 2)`` polyline (for the construction lines of the picture)."""
    return np.array([np.asarray(p, dtype=float) for p in points])


#: The note on every length measured on an assumed scale.
ASSUMED_SCALE_NOTE = "assumed scale"


class Absent(Exception):
    """A measurement cannot be made; ``args[0]`` is the reason."""


@dataclass
class Result:
    """One measured value with the landmarks it used, its notes and its construction lines (mm)."""

    value: float
    landmarks: tuple[LandmarkName, ...]
    notes: tuple[str, ...] = ()
    lines_mm: dict[str, np.ndarray] = field(default_factory=dict)


class Context:
    """The landmarks in mm, shared by every measurement of one call."""

    def __init__(self, landmarks: Landmarks, calibration: Calibration, orientation: ImageOrientation = ImageOrientation()):
        self.landmarks = landmarks
        self.calibration = calibration
        self.orientation = orientation
        self.mm: dict[LandmarkName, np.ndarray] = {
            lm.name: to_mm(lm.xy, calibration) for lm in landmarks
        }

    def name(self, anatomy: str, side: Side) -> LandmarkName:
        return LandmarkName.of(anatomy, side)

    def moved(self, name: LandmarkName, dx_px: float, dy_px: float) -> Context:
        """A copy in which the landmark ``name`` lies ``(dx_px, dy_px)`` pixels away (for the
        propagation of its positional uncertainty; the ``landmarks`` themselves are unchanged)."""
        out = copy.copy(self)
        x, y = self.landmarks[name].xy
        out.mm = dict(self.mm)
        out.mm[name] = to_mm((x + dx_px, y + dy_px), self.calibration)
        return out

    def need(self, *names: LandmarkName) -> list[np.ndarray]:
        """The mm points of ``names``, or Absent naming every missing one with its reason."""
        missing = [n for n in names if n not in self.mm]
        if missing:
            raise Absent(
                "; ".join(f"needs {n.value}: {self.landmarks.missing_reason(n)}" for n in dict.fromkeys(missing))
            )
        return [self.mm[n] for n in names]

    def apart(self, *pairs: tuple[LandmarkName, LandmarkName]) -> None:
        """Absent naming the landmarks if any pair is closer than MIN_SEPARATION_MM."""
        for a, b in pairs:
            try:
                direction(self.mm[a], self.mm[b], f"{a.value} and {b.value}")
            except MeasurementError as exc:
                raise Absent(str(exc)) from None


def value_or_absent(fn: Callable[..., float], *args) -> float:
    """``fn(*args)``, with a MeasurementError (degenerate geometry) turned into Absent."""
    try:
        return float(fn(*args))
    except MeasurementError as exc:
        raise Absent(str(exc)) from None


def positional_sd(ctx: Context, name: str, result: Result, unit: str,
                  compute: Callable[[Context, str], tuple[Result, Side | None, str]]) -> float | None:
    """The standard deviation of a value from its landmarks' positional uncertainty, or ``None``.

    First order: each landmark the value uses is moved by ±σ along x and along y (central
    differences of the measurement's own ``compute``, deterministic), and the changes, taken as
    independent, are added in quadrature: ``sd² = Σ ((v(+σ) − v(−σ)) / 2)²``. ``None`` when a
    landmark the value uses has no ``sigma_px`` (no positional interval is claimed then). Where a
    move makes the value unmeasurable, the other direction alone is used. Angle changes are
    wrapped to (−180°, 180°].

    >>> from orthoplan.model import Calibration, Landmark, Landmarks, LandmarkName
    >>> lms = Landmarks.from_landmarks([Landmark("teardrop_right", 0, 0, sigma_px=1.0),
    ...                                 Landmark("teardrop_left", 100, 0, sigma_px=1.0)])
    >>> ctx = Context(lms, Calibration(0.5, "ball-marker", 0.0))
    >>> names = tuple(LandmarkName.parse(n) for n in ("teardrop_right", "teardrop_left"))
    >>> def width(c, _):
    ...     a, b = c.need(*names)
    ...     return Result(float(b[0] - a[0]), names), None, "mm"
    >>> round(positional_sd(ctx, "w", width(ctx, "w")[0], "mm", width), 4)  # √2 × 0.5 mm
    0.7071
    """
    total = 0.0
    for lname in dict.fromkeys(result.landmarks):
        lm = ctx.landmarks.get(lname)
        if lm is None or lm.sigma_px is None:
            return None
        s = float(lm.sigma_px)
        if s == 0.0:
            continue
        for dx, dy in ((s, 0.0), (0.0, s)):
            ends = []
            for sign in (1.0, -1.0):
                try:
                    v = float(compute(ctx.moved(lname, sign * dx, sign * dy), name)[0].value)
                except (Absent, MeasurementError):
                    v = None
                ends.append(v if v is not None and math.isfinite(v) else None)
            hi, lo = ends
            if hi is not None and lo is not None:
                change = _difference(hi, lo, unit) / 2.0
            elif hi is not None or lo is not None:
                change = _difference(hi if hi is not None else result.value,
                                     lo if lo is not None else result.value, unit)
            else:
                continue
            total += change * change
    return math.sqrt(total)


def _difference(a: float, b: float, unit: str) -> float:
    d = float(a) - float(b)
    if unit == "deg":
        d = (d + 180.0) % 360.0 - 180.0
    return d


def combined_interval(value: float, unit: str, calibration: Calibration,
                      sd: float | None) -> tuple[float, float] | None:
    """The 95 % interval of a value from the calibration (lengths) and its landmarks' positions.

    A length's calibration half-width (:meth:`~orthoplan.model.Calibration.length_interval_mm`)
    and the positional one (``Z95 × sd``) are added in quadrature (both read as Gaussian 95 %
    half-widths); an angle is scale-free and has the positional half-width alone. ``None``
    when neither applies (an angle whose landmarks have no ``sigma_px``).

    >>> from orthoplan.model import Calibration
    >>> combined_interval(100.0, "mm", Calibration(0.2, "ball-marker", 3.0), 2.0 / Z95)  # √(3² + 2²)
    (96.394448724536, 103.605551275464)
    >>> combined_interval(30.0, "deg", Calibration(0.2, "ball-marker", 3.0), None) is None
    True
    """
    if sd is None or sd == 0.0:
        return calibration.length_interval_mm(value) if unit == "mm" else (None if sd is None else (value, value))
    half_sq = (Z95 * sd) ** 2
    if unit == "mm":
        lo, hi = calibration.length_interval_mm(value)
        half_sq += (0.5 * (hi - lo)) ** 2
    half = math.sqrt(half_sq)
    return (value - half, value + half)


def measure_names(
    ctx: Context, names: Iterable[str], compute: Callable[[Context, str], tuple[Result, Side | None, str]]
) -> tuple[list[Measurement], list[tuple[str, str]]]:
    """Measure each name with ``compute``; a value that cannot be made is listed with its reason.

    Lengths on an assumed scale carry :data:`ASSUMED_SCALE_NOTE`, a value outside its plausible
    range the note of :func:`~orthoplan.measurements.definitions.plausibility_note`. Every value
    carries its 95 % interval (:func:`combined_interval`): a length from the calibration's
    (:meth:`~orthoplan.model.Calibration.length_interval_mm`), and any value, length or angle,
    from its landmarks' positional uncertainty where every landmark it uses has a ``sigma_px``
    (:func:`positional_sd`).
    """
    items: list[Measurement] = []
    missing: list[tuple[str, str]] = []
    for name in names:
        try:
            result, side, unit = compute(ctx, name)
        except Absent as exc:
            missing.append((name, str(exc)))
            continue
        notes = list(result.notes)
        if unit == "mm" and ctx.calibration.assumed:
            notes.append(ASSUMED_SCALE_NOTE)
        v = float(result.value)
        implausible = plausibility_note(name, v)
        if implausible:
            notes.append(implausible)
        sd = positional_sd(ctx, name, result, unit, compute)
        items.append(Measurement(name, v, unit, result.landmarks, side, tuple(notes),
                                 combined_interval(v, unit, ctx.calibration, sd)))
    return items, missing
