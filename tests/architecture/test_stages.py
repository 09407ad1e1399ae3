"""The house rules that keep the code navigable: a stage never imports another stage, and no
module imports another module's private names. Checked on the source with ``ast`` (imports
inside functions count too), so a shortcut fails here rather than in review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "orthoplan"

#: The stages of the pipeline (DESIGN.md): they exchange `orthoplan.model` values and only
#: `orthoplan.pipeline` (and the front ends: cli, notebook, batch, napari) knows their order.
STAGES = ("image", "calibration", "landmarks", "measurements", "templating", "osteotomy", "dicom", "archive")


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """(absolute module, imported names) of every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            out.append((mod, tuple(a.name for a in node.names)))
    return out


def _stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "orthoplan" and parts[1] in STAGES else None


def _files(stage: str) -> list[Path]:
    p = PACKAGE / stage
    return sorted(p.rglob("*.py")) if p.is_dir() else [p.with_suffix(".py")]


@pytest.mark.parametrize("stage", ["measurements", "templating"])
def test_a_stage_never_imports_another_stage(stage):
    bad = []
    for f in _files(stage):
        for mod, names in _imports(f):
            other = _stage_of(mod)
            if mod == "orthoplan":  # "from orthoplan import measurements"
                other = next((n for n in names if n in STAGES and n != stage), None)
            if other is not None and other != stage:
                bad.append(f"{f.relative_to(PACKAGE.parent)} imports {mod} {names or ''}")
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_modules_private_names():
    bad = []
    for f in sorted(PACKAGE.rglob("*.py")):
        for mod, names in _imports(f):
            if mod.startswith("orthoplan"):
                bad += [f"{f.relative_to(PACKAGE.parent)}: from {mod} import {n}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The checks above would catch the imports this session removed."""
    f = PACKAGE / "templating" / "_probe_for_test.py"
    try:
        f.write_text("def f():\n    from ..measurements.hip import measure_hip\n    from .hip import _size\n")
        assert _stage_of(_imports(f)[0][0]) == "measurements"
        assert _imports(f)[1] == ("orthoplan.templating.hip", ("_size",))
    finally:
        f.unlink()
