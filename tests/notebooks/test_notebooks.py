"""Every notebook in notebooks/ runs top to bottom on a fresh kernel (nbclient), in a temp folder,
and its figures come out as pictures (``image/png``), not as ``<Figure size …>`` text.

Notebooks are committed without outputs, so what a reader sees is what this run produces.
The hip templating notebook also runs on a surgeon's film: its first cell's ``FILM`` set to a
folder of films, and to a study in a folder archive.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from orthoplan.notebook import PHANTOM_NOTE

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
HIP = next((p for p in NOTEBOOKS if p.stem == "hip_templating"), None)

#: a code cell whose source draws a figure must show it as a picture
DRAWS_A_FIGURE = re.compile(r"render_plan\(|plt\.subplots\(|plt\.figure\(")


def _run(nb: nbformat.NotebookNode, folder: Path) -> nbformat.NotebookNode:
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError with the cell and traceback on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
    return nb


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.outputs:
        parts.append(o.get("text", ""))
        data = o.get("data", {})
        parts.extend(str(data.get(k, "")) for k in ("text/plain", "text/markdown"))
    return "\n".join(parts)


def _assert_figures_are_pictures(nb: nbformat.NotebookNode) -> None:
    for cell in _code_cells(nb):
        for o in cell.outputs:
            data = o.get("data", {})
            if str(data.get("text/plain", "")).startswith("<Figure size"):
                assert "image/png" in data, f"a figure shown as text, not as a picture:\n{cell.source}"
        if DRAWS_A_FIGURE.search(cell.source):
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), (
                f"this cell draws a figure but shows no picture:\n{cell.source}")


def _with_settings(path: Path, **settings: str) -> nbformat.NotebookNode:
    """The notebook with lines ``NAME = …`` of its first code cell set to ``settings`` (Python source)."""
    nb = nbformat.read(path, as_version=4)
    first = _code_cells(nb)[0]
    for name, value in settings.items():
        first.source, n = re.subn(rf"^{name} = [^#\n]*", f"{name} = {value}  ", first.source, count=1, flags=re.M)
        assert n == 1, f"no '{name} = ' line in the first code cell"
    return nb


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ is empty"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    _assert_figures_are_pictures(_run(nb, tmp_path))


@pytest.mark.slow
def test_hip_notebook_shows_the_plan_as_a_picture_and_says_it_uses_the_phantom(tmp_path: Path):
    assert HIP is not None
    nb = _run(nbformat.read(HIP, as_version=4), tmp_path)
    plan_cell = next(c for c in _code_cells(nb) if "render_plan(" in c.source)
    pictures = [o for o in plan_cell.outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 1, "the plan is not shown as a picture"
    assert not any(o.get("data", {}).keys() == {"text/plain"} and "<Figure size" in o["data"]["text/plain"]
                   for o in plan_cell.outputs)
    assert (tmp_path / "notebook-output" / "hip" / "overlay.png").is_file()
    first = _code_cells(nb)[0]
    assert re.search(r"^FILM = None\b", first.source, flags=re.M), "the first code cell sets FILM"
    assert PHANTOM_NOTE in _text(first)


def _films(folder: Path) -> list[str]:
    from orthoplan.phantoms import pelvis as phantom

    folder.mkdir(parents=True)
    uids = []
    for seed, name in ((41, "a.dcm"), (42, "b.dcm")):
        case = phantom.make_pelvis(seed=seed, rows=1000, columns=1200, detector_spacing_mm=0.36)
        case.dataset.save_as(folder / name, enforce_file_format=True)
        uids.append((str(case.dataset.StudyInstanceUID), str(case.dataset.SOPInstanceUID)))
    return uids


@pytest.mark.slow
def test_hip_notebook_opens_the_surgeons_film_from_a_folder(tmp_path: Path):
    assert HIP is not None
    films = tmp_path / "films"
    uids = _films(films)
    nb = _run(_with_settings(HIP, FILM=repr(str(films))), tmp_path)
    cells = _code_cells(nb)
    assert "2 film(s) in the folder" in _text(cells[0]) and "synthetic phantom" not in _text(cells[0])
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cells[0].outputs), "no drop-down"
    assert "a.dcm" in _text(cells[2])  # the first film is opened: "a.dcm | <calibration>"
    _assert_figures_are_pictures(nb)
    # the plan was made on that film and stored in the local folder archive
    from orthoplan.archive import open_archive

    archive = open_archive(f"folder://{tmp_path / 'notebook-output' / 'hip' / 'archive'}")
    assert archive.search("instance", StudyInstanceUID=uids[0][0], Modality="SR")


@pytest.mark.slow
def test_hip_notebook_opens_a_study_in_the_archive(tmp_path: Path):
    assert HIP is not None
    uids = _films(tmp_path / "films")
    url = f"folder://{tmp_path / 'pacs'}"
    from orthoplan.archive import open_archive
    import pydicom

    archive = open_archive(url)
    archive.store([pydicom.dcmread(p) for p in sorted((tmp_path / "films").glob("*.dcm"))])
    study, sop = uids[1]
    nb = _run(_with_settings(HIP, FILM=repr(f"study:{study}"), ARCHIVE=repr(url)), tmp_path)
    assert "1 film(s) of the study" in _text(_code_cells(nb)[0])
    _assert_figures_are_pictures(nb)
    srs = archive.search("instance", StudyInstanceUID=study, Modality="SR")
    assert srs, "the plan was not stored in ARCHIVE"
    from orthoplan.archive.plans import latest_plan

    assert latest_plan(archive, study).image.sop_instance_uid == sop
