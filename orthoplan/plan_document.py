"""The plan as a document a surgeon can print: an A4 portrait PDF.

:func:`plan_document` draws a :class:`~orthoplan.model.Plan` and its radiograph on A4 pages
with matplotlib's PDF backend (no other dependency):

* a header on every page: the patient (name, ID, birth date, sex, from the image header),
  the study date, the view and side, the plan ID, revision and status (a draft says
  ``DRAFT — not verified`` on every page);
* page 1: the picture (the overlay of :func:`orthoplan.render.render_plan`, the same layers
  the DICOM presentation state carries) and the calibration: source, mm/px, its 95 %
  interval, the spacing basis and every warning; an assumed scale is printed in a red box;
* then the measurements (value with unit, the interval the calibration's uncertainty
  gives a length, the normal range, whether the value lies outside it), the implants
  (family, size, angle, neck length or thickness), the predicted values, the osteotomies,
  the landmarks to check and the notes;
* a footer on every page: author, status, plan ID and revision, orthoplan version, page.

The patient's name and ID are printed inside the document (it is the patient's plan) and
never written to logs. Building the same plan twice gives the same bytes (no clock).

matplotlib is imported only when a document is made.

Examples
--------
>>> # pdf = plan_document(plan, radiograph); Path("plan.pdf").write_bytes(pdf)
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
import os
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .model import Calibration, Measurement, Plan, Radiograph

log = logging.getLogger(__name__)

#: A4 portrait in inches (210 x 297 mm).
A4_INCHES = (210 / 25.4, 297 / 25.4)
_MARGIN_MM = 14.0
_RED = "#b00020"
_ORANGE = "#b35900"
_GREY = "#555555"
_SHADE = "#eef1f5"

#: View names as printed.
VIEW_TITLES: Mapping[str, str] = {
    "ap-pelvis": "AP pelvis",
    "ap-hip": "AP hip",
    "long-leg": "standing long-leg AP",
    "knee-ap": "AP knee",
    "knee-lateral": "lateral knee",
}

_KIND_TITLES = {
    "cup": "Cup", "stem": "Stem", "head": "Head", "femoral_component": "Femoral component",
    "tibial_tray": "Tibial tray", "tibial_insert": "Tibial insert",
}


# --------------------------------------------------------------------------- what is printed


@dataclass(frozen=True)
class MeasurementRow:
    """One line of the measurements table, as printed.

    ``interval`` is the 95 % interval the measurement carries (lengths: the calibration's,
    as a length scales with mm/px), or ``""``; ``flag`` says ``"below"`` or ``"above"`` when
    the value lies outside ``normal``.
    """

    name: str
    title: str
    value: str
    interval: str
    normal: str
    flag: str
    predicted: str = ""


def _fmt_number(value: float, unit: str) -> str:
    """``+3.5 mm`` / ``40.0°`` (one decimal; never ``-0.0``)."""
    value = round(float(value), 1) + 0.0
    return f"{value:+.1f} mm" if unit == "mm" else f"{value:.1f}°"


def interval_text(m: Measurement) -> str:
    """The 95 % interval the measurement carries, as printed (``""`` when it carries none).

    >>> interval_text(Measurement("lld_teardrop_mm", -10.0, "mm", interval=(-10.5, -9.5)))
    '-10.5 to -9.5 mm'
    >>> interval_text(Measurement("lcea_left_deg", 30.0, "deg"))
    ''
    """
    if m.interval is None:
        return ""
    lo, hi = m.interval
    if m.unit == "mm":
        return f"{_fmt_number(lo, 'mm')[:-3]} to {_fmt_number(hi, 'mm')}"
    return f"{_fmt_number(lo, m.unit)[:-1]} to {_fmt_number(hi, m.unit)}"


def _definition(name: str) -> tuple[str, tuple[float, float] | None, tuple[float, float] | None]:
    """(title with side, normal range, plausible range) of a measurement name; the name itself
    and no ranges when the name is unknown."""
    from .errors import MeasurementError
    from .measurements.definitions import split_name

    try:
        d, side = split_name(name)
    except MeasurementError:
        return name, None, None
    title = d.title + (f" ({side.value})" if side is not None else "")
    return title, d.normal_range, getattr(d, "plausible_range", None)


def measurement_rows(plan: Plan) -> list[MeasurementRow]:
    """The measurements table of ``plan``, in the plan's order.

    ``flag`` is ``"implausible"`` for a value outside its definition's plausible range
    (misplaced landmarks or a wrong scale), else ``"below"``/``"above"`` the normal range.

    >>> # [r.title for r in measurement_rows(plan)][:1] -> ['Leg-length discrepancy (teardrop line)']
    """
    rows = []
    for m in plan.measurements:
        title, normal, plausible = _definition(m.name)
        value = _fmt_number(m.value, m.unit)
        if m.name.startswith("lld_") and abs(m.value) >= 0.05:
            value += " (L longer)" if m.value > 0 else " (R longer)"
        interval = interval_text(m)
        flag, normal_text = "", ""
        if normal is not None:
            lo, hi = normal
            normal_text = f"{lo:g} to {hi:g} mm" if m.unit == "mm" else f"{lo:g}–{hi:g}°"
            flag = "below" if m.value < lo else "above" if m.value > hi else ""
        if plausible is not None and not plausible[0] <= m.value <= plausible[1]:
            flag = "implausible"
        p = plan.predictions.get(m.name)
        predicted = _fmt_number(p.value, p.unit) if p is not None else ""
        rows.append(MeasurementRow(m.name, title, value, interval, normal_text, flag, predicted))
    return rows


def _patient_fields(radiograph: Radiograph) -> list[tuple[str, str]]:
    """``(label, value)`` of the patient header, in printed order: patient and ID, then born/sex,
    study date, accession ("—" where the header has none, or for PNG/TIFF)."""
    ds = radiograph.dataset

    def get(kw: str) -> str:
        return str(ds.get(kw, "") or "").strip() if ds is not None else ""

    name = get("PatientName")
    if "^" in name:
        parts = [p for p in name.split("=")[0].split("^")]
        name = parts[0] + (", " + " ".join(p for p in parts[1:] if p) if any(parts[1:]) else "")
    born = _date(get("PatientBirthDate")) or "—"
    return [
        ("Patient", name or "—"),
        ("Patient ID", get("PatientID") or "—"),
        ("Born / sex", f"{born} / {get('PatientSex') or '—'}"),
        ("Study date", _date(get("StudyDate")) or "—"),
        ("Accession", get("AccessionNumber") or "—"),
    ]


def _fit(text: str, width_mm: float, fontsize: float, *, bold: bool = False) -> str:
    """``text`` cut with an ellipsis to fit ``width_mm`` on one line."""
    chars = max(4, int(width_mm / (fontsize * 0.352778 * (0.62 if bold else 0.56))))
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _date(text: str) -> str:
    """A DICOM DA (``YYYYMMDD``) as ``YYYY-MM-DD``; other text unchanged."""
    t = text.strip()
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}" if len(t) == 8 and t.isdigit() else t


def plan_sides(plan: Plan, radiograph: Radiograph | None = None) -> str:
    """The side(s) the plan is for: of its implants and osteotomies, else the image's laterality.

    >>> # plan_sides(plan) -> 'left'
    """
    sides = sorted({p.side.value for p in plan.placements} | {o.side.value for o in plan.osteotomies})
    if sides:
        return " and ".join(sides)
    lat = ((radiograph.image_laterality if radiograph is not None else None) or "").strip().upper()
    if lat in ("L", "R"):
        return "left" if lat == "L" else "right"
    measured = sorted({m.side.value for m in plan.measurements if m.side is not None})
    return "both" if len(measured) == 2 else (measured[0] if measured else "—")


def status_text(plan: Plan) -> str:
    """``"VERIFIED (final)"`` or ``"DRAFT — not verified"``."""
    return "VERIFIED (final)" if plan.status == "final" else "DRAFT — not verified"


def _author(plan: Plan) -> str:
    if not plan.author:
        return "—"
    parts = str(plan.author).split("^")
    return parts[0] + (", " + " ".join(p for p in parts[1:] if p) if any(parts[1:]) else "")


def calibration_lines(cal: Calibration) -> list[tuple[str, str]]:
    """``(label, text)`` lines of the calibration block (warnings last).

    >>> from orthoplan.model import CalibrationSource
    >>> dict(calibration_lines(Calibration(0.15, CalibrationSource.BALL_MARKER, 3.0)))["Scale"]
    '0.15000 mm/px at the anatomy'
    """
    lo, hi = cal.interval_mm_per_px
    lines = [
        ("Source", cal.source.value + ("  (ASSUMED — not measured)" if cal.assumed else "")),
        ("Scale", f"{cal.mm_per_px:.5f} mm/px at the anatomy"),
        ("95 % interval", f"{lo:.5f} to {hi:.5f} mm/px (±{cal.uncertainty_pct:.1f} %)"),
        ("Spacing basis", cal.spacing_basis),
    ]
    if cal.magnification:
        lines.append(("Magnification", f"{cal.magnification:g}" + (" (assumed)" if cal.assumed else "")))
    if abs(cal.aspect_ratio - 1.0) > 1e-9:
        lines.append(("Aspect ratio", f"{cal.aspect_ratio:.4f} (rows / columns)"))
    lines += [("Warning", w) for w in cal.warnings]
    return lines


# --------------------------------------------------------------------------- drawing


class _Pages:
    """A4 pages with a header and footer, and a cursor (mm from the top) for the content."""

    def __init__(self, plan: Plan, radiograph: Radiograph) -> None:
        self.plan, self.radiograph = plan, radiograph
        self.figures: list[Any] = []
        self.fig: Any = None
        self.y_mm = 0.0
        self.w_mm, self.h_mm = 210.0, 297.0

    # coordinates: mm from the top-left corner of the page -> figure fraction
    def fx(self, x_mm: float) -> float:
        return x_mm / self.w_mm

    def fy(self, y_mm: float) -> float:
        return 1.0 - y_mm / self.h_mm

    def text(self, x_mm: float, y_mm: float, s: str, **kw: Any) -> Any:
        kw.setdefault("fontsize", 9)
        kw.setdefault("va", "top")
        return self.fig.text(self.fx(x_mm), self.fy(y_mm), s, **kw)

    def rect(self, x_mm: float, y_mm: float, w_mm: float, h_mm: float, **kw: Any) -> None:
        from matplotlib.patches import Rectangle

        self.fig.patches.append(Rectangle((self.fx(x_mm), self.fy(y_mm + h_mm)), w_mm / self.w_mm, h_mm / self.h_mm,
                                          transform=self.fig.transFigure, figure=self.fig, **kw))

    def hline(self, y_mm: float, *, x0_mm: float = _MARGIN_MM, x1_mm: float | None = None, **kw: Any) -> None:
        from matplotlib.lines import Line2D

        x1_mm = self.w_mm - _MARGIN_MM if x1_mm is None else x1_mm
        kw.setdefault("color", "#999999")
        kw.setdefault("lw", 0.6)
        self.fig.lines.append(Line2D([self.fx(x0_mm), self.fx(x1_mm)], [self.fy(y_mm)] * 2,
                                     transform=self.fig.transFigure, figure=self.fig, **kw))

    @property
    def bottom_mm(self) -> float:
        """Lowest y the content may reach (above the footer)."""
        return self.h_mm - _MARGIN_MM - 12.0

    def new_page(self) -> None:
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=A4_INCHES)
        self.figures.append(self.fig)
        self._header()
        self.y_mm = _MARGIN_MM + 27.0

    def need(self, h_mm: float) -> None:
        """Start a new page unless ``h_mm`` fits below the cursor."""
        if self.fig is None or self.y_mm + h_mm > self.bottom_mm:
            self.new_page()

    def _header(self) -> None:
        plan, m = self.plan, _MARGIN_MM
        right = self.w_mm - m
        view = VIEW_TITLES.get(plan.view, plan.view)
        self.text(m, m, "Surgical plan", fontsize=15, weight="bold")
        self.text(m + 46, m + 1.2, f"{view} · side: {plan_sides(plan, self.radiograph)}", fontsize=10.5)
        draft = plan.status != "final"
        self.text(right, m, status_text(plan), fontsize=11, weight="bold", ha="right",
                  color=_RED if draft else "#1b5e20")
        fields = dict(_patient_fields(self.radiograph))
        # (label, x of the label, width of the value) per row: the name gets the widest slot
        layout = ((("Patient", m, 100.0), ("Patient ID", m + 124, 39.0)),
                  (("Born / sex", m, 40.0), ("Study date", m + 64, 40.0), ("Accession", m + 124, 39.0)))
        for r, row in enumerate(layout):
            for label, x, width in row:
                y, strong = m + 9 + 5.0 * r, label in ("Patient", "Patient ID")
                self.text(x, y, label, fontsize=7.5, color=_GREY)
                self.text(x + 19, y, _fit(fields[label], width, 9, bold=strong), fontsize=9,
                          weight="bold" if strong else None)
        self.hline(m + 21.5, color="#333333", lw=1.0)
        if draft:  # a printed draft says so on every page, also across the content
            self.fig.text(0.5, 0.45, "DRAFT", fontsize=110, color="#d0d0d0", alpha=0.25, rotation=35,
                          ha="center", va="center", zorder=-10, weight="bold")

    def footer(self, page: int, pages: int) -> None:
        plan, m = self.plan, _MARGIN_MM
        y = self.h_mm - m - 8.0
        self.hline(y - 1.5, color="#333333", lw=0.8)
        self.text(m, y, f"Author: {_author(plan)} · Status: {status_text(plan)}", fontsize=7.5)
        self.text(self.w_mm - m, y, f"page {page} of {pages}", fontsize=7.5, ha="right")
        version = plan.software_version or _version()
        self.text(m, y + 3.4, f"Plan ID {plan.plan_uid} · revision {int(plan.revision)} · created {plan.created} "
                  f"· {version}", fontsize=6.5)
        self.text(m, y + 6.4, "orthoplan is research software, not a certified medical device: check every value "
                  "before use.", fontsize=6.5, color=_GREY)


def _version() -> str:
    from . import __version__

    return f"orthoplan {__version__}"


def _wrap(text: str, width_mm: float, fontsize: float, *, bold: bool = False) -> list[str]:
    """Lines of ``text`` that fit ``width_mm`` at ``fontsize`` (DejaVu Sans: ~0.56 em a glyph, bold ~0.62)."""
    chars = max(6, int(width_mm / (fontsize * 0.352778 * (0.62 if bold else 0.56))))
    return textwrap.wrap(str(text), chars, break_on_hyphens=False, break_long_words=False) or [""]


def _section(pages: _Pages, title: str, *, min_mm: float = 20.0) -> None:
    pages.need(min_mm)
    pages.y_mm += 2.0
    pages.text(_MARGIN_MM, pages.y_mm, title, fontsize=11.5, weight="bold")
    pages.y_mm += 6.0


def _assumed_box(pages: _Pages, cal: Calibration) -> None:
    if not cal.assumed:
        return
    m = _MARGIN_MM
    w = pages.w_mm - 2 * m
    assumed = f"magnification {cal.magnification:g}" if cal.magnification else "scale"
    lines = _wrap(f"ASSUMED SCALE — the image was not calibrated: every length and implant size rests on an "
                  f"assumed {assumed} ({cal.mm_per_px:.4f} mm/px ±{cal.uncertainty_pct:.1f} %). Calibrate (ball "
                  "marker or known length) before using this plan.", w - 6, 10, bold=True)
    h = 4.0 + 4.6 * len(lines)
    pages.need(h + 2)
    pages.rect(m, pages.y_mm, w, h, facecolor=_RED, edgecolor="none")
    for i, line in enumerate(lines):
        pages.text(m + 3, pages.y_mm + 2.0 + 4.6 * i, line, fontsize=10, color="white", weight="bold")
    pages.y_mm += h + 3.0


def _picture(pages: _Pages, plan: Plan, radiograph: Radiograph, height_mm: float) -> None:
    """The radiograph with the plan's overlay, fitted into the page width and ``height_mm``."""
    from .overlay import plan_overlay
    from .geometry import block_mean
    from .render import draw_layers

    m = _MARGIN_MM
    rows, cols = radiograph.shape
    box_w, box_h = pages.w_mm - 2 * m, height_mm
    scale = min(box_w / cols, box_h / rows)
    w, h = cols * scale, rows * scale
    x0 = m + (box_w - w) / 2
    ax = pages.fig.add_axes((pages.fx(x0), pages.fy(pages.y_mm + h), w / pages.w_mm, h / pages.h_mm))
    factor = max(1, int(np.ceil(max(rows, cols) / 1400)))  # about 190 dpi across the page: enough to print
    small = block_mean(radiograph.display, factor) if factor > 1 else radiograph.display
    ax.imshow(small, cmap="gray", vmin=0, vmax=1, extent=(0, cols, rows, 0), interpolation="antialiased")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    # the calibration's text is printed below the picture, in full, instead (the ball stays drawn)
    layers = tuple(replace(layer, graphics=tuple(g for g in layer.graphics if g.kind != "text"))
                   if layer.name == "CALIBRATION" else layer for layer in plan_overlay(plan))
    draw_layers(ax, layers, fontsize=max(4.5, min(6.5, w / 16)))  # narrow (long-leg) pictures: smaller labels
    if plan.calibration.assumed:
        ax.text(cols / 2, rows * 0.99, "ASSUMED SCALE — measurements are estimates", color="white", fontsize=9,
                ha="center", va="bottom", bbox=dict(facecolor=_RED, alpha=0.9, pad=2, lw=0))
    pages.y_mm += h + 3.0


