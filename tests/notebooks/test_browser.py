"""A notebook with the planning widget, executed, exported to HTML and rendered in headless Chromium.

The widget's state is saved by nbclient and drawn in the page by the Jupyter widgets HTML
manager (``@jupyter-widgets/html-manager``, installed from npm by ``scripts/test`` into
``$ORTHOPLAN_WIDGET_JS``: no CDN is reachable here). The screenshot must show the
radiograph with the overlay: the pixels of the landmark and pelvis layers' colours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from orthoplan.overlay import LAYER_COLORS


def _js_dir() -> Path:
    d = Path(os.environ.get("ORTHOPLAN_WIDGET_JS", Path.home() / ".cache" / "orthoplan-test-js")) / "node_modules"
    embed = d / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js"
    assert embed.is_file() and (d / "requirejs" / "require.js").is_file(), (
        f"widget JavaScript missing under {d}: run scripts/test (it installs @jupyter-widgets/html-manager and requirejs with npm)"
    )
    return d


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "headless Chromium missing: apt-get install chromium (scripts/test does)"
    return exe


def _count_colour(img: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> int:
    return int((np.abs(img[..., :3].astype(int) - np.array(rgb)).max(axis=-1) <= tol).sum())


@pytest.mark.slow
def test_widget_notebook_renders_with_the_overlay_in_chromium(tmp_path):
    js = _js_dir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from orthoplan.phantoms import pelvis as phantom\n"
        "from orthoplan.notebook import PlanningSession, PlanningWidget\n"
        "case = phantom.make_pelvis(seed=5, rows=900, columns=1100, detector_spacing_mm=0.4)\n"
        "session = PlanningSession.open(case.dataset, landmarks=case.landmarks, archive_url='folder://archive')\n"
        "widget = PlanningWidget(session, side='left', figsize=(7, 5.5))\n"
        "widget.box"
    )]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert "widgets" in nb.metadata, "nbclient saved no widget state"
    outputs = nb.cells[0].outputs
    assert [o["output_type"] for o in outputs] == ["execute_result"]
    assert "application/vnd.jupyter.widget-view+json" in outputs[0]["data"]

    from nbconvert import HTMLExporter

    exporter = HTMLExporter(require_js_url=(js / "requirejs" / "require.js").as_uri(),
                            widget_renderer_url=(js / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js").as_uri())
    body, _ = exporter.from_notebook_node(nb)
    page = tmp_path / "widget.html"
    page.write_text(body, encoding="utf-8")
    shot = tmp_path / "widget.png"
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chrome'}", "--allow-file-access-from-files", "--hide-scrollbars",
           "--virtual-time-budget=15000", "--window-size=1100,1500", f"--screenshot={shot}", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, timeout=120)
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-800:]
    img = np.asarray(Image.open(shot).convert("RGB"))
    # the radiograph: a large area of grey; the overlay: landmark (cyan) and pelvis (yellow) strokes
    grey = (np.abs(img[..., 0].astype(int) - img[..., 2]) < 6) & (img[..., 0] > 40) & (img[..., 0] < 230)
    assert grey.sum() > 100_000, "no radiograph in the rendered page"
    assert _count_colour(img, LAYER_COLORS["LANDMARKS"]) > 50, "no landmark markers in the rendered page"
    assert _count_colour(img, LAYER_COLORS["PELVIS"]) > 50, "no pelvis lines in the rendered page"
    shutil.copy(shot, tmp_path / "keep.png")
