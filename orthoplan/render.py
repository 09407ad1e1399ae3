"""Pictures of a plan: the radiograph with landmarks, lines and values (PNG/PDF/notebook).

Draws the layers of :func:`orthoplan.overlay.plan_overlay`, the same ones the DICOM
presentation state carries, so the picture and a PACS viewer agree. The image is shown
bone-bright in the patient-side convention of its header (the letters R and L mark the
patient's sides) and the calibration source is always printed; an assumed scale is
printed in a red banner. Landmarks are drawn with short codes (TD, FH, LE …) explained by a
legend; their labels are moved off each other and off the other markers, and every text is
wrapped to stay inside the picture (:func:`tidy_text`).

matplotlib is imported only when a picture is made.

Examples
--------
>>> # render_plan(radiograph, plan, "overlay.png")
"""

from __future__ import annotations

import logging
import os
import textwrap
from typing import Any

import numpy as np

from .model import Plan, Radiograph
from .overlay import OverlayLayer, landmark_legend, plan_overlay

log = logging.getLogger(__name__)


def downsample(image: np.ndarray, max_size_px: int) -> tuple[np.ndarray, int]:
    """Block-mean the image so its larger side is at most ``max_size_px``; return the factor.

    >>> small, factor = downsample(np.zeros((3200, 1000)), 1600)
    >>> small.shape, factor
    ((1600, 500), 2)
    """
    factor = max(1, int(np.ceil(max(image.shape) / max_size_px)))
    if factor == 1:
        return image, 1
    from .geometry import block_mean

    return block_mean(image, factor), factor


def draw_layers(ax: Any, layers: tuple[OverlayLayer, ...], *, fontsize: float = 9.0) -> list[Any]:
    """Draw overlay layers on a matplotlib Axes in image coordinates; returns the artists.

    Landmarks whose confidence is below 0.8 are drawn orange, so a surgeon sees at a glance
    which points to check. Used by :func:`render_plan` and the notebook widget.
    """
    from matplotlib.patches import Circle

    fs = fontsize
    artists: list[Any] = []
    for layer in layers:
        color = tuple(c / 255 for c in layer.color_rgb)
        for g in layer.graphics:
            pts = np.asarray(g.points, dtype=float)
            if g.kind == "point":
                marker_color = color if g.confidence is None or g.confidence >= 0.8 else (1.0, 0.55, 0.0)
                artists += ax.plot(pts[:, 0], pts[:, 1], "+", color=marker_color, ms=fs * 1.2, mew=1.5)
                if g.label:
                    artists.append(ax.annotate(g.label, pts[0], xytext=(6, 0), textcoords="offset points",
                                               color=marker_color, fontsize=fs * 0.8, ha="left", va="center",
                                               bbox=dict(facecolor="black", alpha=0.35, pad=0.6, lw=0),
                                               arrowprops=dict(arrowstyle="-", color=marker_color, lw=0.6,
                                                               shrinkA=0, shrinkB=fs * 0.5)))
            elif g.kind == "polyline":
                if g.closed:
                    pts = np.vstack([pts, pts[:1]])
                artists += ax.plot(pts[:, 0], pts[:, 1], "-", color=color, lw=1.2)
            elif g.kind == "circle":
                artists.append(ax.add_patch(Circle(tuple(pts[0]), g.radius_px, fill=False, color=color, lw=1.2)))
            elif g.kind == "text":
                artists.append(ax.text(pts[0, 0], pts[0, 1], g.label, color=color, fontsize=fs, va="top",
                                       bbox=dict(facecolor="black", alpha=0.45, pad=1.5, lw=0)))
    return artists