def _calibration_block(cal: Calibration, width_mm: float) -> list[tuple[str, list[str], bool]]:
    """``(label, wrapped lines, emphasised)`` of the calibration block."""
    out = []
    for label, value in calibration_lines(cal):
        strong = label == "Warning" or (cal.assumed and label == "Source")
        out.append((label, _wrap(value, width_mm - 32, 9, bold=strong), strong))
    return out


def _calibration_height_mm(cal: Calibration, width_mm: float) -> float:
    """Height of the calibration section (title and lines), so the picture leaves room for all of it."""
    return 8.0 + sum(4.4 * len(lines) + 0.6 for _l, lines, _s in _calibration_block(cal, width_mm))


def _calibration(pages: _Pages, cal: Calibration) -> None:
    m = _MARGIN_MM
    block = _calibration_block(cal, pages.w_mm - 2 * m)
    _section(pages, "Calibration", min_mm=_calibration_height_mm(cal, pages.w_mm - 2 * m))
    for label, lines, strong in block:
        warn = label == "Warning"
        pages.need(4.4 * len(lines))
        pages.text(m, pages.y_mm, label, fontsize=8, color=_ORANGE if warn else _GREY,
                   weight="bold" if warn else None)
        for i, line in enumerate(lines):
            pages.text(m + 32, pages.y_mm + 4.4 * i, line, fontsize=9, color=_ORANGE if warn else "black",
                       weight="bold" if strong else None)
        pages.y_mm += 4.4 * len(lines) + 0.6


