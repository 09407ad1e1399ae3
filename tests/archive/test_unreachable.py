"""An archive that cannot be reached: the plan goes to the outbox, the command says so once.

Issue 16, item 3: the DICOMweb client is a base dependency (not an extra); ``orthoplan plan
… --archive URL`` with the archive down stores the plan in the outbox, says exactly that in
one line, never claims that objects "may remain" in an archive it never reached, and exits
with its own code (12); ``orthoplan archive flush`` then stores it once the archive is back.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pydicom
import pytest
from archive_helpers import ORTHANC_AET, PASSWORD, USER, TcpRelay, free_port

from orthoplan.archive.outbox import Outbox
from orthoplan.cli import main
from orthoplan.errors import EXIT_QUEUED
from orthoplan.phantoms import pelvis as phantom

REPO = Path(__file__).resolve().parents[2]
ARCHIVE_CODE = REPO / "orthoplan" / "archive"


def _top_level_imports(path: Path) -> set[str]:
    """Top-level packages a module imports when it is imported (module-level statements)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def test_every_archive_client_is_a_base_dependency():
    """``pip install orthoplan`` must bring what ``open_archive`` imports for every URL kind."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    base = {_normalise(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for path in sorted(ARCHIVE_CODE.glob("*.py")):
        for module in _top_level_imports(path):
            if module in sys.stdlib_module_names or module in ("orthoplan", "__future__"):
                continue
            dists = {_normalise(d) for d in providers.get(module, [module])}
            if not dists & base:
                missing.setdefault(path.name, set()).add(module)
    assert "requests" in _top_level_imports(ARCHIVE_CODE / "dicomweb.py")  # the check sees the client
    assert missing == {}, f"imported by orthoplan/archive but not in [project].dependencies: {missing}"


def _image_and_landmarks(tmp_path: Path, seed: int) -> tuple[Path, Path]:
    case = phantom.make_pelvis(seed=seed, rows=600, columns=700, detector_spacing_mm=0.6)
    files = phantom.write_case(case, tmp_path / f"case{seed}")
    return files["image"], files["landmarks"]


def _plan_cli(image: Path, landmarks: Path, out: Path, url: str, outbox: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ORTHOPLAN_OUTBOX": str(outbox)}
    env.pop("ORTHOPLAN_ARCHIVE_PASSWORD", None)
    return subprocess.run([sys.executable, "-m", "orthoplan.cli", "plan", str(image), "--landmarks", str(landmarks),
                           "--out", str(out), "--archive", url],
                          capture_output=True, text=True, timeout=300, env=env)


def _check_queued_once(proc: subprocess.CompletedProcess, shown_url: str) -> None:
    said = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_QUEUED == 12, said
    assert said.count("stored in the outbox") == 1, said
    assert "run `orthoplan archive flush`" in proc.stderr
    assert "may remain" not in said and "remain" not in said
    about_archive = [line for line in proc.stderr.splitlines()
                     if "archive" in line.lower() or "outbox" in line.lower() or "connect" in line.lower()]
    assert len(about_archive) == 1 and shown_url in about_archive[0], proc.stderr
    assert "ERROR" not in proc.stderr and "WARNING" not in proc.stderr and "Traceback" not in proc.stderr
    assert PASSWORD not in said


@pytest.mark.orthanc
def test_unreachable_archive_queues_the_plan_once_and_flush_stores_it(orthanc, tmp_path, capsys, monkeypatch):
    outbox = Outbox(tmp_path / "outbox")
    web_port, dimse_port = free_port(), free_port()
    web_url = f"http://{USER}@127.0.0.1:{web_port}/dicom-web"     # the password comes from the environment
    dimse_url = f"dicom://{ORTHANC_AET}@127.0.0.1:{dimse_port}"
    sr_uids = []
    for seed, url in ((61, f"http://{USER}:{PASSWORD}@127.0.0.1:{web_port}/dicom-web"), (62, dimse_url)):
        image, landmarks = _image_and_landmarks(tmp_path, seed)
        out = tmp_path / f"plan{seed}"
        proc = _plan_cli(image, landmarks, out, url, outbox.path)
        _check_queued_once(proc, web_url if seed == 61 else dimse_url)
        for name in ("plan.json", "plan-sr.dcm", "plan-gsps.dcm", "overlay.png"):
            assert (out / name).is_file()
        sr_uids.append(str(pydicom.dcmread(out / "plan-sr.dcm").SOPInstanceUID))
    entries = outbox.entries()
    assert [e.url for e in entries] == [web_url, dimse_url]
    assert [e.sop_instance_uids[0] for e in entries] == sr_uids
    assert not any(orthanc.has_instance(uid) for uid in sr_uids)

    # still down: flush keeps both and says so (archive error, 11)
    assert main(["archive", "flush", "--outbox", str(outbox.path)]) == 11
    assert "2 still failing" in capsys.readouterr().out
    # the archive is back (the same ports now lead to Orthanc): flush stores both
    monkeypatch.setenv("ORTHOPLAN_ARCHIVE_PASSWORD", PASSWORD)
    with TcpRelay(("127.0.0.1", orthanc.http_port), port=web_port), \
            TcpRelay(("127.0.0.1", orthanc.dicom_port), port=dimse_port):
        assert main(["archive", "flush", "--outbox", str(outbox.path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["stored"]) == 2 and report["failed"] == []
    assert len(outbox) == 0
    assert all(orthanc.has_instance(uid) for uid in sr_uids)
