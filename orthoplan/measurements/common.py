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
]

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


def measure_names(
    ctx: Context, names: Iterable[str], compute: Callable[[Context, str], tuple[Result, Side | None, str]]
) -> tuple[list[Measurement], list[tuple[str, str]]]:
    """Measure each name with ``compute``; a value that cannot be made is listed with its reason.

    Lengths on an assumed scale carry :data:`ASSUMED_SCALE_NOTE`, a value outside its plausible
    range the note of :func:`~orthoplan.measurements.definitions.plausibility_note`, and every length its 95 %
    interval from the calibration's (:meth:`~orthoplan.model.Calibration.length_interval_mm`).
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
        items.append(Measurement(name, v, unit, result.landmarks, side, tuple(notes),
                                 ctx.calibration.length_interval_mm(v) if unit == "mm" else None))
    return items, missing