def _table(pages: _Pages, title: str, header: Sequence[str], widths_mm: Sequence[float],
           rows: Sequence[Sequence[str]], *, emphasis: Sequence[bool] = (), note: str = "") -> None:
    """A table with a shaded header row, repeated on each page it runs onto; cells wrap."""
    m = _MARGIN_MM
    fs, line_mm = 8.5, 3.9
    xs = [m]
    for w in widths_mm[:-1]:
        xs.append(xs[-1] + w)

    def head() -> None:
        pages.rect(m, pages.y_mm - 1.0, sum(widths_mm), 5.6, facecolor="#d9dee6", edgecolor="none")
        for x, h in zip(xs, header):
            pages.text(x + 1.2, pages.y_mm, h, fontsize=8, weight="bold")
        pages.y_mm += 5.6

    cells_of = [
        [_wrap(c, w - 2.4, fs, bold=i < len(emphasis) and bool(emphasis[i])) for c, w in zip(row, widths_mm)]
        for i, row in enumerate(rows)
    ]
    heights = [line_mm * max(len(c) for c in cells) + 1.4 for cells in cells_of]
    whole = 14.0 + 5.6 + sum(heights)
    # a table that fits a page is not split; a long one starts with at least a few rows
    _section(pages, title, min_mm=whole if whole <= pages.bottom_mm - _MARGIN_MM - 27.0 else 50.0)
    head()
    for i, (cells, h) in enumerate(zip(cells_of, heights)):
        if pages.y_mm + h > pages.bottom_mm:
            pages.new_page()
            _section(pages, title + " (continued)", min_mm=0)
            head()
        if i % 2:
            pages.rect(m, pages.y_mm - 0.9, sum(widths_mm), h, facecolor=_SHADE, edgecolor="none")
        strong = bool(emphasis[i]) if i < len(emphasis) else False
        for x, lines in zip(xs, cells):
            for k, line in enumerate(lines):
                pages.text(x + 1.2, pages.y_mm + line_mm * k, line, fontsize=fs, weight="bold" if strong else None)
        pages.y_mm += h
    pages.hline(pages.y_mm - 0.6, x1_mm=m + sum(widths_mm))
    if note:
        for line in _wrap(note, pages.w_mm - 2 * m, 7):
            pages.need(3.4)
            pages.text(m, pages.y_mm + 0.6, line, fontsize=7, color=_GREY)
            pages.y_mm += 3.3
    pages.y_mm += 2.0


