"""`orthoplan train` end to end: a site's corrected plans (folder of landmark files, or the plans'
SRs in an archive) fine-tune the shipped model into a model file that detection then uses."""

from __future__ import annotations

import json

from orthoplan.phantoms import pelvis as phantom
from orthoplan.cli import main
from orthoplan.landmarks import network
from orthoplan.pipeline import load_radiograph, plan_radiograph, store_plan


def _phantom(seed: int):
    return phantom.make_pelvis(seed=seed, rows=500, columns=600, detector_spacing_mm=0.75, ball_diameter_mm=None)


def test_train_from_landmark_files_then_detect_with_it(tmp_path, capsys):
    site = tmp_path / "site"
    site.mkdir()
    for seed in (1, 2):
        case = _phantom(seed)
        case.dataset.save_as(site / f"film{seed}.dcm", enforce_file_format=True)
        doc = {"landmarks": {lm.name.value: {"x": lm.x, "y": lm.y, "source": "manual", "radius": lm.radius_px}
                             for lm in case.landmarks}}
        (site / f"film{seed}.json").write_text(json.dumps(doc))
    out = tmp_path / "model" / "site-ap-pelvis"
    assert main(["train", "--landmarks", str(site), "--out", str(out), "--epochs", "1"]) == 0
    said = capsys.readouterr().out
    assert "trained on 2 site films" in said and "ORTHOPLAN_MODEL=" in said
    m = network.load_model(out.with_suffix(".onnx"))
    shipped = network.load_model()
    assert m.input_size == shipped.input_size and m.meta["trained"]["finetuned_from"] == "ap-pelvis.npz"
    assert "not recalibrated" in m.meta["confidence_note"]
    assert main(["detect", str(site / "film1.dcm"), "--model", str(out.with_suffix(".onnx")), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "landmarks" in doc and "missing" in doc


def test_train_from_the_plans_in_an_archive(tmp_path, capsys):
    from orthoplan.archive import open_archive

    url = f"folder://{tmp_path / 'archive'}"
    case = _phantom(4)
    rad = load_radiograph(case.dataset)
    open_archive(url).store([case.dataset])
    plan = plan_radiograph(rad, landmarks=case.landmarks, assume_magnification=1.15, ball_diameter_mm=None)
    store_plan(rad, plan, url)
    out = tmp_path / "m2"
    study = str(case.dataset.StudyInstanceUID)
    assert main(["train", "--archive", url, "--study", study, "--out", str(out), "--epochs", "1"]) == 0
    assert "trained on 1 site films" in capsys.readouterr().out
    assert out.with_suffix(".onnx").exists()


def test_train_without_films_says_what_to_give(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--landmarks", str(empty), "--out", str(tmp_path / "x")]) == 6
    assert "no training film" in capsys.readouterr().err
