"""The command line as a new user meets it: exit codes of wrong requests, help, names typed by hand.

Exit codes (README): 2 usage (argparse's own, and a request that cannot be honoured as asked:
no side, an unsupported output format), 66 a missing input file, 11 an archive error, 141 the
reader of a pipe went away (``| head``), never 70 (an internal error) for any of these.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from orthoplan.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orthoplan.cli", *args], capture_output=True, text=True,
                          timeout=300, **kw)


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orthoplan: error:"), stderr
    return lines[0]


# --------------------------------------------------------------------------- exit codes


def test_template_without_side_is_a_usage_error(case_dir: Path):
    proc = run("template", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"))
    assert proc.returncode == 2, proc.stderr
    assert "--side left or --side right" in _one_error_line(proc.stderr)


def test_batch_to_an_unsupported_table_format_is_a_usage_error(case_dir: Path, tmp_path: Path, capsys):
    assert main(["batch", str(case_dir / "image.dcm"), "--out", str(tmp_path / "r.xlsx"), "--quiet"]) == 2
    assert ".csv or .parquet" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "r.xlsx").exists()


def test_missing_landmark_file_is_a_missing_input(case_dir: Path, tmp_path: Path):
    proc = run("measure", str(case_dir / "image.dcm"), "--landmarks", str(tmp_path / "nowhere.json"))
    assert proc.returncode == 66 and "not found" in _one_error_line(proc.stderr)


def test_plans_in_a_folder_archive_that_does_not_exist_is_an_archive_error(tmp_path: Path):
    proc = run("plans", "--archive", f"folder://{tmp_path / 'nonexistent'}", "--study", "1.2.3")
    assert proc.returncode == 11, (proc.returncode, proc.stdout, proc.stderr)
    assert "no such folder" in _one_error_line(proc.stderr) and "no orthoplan plan" not in proc.stdout
    assert not (tmp_path / "nonexistent").exists()


def test_plans_open_into_a_closed_pipe_is_quiet(case_dir: Path, tmp_path: Path):
    """``orthoplan plans … --open | head``: the reader is gone before anything is written."""
    archive = f"folder://{tmp_path / 'archive'}"
    made = run("plan", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"),
               "--out", str(tmp_path / "p"), "--archive", archive)
    assert made.returncode == 0, made.stderr
    study = str(pydicom.dcmread(case_dir / "image.dcm", stop_before_pixels=True).StudyInstanceUID)
    for extra in ((), ("--json",)):
        read_end, write_end = os.pipe()
        os.close(read_end)  # like `| head` that has already exited
        try:
            proc = subprocess.run([sys.executable, "-m", "orthoplan.cli", "plans", "--archive", archive,
                                   "--study", study, "--open", *extra],
                                  stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
        finally:
            os.close(write_end)
        assert proc.returncode == 141, proc.stderr
        assert proc.stderr == "", proc.stderr


def test_every_error_exit_code_is_in_the_readme():
    from orthoplan.errors import EXIT_CODES, EXIT_QUEUED

    readme = (REPO / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("Exit codes:"))
    block = readme[readme.index(line):readme.index(line) + 1200]
    for code in sorted({c for _cls, c in EXIT_CODES} | {2, 70, 141, EXIT_QUEUED}):
        assert re.search(rf"\b{code} [A-Za-z]", block), f"exit code {code} is not documented in the README"


# --------------------------------------------------------------------------- help


def _subparsers(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield from _subparsers(sub, (*path, name))


def test_every_argument_has_help():
    missing = [f"{' '.join(path)} {a.option_strings or a.dest}"
               for path, p in _subparsers(build_parser()) for a in p._actions
               if not isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction))
               and not a.help]
    assert missing == []


def test_measure_help_names_every_view_it_measures():
    help_text = " ".join(run("--help").stdout.split())
    measure = re.search(r"measure (.*?) detect ", help_text).group(1)
    assert "hip" in measure and "long-leg" in measure and "knee" in measure


def test_catalog_check_and_validate_are_one_command():
    out = run("catalog", "--help").stdout
    assert len(re.findall(r"validate a catalog folder", out)) == 1, out
    assert re.search(r"check \(validate\)", out)
    parser = build_parser()
    assert parser.parse_args(["catalog", "validate", "x"]).func is parser.parse_args(["catalog", "check", "x"]).func


def test_readme_lists_every_view():
    from orthoplan.pipeline import VIEWS

    readme = (REPO / "README.md").read_text()
    for row in (l for l in readme.splitlines() if "--view " in l and l.startswith("| `orthoplan")):
        listed = re.search(r"--view ([a-z\-\\|]+)", row).group(1).replace("\\", "").split("|")
        assert sorted(listed) == sorted(VIEWS), row


@pytest.mark.parametrize("argv", [
    ["template", "x.dcm", "--side", "LEFT"], ["plan", "x.dcm", "--out", "d", "--side", "Left"],
    ["detect", "x.dcm", "--side", "RIGHT", "--view", "KNEE-AP"], ["demo", "--side", "LEFT"],
])
def test_side_and_view_in_any_letter_case(argv):
    args = build_parser().parse_args(argv)
    assert args.side in ("left", "right") and (getattr(args, "view", None) or "knee-ap") == "knee-ap"


# --------------------------------------------------------------------------- names typed by hand


def _template(case_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return run("template", str(case_dir / "image.dcm"), "--landmarks", str(case_dir / "landmarks.json"),
               "--side", "left", "--json", *extra)


def test_a_unique_prefix_of_an_implant_family_is_accepted(case_dir: Path):
    proc = _template(case_dir, "--cup", "pinnacle")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["cup"]["family"] == "Pinnacle Sector II"


def test_an_ambiguous_prefix_lists_its_candidates(case_dir: Path):
    proc = _template(case_dir, "--stem", "Corail")
    assert proc.returncode == 8
    line = _one_error_line(proc.stderr)
    assert "ambiguous" in line and "'Corail high offset (KHO)'" in line and "'Corail standard offset'" in line


def test_a_misspelt_implant_family_says_did_you_mean(case_dir: Path):
    proc = _template(case_dir, "--cup", "Pinacle")
    assert proc.returncode == 8
    line = _one_error_line(proc.stderr)
    assert "did you mean 'Pinnacle Sector II'?" in line
    assert "Corail" not in line and "Attune" not in line  # not the whole catalog


def test_a_misspelt_landmark_says_did_you_mean(case_dir: Path, tmp_path: Path):
    data = json.loads((case_dir / "landmarks.json").read_text())
    data["landmarks"]["teardrop_lft"] = data["landmarks"].pop("teardrop_left")
    lf = tmp_path / "lm.json"
    lf.write_text(json.dumps(data))
    proc = run("measure", str(case_dir / "image.dcm"), "--landmarks", str(lf))
    assert proc.returncode == 6
    line = _one_error_line(proc.stderr)
    assert "did you mean 'teardrop_left'" in line and "tibial_plateau_posterior_right" not in line