def _measurements(pages: _Pages, plan: Plan) -> None:
    rows = measurement_rows(plan)
    if not rows and not plan.measurements.missing:
        _section(pages, "Measurements", min_mm=14.0)
        pages.text(_MARGIN_MM, pages.y_mm, "None: the plan has no landmarks to measure from.", fontsize=9)
        pages.y_mm += 6.0
        return
    has_pred = any(r.predicted for r in rows)
    header = ["Measurement", "Value", "95 % interval", "Normal", "vs normal"]
    widths = [62, 34, 34, 30, 22]
    if has_pred:
        header.append("Planned")
        widths = [50, 34, 30, 22, 22, 24]
    body = [[r.title, r.value, r.interval or "—", r.normal or "—", r.flag]
            + ([r.predicted] if has_pred else []) for r in rows]
    if rows:
        _table(pages, "Measurements", header, widths, body, emphasis=[bool(r.flag) for r in rows],
               note=("ASSUMED SCALE: every length rests on an assumed magnification. " if plan.calibration.assumed else "")
                    + "Values at the anatomy. 95 % interval: a length's, from the calibration's interval (landmark "
                    "placement adds its own error); — where none is claimed (angles do not depend on the scale). "
                    "Normal —: none published (compare the sides). "
                    + ("Planned: predicted after the templated reconstruction. " if has_pred else "")
                    + ("implausible: outside the range any film can show; check the landmarks and the scale. "
                       if any(r.flag == "implausible" for r in rows) else "")
                    + "Definitions, sign conventions and sources: docs/measurements.md.")
    if plan.measurements.missing:
        missing = [[_definition(n)[0], reason] for n, reason in plan.measurements.missing]
        _table(pages, "Not measured", ["Measurement", "Reason"], [62, 112], missing)


