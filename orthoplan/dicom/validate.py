"""Run the independent DICOM validators on a file and read their verdicts.

* ``dciodvfy`` (dicom3tools) checks the IOD, modules and attributes: the bar is no
  ``Error`` line (``Warning`` lines, e.g. for the private ``99ORTHOPLAN`` scheme, are fine);
* ``dsrdump`` (DCMTK) parses an SR document tree and prints it with template identifiers;
* ``dsr2html`` (DCMTK) renders an SR document as a reader sees it;
* ``dcmpschk`` (DCMTK) checks a presentation state.

None of them is a Python package: install ``dicom3tools`` and ``dcmtk`` (Debian/Ubuntu
packages of those names). Messages returned or raised have the patient identifiers of the
checked file removed.

Examples
--------
>>> run_dciodvfy("plan_sr.dcm")          # doctest: +SKIP
[]
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import DicomOutputError

logger = logging.getLogger(__name__)

_PACKAGES = {"dciodvfy": "dicom3tools", "dsrdump": "dcmtk", "dsr2html": "dcmtk", "dcmpschk": "dcmtk",
             "java": "libpixelmed-java"}
#: Where Debian's libpixelmed-java puts PixelMed and its dependencies.
PIXELMED_CLASSPATH = "/usr/share/java/pixelmed.jar:/usr/share/java/*"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DicomOutputError(
            f"the validator {name!r} is not installed (it is in the {_PACKAGES[name]!r} package: "
            f"apt-get install {_PACKAGES[name]})"
        )
    return path


def _run(name: str, args: list[str], path: str | os.PathLike, timeout: float) -> subprocess.CompletedProcess:
    file = Path(path)
    if not file.is_file():
        raise DicomOutputError(f"cannot validate {file.name}: no such file")
    try:
        return subprocess.run(
            [_tool(name), *args, str(file)], capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise DicomOutputError(f"{name} did not finish within {timeout:g} s on {file.name}") from None


def _scrubber(path: str | os.PathLike):
    """A function removing the patient identifiers of the file at ``path`` from a text."""
    from .sr import scrub

    try:
        import pydicom

        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - an unreadable file has no identifiers to hide
        ds = None
    return lambda text: scrub(text, ds)


def run_dciodvfy(path: str | os.PathLike, *, timeout: float = 60.0, level: str = "Error") -> list[str]:
    """The ``Error`` lines dciodvfy reports for the file (empty: the object is valid).

    ``level="Warning"`` returns its ``Warning`` lines instead. Raises
    :class:`~orthoplan.errors.DicomOutputError` if dciodvfy is not installed or the file
    does not exist.
    """
    proc = _run("dciodvfy", [], path, timeout)
    clean = _scrubber(path)
    lines = (proc.stdout + "\n" + proc.stderr).splitlines()
    return [clean(line.strip()) for line in lines if line.strip().startswith(level)]


def run_dsrdump(path: str | os.PathLike, *, timeout: float = 60.0) -> str:
    """The SR document tree as printed by ``dsrdump -v +Pt`` (with template identifiers).

    Raises :class:`~orthoplan.errors.DicomOutputError` when dsrdump cannot parse the file as
    an SR document (with its error lines), or is not installed.
    """
    proc = _run("dsrdump", ["-v", "+Pt"], path, timeout)
    clean = _scrubber(path)
    errors = [line for line in (proc.stdout + "\n" + proc.stderr).splitlines() if line.startswith("E:")]
    if proc.returncode != 0 or errors:
        detail = "; ".join(clean(e) for e in errors[:10]) or f"exit status {proc.returncode}"
        raise DicomOutputError(f"dsrdump could not parse {Path(path).name} as an SR document: {detail}")
    return proc.stdout


def run_dsr2html(path: str | os.PathLike, *, timeout: float = 60.0) -> str:
    """The SR document rendered as HTML by DCMTK's ``dsr2html`` (what a reader of the report sees).

    Raises :class:`~orthoplan.errors.DicomOutputError` when dsr2html cannot render the file,
    or is not installed.
    """
    proc = _run("dsr2html", [], path, timeout)
    if proc.returncode != 0 or "<html" not in proc.stdout.lower():
        clean = _scrubber(path)
        errors = [clean(line) for line in proc.stderr.splitlines() if line.startswith("E:")]
        detail = "; ".join(errors[:10]) or f"exit status {proc.returncode}"
        raise DicomOutputError(f"dsr2html could not render {Path(path).name}: {detail}")
    return proc.stdout


def run_dcmpschk(path: str | os.PathLike, *, timeout: float = 60.0) -> list[str]:
    """The errors dcmpschk reports for a presentation state (empty: accepted).

    dcmpschk exits with 0 even when a check fails, so its output is read: an ``E:`` line
    or a missing ``Test passed`` is an error.
    """
    proc = _run("dcmpschk", [], path, timeout)
    clean = _scrubber(path)
    out = (proc.stdout + "\n" + proc.stderr).splitlines()
    errors = [clean(line[2:].strip()) for line in out if line.startswith("E:") and line[2:].strip()]
    if not errors and not any("Test passed" in line for line in out):
        errors.append(f"dcmpschk did not report 'Test passed' (exit status {proc.returncode})")
    return errors


def run_pixelmed_sr_validator(path: str | os.PathLike, *, timeout: float = 180.0) -> list[str]:
    """The ``Error`` lines of PixelMed's SR validator, which checks the TID 1500 template itself.

    Needs a Java runtime and PixelMed (Debian ``libpixelmed-java``); takes 10-20 s a file.
    The XPath limits of recent Java versions are lifted as PixelMed's templates need.
    """
    jar = Path(PIXELMED_CLASSPATH.split(":")[0])
    if not jar.is_file():
        raise DicomOutputError(
            "PixelMed is not installed (it is in the 'libpixelmed-java' package: apt-get install libpixelmed-java)"
        )
    limits = [f"-Djdk.xml.{k}=0" for k in ("xpathExprOpLimit", "xpathExprGrpLimit", "xpathTotalOpLimit")]
    proc = _run("java", [*limits, "-cp", PIXELMED_CLASSPATH, "com.pixelmed.validate.DicomSRValidator"], path, timeout)
    clean = _scrubber(path)
    out = (proc.stdout + "\n" + proc.stderr).splitlines()
    errors = [clean(line.strip()) for line in out if line.strip().startswith("Error")]
    if not any("Root Template Validation Complete" in line for line in out):
        errors.append(f"PixelMed found no TID 1500 root template or did not finish (exit status {proc.returncode})")
    return errors


__all__ = ["run_dciodvfy", "run_dsrdump", "run_dsr2html", "run_dcmpschk", "run_pixelmed_sr_validator"]