def render_plan(
    radiograph: Radiograph,
    plan: Plan,
    path: str | os.PathLike | None = None,
    *,
    layers: tuple[OverlayLayer, ...] | None = None,
    max_size_px: int = 1600,
    dpi: int = 100,
) -> Any:
    """Draw ``plan`` over ``radiograph``; save to ``path`` (PNG/PDF by suffix) if given.

    Returns the matplotlib Figure (closed after saving when ``path`` is given).
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    layers = plan_overlay(plan) if layers is None else layers
    small, f = downsample(radiograph.display, max_size_px)
    h, w = small.shape
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    # extent in *pixel-corner* image coordinates (DICOM origin): (0, 0) top-left corner
    rows, cols = radiograph.shape
    ax.imshow(small, cmap="gray", vmin=0, vmax=1, extent=(0, cols, rows, 0), interpolation="antialiased")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.axis("off")
    fs = max(6.0, min(14.0, h / 90))
    artists = draw_layers(ax, layers, fontsize=fs)
    fixed = []
    if plan.calibration.assumed:
        fixed.append(ax.text(cols / 2, rows * 0.005, "ASSUMED SCALE — measurements are estimates", color="white",
                             fontsize=fs * 1.3, ha="center", va="top",
                             bbox=dict(facecolor="red", alpha=0.85, pad=3, lw=0)))
    entries = landmark_legend(plan)
    legend = draw_legend(ax, entries, fontsize=fs * 0.8)
    if legend is not None:
        _fit_legend(legend, entries, _renderer(fig), ax.get_window_extent(_renderer(fig)), 2.0)
    tidy_text(fig, ax, artists, fixed=fixed, legend=legend)
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi)
        log.info("wrote picture %s", os.fspath(path))
    return fig


#: gid of the legend's Text artist (see :func:`draw_legend`).
LEGEND_GID = "orthoplan-landmark-legend"


def draw_legend(ax: Any, entries: tuple[tuple[str, str], ...], *, fontsize: float = 8.0) -> Any:
    """Draw the landmark codes and their meaning in the lower right corner; returns the Text (or ``None``).

    Two entries a line when there are more than eight; the last line says what the numbers
    and the orange colour mean.
    """
    if not entries:
        return None
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()  # y0 is the bottom row (the image axis points down)
    return ax.text(x1 - 0.01 * (x1 - x0), y0 - 0.01 * (y0 - y1), legend_text(entries, 2 if len(entries) > 8 else 1),
                   color="white",
                   fontsize=fontsize, family="monospace", ha="right", va="bottom", multialignment="left",
                   gid=LEGEND_GID,
                   bbox=dict(facecolor="black", alpha=0.55, pad=3, lw=0))


def legend_text(entries: tuple[tuple[str, str], ...], per_line: int = 1) -> str:
    """The legend's text: ``code meaning`` entries, ``per_line`` a line, and what the numbers mean.

    >>> print(legend_text((("TD", "teardrop"), ("FH", "femoral head center")), 2))
    TD  teardrop              FH  femoral head center
    number: confidence of an automatic landmark (orange < 0.8)
    """
    items = [f"{code:<3s} {meaning}" for code, meaning in entries]
    width = max(len(i) for i in items)
    lines = ["   ".join(i.ljust(width) for i in items[k:k + per_line]).rstrip() for k in range(0, len(items), per_line)]
    lines.append("number: confidence of an automatic landmark (orange < 0.8)")
    return "\n".join(lines)


def _fit_legend(legend: Any, entries: tuple[tuple[str, str], ...], renderer: Any, frame: Any, margin: float) -> None:
    """One entry a line, then a smaller font, until the legend is narrower than the picture."""
    for per_line in (2, 1) if len(entries) > 8 else (1,):
        legend.set_text(legend_text(entries, per_line))
        if _box(legend, renderer).width <= frame.width - 2 * margin:
            return
    while legend.get_fontsize() > 4 and _box(legend, renderer).width > frame.width - 2 * margin:
        legend.set_fontsize(legend.get_fontsize() * 0.9)


def _renderer(fig: Any) -> Any:
    if not hasattr(fig.canvas, "get_renderer"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def _box(artist: Any, renderer: Any, pad_px: float = 1.0) -> Any:
    """The text's extent in display pixels with its background box (not a label's leader line)."""
    from matplotlib.text import Annotation, Text

    if isinstance(artist, Annotation):
        artist.update_positions(renderer)
    bb = Text.get_window_extent(artist, renderer)
    patch = artist.get_bbox_patch()
    if patch is not None:
        pad_px += renderer.points_to_pixels(patch.get_boxstyle().pad * artist.get_fontsize())
    return bb.padded(pad_px)


def _wrap_inside(text: Any, renderer: Any, right_px: float, left_px: float) -> None:
    """Re-wrap ``text`` (a left- or right-aligned Text) until it fits between ``left_px`` and ``right_px``."""
    original = text.get_text()
    for _ in range(12):
        bb = _box(text, renderer, 0)
        if bb.x1 <= right_px and bb.x0 >= left_px:
            return
        avail = right_px - max(bb.x0, left_px) if text.get_ha() == "left" else min(bb.x1, right_px) - left_px
        longest = max(len(line) for line in text.get_text().splitlines())
        chars = max(12, int(longest * max(avail, 1.0) / max(bb.width, 1.0) * 0.95))
        if chars >= longest:
            chars = longest - 1
        text.set_text("\n".join(textwrap.fill(par, width=chars, break_long_words=True, break_on_hyphens=False)
                                for par in original.splitlines()))
        if chars <= 12:
            return


def _overlap(a: Any, boxes: list) -> float:
    total = 0.0
    for b in boxes:
        w = min(a.x1, b.x1) - max(a.x0, b.x0)
        h = min(a.y1, b.y1) - max(a.y0, b.y0)
        if w > 0 and h > 0:
            total += w * h
    return total


def _inside(bb: Any, frame: Any) -> bool:
    return bb.x0 >= frame.x0 and bb.x1 <= frame.x1 and bb.y0 >= frame.y0 and bb.y1 <= frame.y1


def _shift_text(text: Any, ax: Any, dy_px: float) -> None:
    x, y = ax.transData.transform(text.get_position())
    text.set_position(ax.transData.inverted().transform((x, y + dy_px)))


#: Where a landmark label may go from its marker: (dx, dy, ha, va) in units of the label's font
#: size / 6 (6 units: just clear of the marker's arms), nearest first.
_LABEL_SPOTS = tuple(
    (r * dx, r * dy, ha, va)
    for r in (1, 2, 3.5, 5, 7)
    for dx, dy, ha, va in ((6, 0, "left", "center"), (-6, 0, "right", "center"), (0, 7, "center", "bottom"),
                           (0, -7, "center", "top"), (6, 7, "left", "bottom"), (6, -7, "left", "top"),
                           (-6, 7, "right", "bottom"), (-6, -7, "right", "top"))
)


#: Left-aligned texts longer than this fraction of the picture's width are wrapped to it.
WRAP_FRACTION = 0.6


def _settle(t: Any, ax: Any, renderer: Any, frame: Any, margin: float, placed: list, placed_texts: list,
            anchors: dict) -> None:
    """Move text ``t`` up or down until it covers nothing placed, staying inside ``frame``.

    The first direction is away from the first text it covers, judged by where both were
    anchored before anything moved (so a stack growing upwards keeps growing upwards); if that
    runs out of the picture, the other direction; if both do, the least covered position.
    """
    start = t.get_position()
    bb = _box(t, renderer)
    hits = [b for b in placed if _overlap(bb, [b]) > 0]
    if not hits:
        return
    other_anchor = next((anchors.get(id(o), b.y1) for o, b in placed_texts if b is hits[0]), hits[0].y1)
    first_up = anchors.get(id(t), bb.y1) >= other_anchor
    best = None
    for up in (first_up, not first_up):
        t.set_position(start)
        for _ in range(len(placed) + 2):
            bb = _box(t, renderer)
            hits = [b for b in placed if _overlap(bb, [b]) > 0]
            if not hits:
                break
            dy = max(b.y1 for b in hits) - bb.y0 + 1 if up else -(bb.y1 - min(b.y0 for b in hits) + 1)
            _shift_text(t, ax, dy)
        bb = _box(t, renderer)
        inside = bb.y0 >= frame.y0 + margin - 0.5 and bb.y1 <= frame.y1 - margin + 0.5
        cost = _overlap(bb, placed)
        if inside and cost == 0:
            return
        if inside and (best is None or cost < best[0]):
            best = (cost, t.get_position())
    t.set_position(best[1] if best is not None else start)
    bb = _box(t, renderer)
    if bb.y0 < frame.y0 + margin:
        _shift_text(t, ax, frame.y0 + margin - bb.y0)
    elif bb.y1 > frame.y1 - margin:
        _shift_text(t, ax, frame.y1 - margin - bb.y1)


def _place_legend(legend: Any, ax: Any, renderer: Any, frame: Any, obstacles: list) -> None:
    """Put the legend in the corner (or bottom/top middle) where it covers the least of ``obstacles``."""
    x0, x1 = ax.get_xlim()
    y_bottom, y_top = ax.get_ylim()
    dx, dy = 0.01 * (x1 - x0), 0.01 * (y_bottom - y_top)
    spots = ((x1 - dx, y_bottom - dy, "right", "bottom"), (x0 + dx, y_bottom - dy, "left", "bottom"),
             (x1 - dx, y_top + dy, "right", "top"), (x0 + dx, y_top + dy, "left", "top"),
             ((x0 + x1) / 2, y_bottom - dy, "center", "bottom"), ((x0 + x1) / 2, y_top + dy, "center", "top"))

    def put(spot: tuple) -> None:
        legend.set_position(spot[:2])
        legend.set_ha(spot[2])
        legend.set_va(spot[3])

    _place_best(legend, spots, put, renderer, frame, obstacles)


def _place_best(artist: Any, spots: Any, put: Any, renderer: Any, frame: Any, obstacles: list) -> None:
    """``put(artist at spot)`` for the first of ``spots`` whose box covers none of ``obstacles``
    and stays inside ``frame``, else for the one that covers the least of them."""
    best = None
    for spot in spots:
        put(spot)
        bb = _box(artist, renderer)
        cost = _overlap(bb, obstacles) + (0.0 if _inside(bb, frame) else 1e9)
        if best is None or cost < best[0]:
            best = (cost, spot)
        if cost == 0:
            return
    put(best[1])


def tidy_text(fig: Any, ax: Any, artists: list[Any], *, fixed: list[Any] = (), legend: Any = None) -> None:
    """Lay out the texts of a picture: nothing runs off it, nothing covers another text.

    * Text boxes (values, calibration, warnings, legend) are wrapped to fit inside the axes
      (left-aligned ones to :data:`WRAP_FRACTION` of its width), then moved up or down, away
      from the text they would cover (a stack growing upwards keeps growing upwards), and kept
      inside the axes (:func:`_settle`).
    * Landmark labels (annotations) take the first of :data:`_LABEL_SPOTS` around their marker
      that covers no other text, label or marker; if none is free, the least covered one.

    * The ``legend`` goes to the corner where it covers the fewest texts and markers
      (:func:`_place_legend`), then settles like a text.

    ``fixed`` texts (the ASSUMED SCALE banner) are obstacles that never move.
    """
    from matplotlib.text import Annotation, Text
    from matplotlib.transforms import Bbox

    renderer = _renderer(fig)
    frame = ax.get_window_extent(renderer)
    margin = 2.0
    placed = [_box(t, renderer) for t in fixed]
    texts = [a for a in artists if isinstance(a, Text) and not isinstance(a, Annotation)]
    labels = [a for a in artists if isinstance(a, Annotation)]
    anchors = {id(t): ax.transData.transform(t.get_position())[1] for t in texts}
    placed_texts: list[tuple[Any, Any]] = []
    for t in texts:
        bb = _box(t, renderer, 0)
        right = frame.x1 - margin
        if t.get_ha() == "left":  # long texts keep to 60 % of the width: room for the rest
            right = min(right, max(bb.x0 + WRAP_FRACTION * frame.width, frame.x0 + WRAP_FRACTION * frame.width))
        _wrap_inside(t, renderer, right, frame.x0 + margin)
        bb = _box(t, renderer)
        if bb.x1 > frame.x1 - margin:  # still too wide (one long word): slide it left
            x, y = ax.transData.transform(t.get_position())
            t.set_position(ax.transData.inverted().transform((x - (bb.x1 - frame.x1 + margin), y)))
        _settle(t, ax, renderer, frame, margin, placed, placed_texts, anchors)
        placed.append(_box(t, renderer))
        placed_texts.append((t, placed[-1]))
    markers = []
    for a in labels:
        x, y = ax.transData.transform(a.xy)
        half = renderer.points_to_pixels(a.get_fontsize() * 0.75)  # the "+" is 1.5 label font sizes wide
        markers.append(Bbox.from_bounds(x - half, y - half, 2 * half, 2 * half))
    if legend is not None:
        _place_legend(legend, ax, renderer, frame, placed + markers)
        _settle(legend, ax, renderer, frame, margin, placed, placed_texts, {})
        placed.append(_box(legend, renderer))
    for i, a in enumerate(labels):
        obstacles = placed + [m for j, m in enumerate(markers) if j != i]
        unit = a.get_fontsize() * 0.9 / 6

        def put(spot: tuple, a: Any = a, unit: float = unit) -> None:
            a.xyann = (spot[0] * unit, spot[1] * unit)
            a.set_ha(spot[2])
            a.set_va(spot[3])

        _place_best(a, _LABEL_SPOTS, put, renderer, frame, obstacles)
        placed.append(_box(a, renderer))