def implant_rows(plan: Plan) -> list[list[str]]:
    """``[side, component, vendor / family, size, size range, details]`` of each placement.

    The size range is the placement's (the sizes the automatic sizing chose anywhere within
    the scale's 95 % interval), ``"—"`` when it has none (a size given by the planner).
    """
    rows = []
    for p in plan.placements:
        details = []
        if p.kind.value == "cup":
            details.append(f"inclination {p.angle_deg:.0f}°")
        elif p.kind.value == "stem":
            details.append(f"axis tilt {p.angle_deg:+.1f}°")
        elif p.kind.value in ("femoral_component", "tibial_tray"):
            details.append(f"angle {p.angle_deg:+.1f}°")
        if p.neck_length_mm is not None:
            details.append(f"neck length {p.neck_length_mm:+g} mm")
        if p.thickness_mm is not None:
            details.append(f"thickness {p.thickness_mm:g} mm")
        details.append("chosen by orthoplan" if p.auto else "set by the planner")
        size_range = "—"
        if p.size_range is not None:
            lo, hi = p.size_range
            size_range = lo if lo == hi else f"{lo} to {hi}"
        rows.append([p.side.value, _KIND_TITLES.get(p.kind.value, p.kind.value), f"{p.vendor} / {p.family}",
                     p.size, size_range, ", ".join(details)])
    return rows


