"""The ``[notebook]`` extra installs what running the notebooks needs: Jupyter itself, the kernel,
the widgets, inline and ipympl figures, and every package the notebooks import that the base
install does not bring."""

from __future__ import annotations

import ast
import importlib.metadata as md
import sys
import tomllib
from pathlib import Path

import nbformat
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _imports(source: str) -> set[str]:
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    out = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_the_notebook_extra_installs_jupyter_and_what_the_notebooks_show_with():
    extra = _names(_project()["optional-dependencies"]["notebook"])
    assert extra & {"jupyterlab", "notebook", "jupyter"}, "no Jupyter front end in [notebook]"
    # the kernel; ipywidgets for the widget and the film picker; %matplotlib inline / widget
    assert {"ipykernel", "ipywidgets", "matplotlib-inline", "ipympl"} <= extra


def test_every_package_the_notebooks_import_comes_with_the_base_install_or_the_extra():
    project = _project()
    provided = _names(project["dependencies"]) | _names(project["optional-dependencies"]["notebook"])
    by_module = md.packages_distributions()
    missing = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            for module in _imports(cell.source) - set(sys.stdlib_module_names) - {"orthoplan"}:
                dists = {canonicalize_name(d) for d in by_module.get(module, [module])}
                if not dists & provided:
                    missing.setdefault(module, []).append(path.stem)
    assert not missing, f"imported by the notebooks but in neither the base dependencies nor [notebook]: {missing}"
