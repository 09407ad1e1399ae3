"""Pictures of a plan: the radiograph with landmarks, lines and values (PNG/PDF/notebook).

Draws the layers of :func:`orthoplan.overlay.plan_overlay`, the same ones the DICOM
presentation state carries, so the picture and a PACS viewer agree. The image is shown
bone-bright in the patient-side convention of its header (the letters R and L mark the
patient's sides) and the calibration source is always printed; an assumed scale is
printed in a red banner.

matplotlib is imported only when a picture is made.

Examples
--------
>>> # render_plan(radiograph, plan, "overlay.png")
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from .model import Plan, Radiograph
from .overlay import OverlayLayer, plan_overlay

log = logging.getLogger(__name__)


def _downsample(image: np.ndarray, max_size_px: int) -> tuple[np.ndarray, int]:
    """Block-mean the image so its larger side is at most ``max_size_px``; return the factor."""
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
                    artists.append(ax.annotate(g.label, pts[0], xytext=(4, -4), textcoords="offset points",
                                               color=marker_color, fontsize=fs * 0.7))
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
    small, f = _downsample(radiograph.display, max_size_px)
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
    draw_layers(ax, layers, fontsize=fs)
    if plan.calibration.assumed:
        ax.text(cols / 2, rows * 0.005, "ASSUMED SCALE — measurements are estimates", color="white",
                fontsize=fs * 1.3, ha="center", va="top", bbox=dict(facecolor="red", alpha=0.85, pad=3, lw=0))
    if path is not None:
        fig.savefig(os.fspath(path), dpi=dpi)
        log.info("wrote picture %s", os.fspath(path))
    return fig