def _implants(pages: _Pages, plan: Plan) -> None:
    rows = implant_rows(plan)
    if not rows:
        return
    note = ("Size range: the sizes the automatic sizing chose anywhere within the scale's 95 % interval "
            "(— for a size set by the planner); more than one size means: have the neighbouring sizes ready.")
    if plan.calibration.assumed:
        note = "ASSUMED SCALE: implant sizes rest on an assumed magnification. " + note
    spans = [p.size_range is not None and p.size_range[0] != p.size_range[1] for p in plan.placements]
    _table(pages, "Implants", ["Side", "Component", "Vendor / family", "Size", "Size range", "Details"],
           [12, 26, 56, 12, 22, 54], rows, emphasis=spans, note=note)


def _osteotomies(pages: _Pages, plan: Plan) -> None:
    rows = []
    for o in plan.osteotomies:
        rows.append([o.side.value, f"{o.kind.upper()} {o.wedge} wedge",
                     f"{o.correction_deg:.1f}° {o.direction}", f"{o.wedge_height_mm:.1f} mm",
                     f"{100 * o.achieved_fraction:.1f} % (target {100 * o.target_fraction:.1f} %)"])
    if rows:
        _table(pages, "Osteotomies", ["Side", "Osteotomy", "Correction", "Wedge height", "Weight-bearing line"],
               [14, 40, 40, 26, 54], rows)


