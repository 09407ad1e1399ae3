"""The README's two commands work as written on a Debian that refuses pip outside a venv.

Issue 16, item 2: ``python3 -m pip install .`` is refused on a fresh Debian (externally
managed environment, PEP 668). The README's first command must create and use a virtual
environment; ``scripts/test`` must do the same for the tests, install ``npm`` (and
``python3-venv``) when missing, say when it needs root, and stop at once when ``../shared``
is not beside the repository. ``scripts/check_wheel`` (run by ``scripts/test`` in CI) installs
the wheel with all its dependencies from the index; here the README's command runs exactly as
written, offline, in a copy of the sources, with the dependencies taken from this test's own
environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _two_commands() -> list[str]:
    """The bash blocks of the README's "Two commands" section, in order."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", section, flags=re.S)]


def test_readme_commands_use_a_virtual_environment():
    main_job, tests = _two_commands()
    steps = [s.strip() for s in main_job.split("&&")]
    assert steps[0].startswith("python3 -m venv "), main_job
    venv = steps[0].split()[-1]
    assert f". {venv}/bin/activate" in steps or any(s.startswith(f"{venv}/bin/") for s in steps), main_job
    installs = [s for s in steps if re.search(r"\bpip install\b", s)]
    assert installs and all(not s.startswith(("python3 -m pip", "pip3 ", "sudo")) for s in installs), main_job
    assert steps.index(installs[0]) > 0 and steps[-1].startswith(("orthoplan demo", f"{venv}/bin/orthoplan demo"))
    assert tests == "bash scripts/test"


def test_scripts_test_parses_and_covers_venv_npm_root():
    script = (REPO / "scripts" / "test").read_text()
    subprocess.run(["bash", "-n", str(REPO / "scripts" / "test")], check=True)
    assert "python3 -m venv --system-site-packages" in script
    assert re.search(r'"\$venv/bin/python" -m pip install [^\n]*-e "\.\[test\]"', script)
    assert re.search(r'exec "\$venv/bin/python" -m pytest', script)
    assert "python3 -m pip install" not in script  # the system's pip: refused by PEP 668
    assert re.search(r"command -v npm [^\n]*packages\+=\(npm\)", script)
    assert "python3-venv" in script and "needs root" in script
    assert ".venv/" in (REPO / ".gitignore").read_text().split()


def test_scripts_test_stops_at_once_without_shared(tmp_path):
    """No ``../shared`` beside the repository: one clear line, before anything is installed."""
    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "test", repo / "scripts" / "test")
    env = {k: v for k, v in os.environ.items() if k != "ORTHOPLAN_SHARED_DATA"}
    proc = subprocess.run(["bash", str(repo / "scripts" / "test")], capture_output=True, text=True,
                          timeout=60, env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "../shared/data/real" in proc.stderr and "ORTHOPLAN_SHARED_DATA" in proc.stderr
    assert not (repo / ".venv").exists()  # stopped before the virtual environment
    assert len(proc.stderr.strip().splitlines()) == 1


def _site_dirs() -> list[str]:
    """This interpreter's package folders (its venv's and, with --system-site-packages, the system's)."""
    dirs = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]
    purelib = sysconfig.get_paths()["purelib"]
    return dirs if purelib in dirs else [purelib, *dirs]


@pytest.mark.slow
def test_readme_main_command_runs_as_written(tmp_path):
    """The README's first command, verbatim, in a fresh copy of the sources (pip refused outside a venv)."""
    main_job = _two_commands()[0]
    src = tmp_path / "orthoplan-src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("orthoplan", "implant_catalogs"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    # Offline: the virtual environment the command makes (it keeps what is in it) sees this
    # test's dependencies through a .pth file, so `pip install .` finds them installed. It has
    # its own pip, and no other pip is on PATH or allowed outside a virtual environment: the
    # command must never install into this test's environment.
    venv = src / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    assert (venv / "bin" / "pip").is_file()
    inner = next(venv.glob("lib/python3*/site-packages"))
    (inner / "outer-environment.pth").write_text("\n".join(_site_dirs()) + "\n")
    bin_dir = tmp_path / "bin"  # `python3` is this interpreter; no pip beside it
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]), PIP_REQUIRE_VIRTUALENV="1")
    outside = _site_dirs()
    before = {d: sorted(os.listdir(d)) for d in outside}
    proc = subprocess.run(["bash", "-c", main_job], cwd=src, capture_output=True, text=True, timeout=900, env=env)
    assert {d: sorted(os.listdir(d)) for d in outside} == before, "the command installed outside its venv"
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    installed = subprocess.run([str(venv / "bin" / "python"), "-c", "import orthoplan; print(orthoplan.__file__)"],
                               capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout.strip()
    assert Path(installed).is_relative_to(venv), installed  # a real install in the venv, not the sources
    assert re.search(r"^cup left", proc.stdout, flags=re.M), proc.stdout
    assert (src / "orthoplan-demo" / "plan" / "plan-sr.dcm").is_file()
