"""`orthoplan train` end to end: a site's corrected plans (folder of landmark files, or the plans'
SRs in an archive) fine-tune the shipped model into a model file that detection then uses."""

from __future__ import annotations

import json

import numpy as np

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


def _knee_site(tmp_path, real_dir):
    """A site's folder of checked knee films (our readings as the site's corrections): two AP
    films (their view told by their landmarks), a lateral one (its view in the file), a lateral
    one with only axis points and no view (which cannot be told from an AP film's), and an AP
    pelvis film."""
    import shutil

    from orthoplan.landmarks.references import load_references

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    refs = {r.stem: r for r in load_references(repo / "datasets" / "fracatlas-knee" / "references")}
    hips = {r.stem: r for r in load_references(repo / "datasets" / "fracatlas-hip" / "references")}
    site = tmp_path / "site"
    site.mkdir()

    def put(ref, folder, view=None, anatomies=None):
        shutil.copy(real_dir / folder / ref.image, site / f"{ref.stem}.jpg")
        doc = {"landmarks": {n: {"x": p.x, "y": p.y, "source": "manual"} for n, p in ref.points.items()
                             if anatomies is None or n.rsplit("_", 1)[0] in anatomies}}
        if view:
            doc["view"] = view
        (site / f"{ref.stem}.json").write_text(json.dumps(doc))

    put(refs["IMG0000013"], "fracatlas-knee")
    put(refs["IMG0000149"], "fracatlas-knee")
    put(refs["IMG0000014"], "fracatlas-knee", view="knee-lateral")
    put(refs["IMG0000017"], "fracatlas-knee", anatomies=("knee_femoral_axis_proximal", "knee_femoral_axis_distal"))
    put(next(r for r in hips.values() if r.usable and r.patient == "adult" and len(r.points) > 15), "fracatlas-hip")
    return site


def test_knee_films_go_to_the_channels_of_their_view(tmp_path, real_dir, caplog):
    from orthoplan.landmarks import training

    site = _knee_site(tmp_path, real_dir)
    ch = training.KNEE_CHANNELS
    lateral = training.films_from_landmark_files(site, ch, views=("knee-lateral",))
    assert [f.key for f in lateral] == ["IMG0000014"]  # the axis-only film's view is not known: left out, said
    assert "IMG0000017.json left out" in caplog.text and 'add "view"' in caplog.text
    on = {c for c, p, gone in zip(ch, lateral[0].points, lateral[0].absent) if np.isfinite(p).all()}
    assert on == {c for c in ch if c.startswith("lateral:")}  # all nine lateral points, sides dropped
    assert all(gone for c, gone in zip(ch, lateral[0].absent) if not c.startswith("lateral:"))
    ap = training.films_from_landmark_files(site, ch, views=("knee-ap",))
    assert sorted(f.key for f in ap) == ["IMG0000013", "IMG0000149"]
    for f in ap:
        assert all(gone for c, gone in zip(ch, f.absent) if c.startswith("lateral:"))
        assert sum(np.isfinite(p).all() for p in f.points) == 12