def _landmarks_to_check(pages: _Pages, plan: Plan) -> None:
    rows = [[lm.name.value.replace("_", " "), f"{lm.confidence:.2f}", lm.source.value, f"({lm.x:.1f}, {lm.y:.1f})"]
            for lm in plan.landmarks if lm.confidence < 0.8]
    if rows:
        _table(pages, "Landmarks to check (confidence below 0.8)", ["Landmark", "Confidence", "Source", "Position (px)"],
               [70, 28, 28, 48], rows)


def _notes(pages: _Pages, plan: Plan) -> None:
    if not plan.notes:
        return
    _section(pages, "Notes", min_mm=14.0)
    for note in plan.notes:
        lines = _wrap(note, pages.w_mm - 2 * _MARGIN_MM - 5, 9, bold=note.startswith(("FORCED", "ASSUMED")))
        pages.need(4.2 * len(lines))
        alarm = note.startswith(("FORCED", "ASSUMED"))  # a forced implant choice, an assumed scale
        pages.text(_MARGIN_MM, pages.y_mm, "•", fontsize=9)
        for k, line in enumerate(lines):
            pages.text(_MARGIN_MM + 4, pages.y_mm + 4.2 * k, line, fontsize=9, color=_RED if alarm else "black",
                       weight="bold" if alarm else None)
        pages.y_mm += 4.2 * len(lines) + 0.8


def _created(plan: Plan) -> _dt.datetime | None:
    try:
        when = _dt.datetime.fromisoformat(str(plan.created))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)


def plan_document(plan: Plan, radiograph: Radiograph) -> bytes:
    """The plan as an A4 portrait PDF document (bytes), ready to print or store.

    Parameters
    ----------
    plan
        The plan (measurements, implants, calibration, author, status, ID and revision).
    radiograph
        Its image: the picture, and the patient and study attributes of the header
        (name, ID, birth date, sex, study date, accession number; "—" for PNG/TIFF).

    Returns
    -------
    bytes
        A PDF (``%PDF-`` ...); the same plan and image give the same bytes.

    Examples
    --------
    >>> # Path("plan.pdf").write_bytes(plan_document(plan, radiograph))
    """
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    created = _created(plan)
    metadata = {
        "Title": f"orthoplan surgical plan, revision {int(plan.revision)} ({plan.status})",
        "Subject": f"{VIEW_TITLES.get(plan.view, plan.view)} plan {plan.plan_uid}",
        "Creator": plan.software_version or _version(),
        "CreationDate": created,
        "ModDate": created,
    }
    buf = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}):
        pages = _Pages(plan, radiograph)
        pages.new_page()
        _assumed_box(pages, plan.calibration)
        cal_mm = _calibration_height_mm(plan.calibration, pages.w_mm - 2 * _MARGIN_MM) + 2.0 + 3.0 + 2.0
        _picture(pages, plan, radiograph, max(90.0, pages.bottom_mm - pages.y_mm - cal_mm))
        _calibration(pages, plan.calibration)
        _measurements(pages, plan)
        _implants(pages, plan)
        _osteotomies(pages, plan)
        _landmarks_to_check(pages, plan)
        _notes(pages, plan)
        with PdfPages(buf, metadata=metadata) as pdf:
            for i, fig in enumerate(pages.figures, start=1):
                pages.fig = fig
                pages.footer(i, len(pages.figures))
                pdf.savefig(fig, dpi=200)
    data = buf.getvalue()
    log.info("plan document: %d pages, %d bytes", len(pages.figures), len(data))
    return data


def write_plan_document(plan: Plan, radiograph: Radiograph, path: str | os.PathLike) -> Path:
    """Write :func:`plan_document` to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(plan_document(plan, radiograph))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    log.info("wrote plan document %s", path.name)
    return path


__all__ = ["plan_document", "write_plan_document", "measurement_rows", "implant_rows", "calibration_lines",
           "interval_text", "plan_sides", "status_text", "MeasurementRow", "A4_INCHES"]