def test_a_site_fine_tunes_the_knee_networks_that_detection_then_uses(tmp_path, real_dir, capsys, monkeypatch):
    from orthoplan.landmarks.knee_learned import knee_model_path

    site = _knee_site(tmp_path, real_dir)
    out = tmp_path / "model" / "site-knee"
    assert main(["train", "--network", "knee", "--landmarks", str(site), "--out", str(out), "--epochs", "1"]) == 0
    said = capsys.readouterr().out
    assert "trained on 3 site films" in said and f"ORTHOPLAN_KNEE_MODEL={out.with_suffix('.onnx')}" in said
    m = network.load_model(out.with_suffix(".onnx"), view="knee")
    shipped = network.load_model(view="knee")
    assert m.channels == shipped.channels and m.input_size == shipped.input_size
    assert m.meta["trained"]["finetuned_from"] == "knee.npz" and "not recalibrated" in m.meta["confidence_note"]
    monkeypatch.setenv("ORTHOPLAN_KNEE_MODEL", str(out.with_suffix(".onnx")))
    assert knee_model_path("knee-lateral") == out.with_suffix(".onnx")
    assert main(["detect", str(site / "IMG0000014.jpg"), "--view", "knee-lateral", "--side", "right", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["view"] == "knee-lateral" and "landmarks" in doc and "missing" in doc
    # the AP knee network learns from the AP films only
    out_ap = tmp_path / "model" / "site-knee-ap"
    assert main(["train", "--network", "knee-ap", "--landmarks", str(site), "--out", str(out_ap), "--epochs", "1"]) == 0
    said = capsys.readouterr().out
    assert "trained on 2 site films" in said and "ORTHOPLAN_KNEE_AP_MODEL=" in said
    m_ap = network.load_model(out_ap.with_suffix(".onnx"), view="knee")
    assert m_ap.meta["trained"]["finetuned_from"] == "knee-ap.npz" and m_ap.input_size > m.input_size


def test_a_network_without_films_of_its_view_says_so(tmp_path, real_dir, capsys):
    site = _knee_site(tmp_path, real_dir)
    for stem in ("IMG0000013", "IMG0000149", "IMG0000014", "IMG0000017"):  # only the pelvis film stays
        (site / f"{stem}.json").unlink()
    assert main(["train", "--network", "knee", "--landmarks", str(site), "--out", str(tmp_path / "x")]) == 6
    assert "no training film for the knee network (knee-ap and knee-lateral films)" in capsys.readouterr().err


def test_knee_plans_train_the_knee_network_only(tmp_path, real_dir):
    """Plans read back from an archive: each trains only a network of its view, a lateral knee
    plan's points in the lateral channels."""
    from orthoplan.landmarks import training
    from orthoplan.landmarks.references import load_references
    from dataclasses import replace

    from orthoplan.model import Calibration, Landmark, LandmarkSource, Landmarks

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    refs = {r.stem: r for r in load_references(repo / "datasets" / "fracatlas-knee" / "references")}
    pairs = []
    for stem, view in (("IMG0000014", "knee-lateral"), ("IMG0000013", "knee-ap")):
        ref = refs[stem]
        rad = load_radiograph(str(real_dir / "fracatlas-knee" / ref.image))
        lms = Landmarks.from_landmarks([Landmark(n, p.x, p.y, source=LandmarkSource.MANUAL) for n, p in ref.points.items()])
        plan = plan_radiograph(rad, calibration=Calibration(0.5, "explicit-spacing", 0.0), landmarks=lms, view=view,
                               side=sorted(ref.points)[0].rsplit("_", 1)[1])
        pairs.append((rad, plan))
    ch = training.KNEE_CHANNELS
    lateral = training.films_from_plans(pairs, ch, views=("knee-lateral",))
    assert len(lateral) == 1
    assert {c for c, p in zip(ch, lateral[0].points) if np.isfinite(p).all()} == {c for c in ch if c.startswith("lateral:")}
    assert len(training.films_from_plans(pairs, ch, views=("knee-ap", "knee-lateral"))) == 2
    assert training.films_from_plans(pairs, training.AP_PELVIS_CHANNELS, views=("ap-pelvis", "ap-hip")) == []
    # a plan read from an SR that names no view: the view its landmark names belong to
    unnamed = [(rad, replace(plan, view="")) for rad, plan in pairs]
    assert len(training.films_from_plans(unnamed, ch, views=("knee-lateral",))) == 1
    assert len(training.films_from_plans(unnamed, ch, views=("knee-ap",))) == 1


def test_a_landmark_files_orientation_is_used_and_a_broken_one_said(tmp_path, real_dir, caplog):
    """An AP knee file whose "orientation" says the film is displayed mirrored (as `orthoplan
    detect --json` writes it after reading a mirror-image marker) trains the channels of the side
    as seen; a file whose "orientation" is not one is left out, said."""
    from orthoplan.landmarks import training

    site = _knee_site(tmp_path, real_dir)
    doc = json.loads((site / "IMG0000013.json").read_text())  # a right knee
    assert all(n.endswith("_right") for n in doc["landmarks"])
    doc["orientation"] = {"patient_left_x": -1, "superior_y": -1, "source": "side-marker"}
    (site / "IMG0000013.json").write_text(json.dumps(doc))
    doc = json.loads((site / "IMG0000149.json").read_text())
    doc["orientation"] = {"patient_left_x": 3}
    (site / "IMG0000149.json").write_text(json.dumps(doc))
    films = training.films_from_landmark_files(site, training.KNEE_CHANNELS, views=("knee-ap",))
    assert [f.key for f in films] == ["IMG0000013"]
    seen = {c for c, p in zip(training.KNEE_CHANNELS, films[0].points) if np.isfinite(p).all()}
    assert seen and all(c.endswith("_left") for c in seen)  # mirrored: the right knee looks like a left one
    assert "IMG0000149.json left out" in caplog.text and "not an orientation" in caplog.text


def test_the_view_and_channel_helpers_refuse_what_is_not_landmarks():
    import pytest

    from orthoplan.errors import LandmarkError
    from orthoplan.landmarks import training

    with pytest.raises(LandmarkError, match="names"):
        training.view_of_points("femoral_head_center_left")
    with pytest.raises(LandmarkError, match="names"):
        training.view_of_points([1, 2])
    with pytest.raises(LandmarkError, match="points"):
        training.channel_points([("a", 1, 2)], [], "knee-ap", training.KNEE_CHANNELS)
    with pytest.raises(LandmarkError, match="absent"):
        training.channel_points({}, "teardrop_left", "ap-pelvis", training.AP_PELVIS_CHANNELS)
    assert training.view_of_points([]) is None
