"""R and L side markers read on real films, and the plan's sides following them.

References: the readers' ``sides_from`` in ``datasets/fracatlas-*/references`` (what each
reader saw of the film's side marker, read by eye on the film; see datasets/README.md). The
marker reader's templates are drawn from a font, not taken from these films.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from orthoplan.errors import LandmarkError, OrthoplanError
from orthoplan.frames import MARKER_LIMB_REACH, mirrored, side_markers_agree
from orthoplan.landmarks.markers import MIN_GLYPH_PX, marker_side, read_side_markers
from orthoplan.landmarks.references import load_references
from orthoplan.model import ImageOrientation, SideMarker, findings_in
from orthoplan.overlay import plan_overlay
from orthoplan.pipeline import knee_side, load_radiograph, plan_radiograph

REPO = Path(__file__).resolve().parents[2]


def _references():
    for ds in ("fracatlas-hip", "fracatlas-knee"):
        for ref in load_references(REPO / "datasets" / ds / "references"):
            yield ds, ref


def _film(real_dir: Path, ds: str, name: str) -> np.ndarray:
    return np.asarray(Image.open(real_dir / ds / "images" / name).convert("L"))


def _plan(array: np.ndarray, tmp_path: Path, view: str | None = None, side: str | None = None):
    path = tmp_path / "film.png"
    Image.fromarray(np.ascontiguousarray(array)).save(path)
    return plan_radiograph(load_radiograph(path, spacing_mm=0.15), assume_magnification=1.1, view=view, side=side)


# --------------------------------------------------------------------------- the reader, on real films


def test_markers_are_read_as_the_readers_read_them(real_dir):
    """Every film whose reference names a marker letter: the letter read, if any, is that one;
    every film whose reference names none: nothing read. Of the 25 films with a marker the
    reader reads the 22 written by the acquisition station; the 3 it misses are 373 x 454
    films whose lead marker is a few faint grey pixels (IMG0002176, IMG0002197, IMG0002255)."""
    read, named, wrong, invented = 0, 0, [], []
    for ds, ref in _references():
        name = Path(ref.image).name
        try:
            rad = load_radiograph(real_dir / ds / "images" / name)
        except OrthoplanError:  # IMG0004177 of the data set is a truncated JPEG
            continue
        got = {m.letter for m in read_side_markers(rad.display)}
        said = ref.marker_letter
        if said:
            named += 1
            read += got == {said}
            if got - {said}:
                wrong.append((name, got, said))
        elif got:
            invented.append((name, got))
    assert not wrong, f"a marker read as the other letter: {wrong}"
    assert not invented, f"a marker read where the reader saw none: {invented}"
    assert named == 25 and read >= 22, (named, read)


def test_a_mirrored_film_shows_its_marker_mirrored_at_the_other_side(real_dir):
    film = load_radiograph(real_dir / "fracatlas-knee" / "images" / "IMG0000149.jpg").display  # L marker
    (m,) = read_side_markers(film)
    (f,) = read_side_markers(np.ascontiguousarray(film[:, ::-1]))
    assert (m.letter, m.mirrored, f.letter, f.mirrored) == ("L", False, "L", True)
    assert f.x == pytest.approx(film.shape[1] - m.x, abs=1.0) and f.y == m.y


def test_a_lead_marker_is_read_backwards_on_the_side_its_header_names(real_dir):
    """The real lower-leg CR (MONOCHROME1) carries a lead R, read backwards (the film is shown as
    the header orients it: the patient's right towards +x), its strokes thinner than the font's:
    read by its centre lines as a mirrored R, on the side the header calls the patient's right,
    as its Image Laterality (R) says."""
    rad = load_radiograph(real_dir / "lower_leg_cr_rg3_mono1.dcm")
    (m,) = read_side_markers(rad.display)
    assert (m.letter, m.mirrored) == ("R", True) and rad.image_laterality == "R"
    right = -np.asarray(rad.orientation.left_vector(), float)
    assert float((m.xy - np.array([rad.shape[1], rad.shape[0]]) / 2) @ right) > 0


def test_no_marker_on_the_other_real_dicom_films(real_dir):
    for name in ("hip_cr_rg2.dcm", "chest_cr_rg1_zero_spacing.dcm"):
        assert read_side_markers(load_radiograph(real_dir / name).display) == ()


# --------------------------------------------------------------------------- the reader, on drawn glyphs


def _dark(shape=(500, 500)) -> np.ndarray:
    film = np.zeros(shape, np.float32)
    film[60:260, 90:210] = 0.5  # a limb, far from the glyphs
    return film


def _l(film, y, x, h=24, t=6):
    film[y:y + h, x:x + t] = 1.0
    film[y + h - t:y + h, x:x + int(0.7 * h)] = 1.0


def test_a_letter_of_a_word_or_too_small_a_glyph_is_not_a_marker():
    film = _dark()
    _l(film, 20, 20)
    assert [m.letter for m in read_side_markers(film)] == ["L"]
    _l(film, 20, 44)  # "LL": two letters side by side are a word
    assert read_side_markers(film) == ()
    small = _dark()
    _l(small, 20, 20, h=MIN_GLYPH_PX - 2, t=3)
    assert read_side_markers(small) == ()


def test_a_bright_blob_or_a_glyph_on_bright_bone_is_not_a_marker():
    film = _dark()
    film[20:44, 20:40] = 1.0  # a solid bright square
    assert read_side_markers(film) == ()
    bone = np.full((500, 500), 0.8, np.float32)
    _l(bone, 20, 20)  # an L-shaped bright structure on bright bone: too little contrast
    assert read_side_markers(bone) == ()


def test_a_glyph_at_the_films_edge_is_not_a_marker():
    film = _dark()
    _l(film, 500 - 24, 20)  # an L on the bottom edge: the corner of a field or a cast
    assert read_side_markers(film) == ()


def test_bad_input_is_refused():
    for bad in (np.zeros((10, 10)), np.zeros((40, 40, 3)), np.zeros(100)):
        with pytest.raises(LandmarkError, match="2-D array"):
            read_side_markers(bad)
    with pytest.raises(LandmarkError, match="display image"):
        read_side_markers(np.full((40, 40), 255, np.uint8))  # stored pixels, not the display
    with pytest.raises(LandmarkError):
        SideMarker("X", 1.0, 1.0, 20.0)
    with pytest.raises(LandmarkError):
        SideMarker("R", float("nan"), 1.0, 20.0)


def test_marker_side_names_one_side_or_none():
    r, l_ = SideMarker("R", 10, 10, 20), SideMarker("L", 200, 10, 20)
    assert marker_side([r, r]).value == "right" and marker_side([r, l_]) is None and marker_side([]) is None


# --------------------------------------------------------------------------- markers against landmarks


def test_side_markers_agree_on_both_sides_one_limb_and_the_midline():
    o = ImageOrientation()
    both = {"teardrop_right": (100, 100), "teardrop_left": (200, 100)}
    assert side_markers_agree([SideMarker("R", 20, 10, 20)], both, o) is True
    assert side_markers_agree([SideMarker("L", 20, 10, 20)], both, o) is False
    assert side_markers_agree([SideMarker("L", 20, 10, 20)], both, mirrored(o)) is None  # sides against the orientation
    assert side_markers_agree([SideMarker("R", 20, 10, 20), SideMarker("R", 280, 10, 20)], both, o) is None  # they differ
    one = {"femoral_condyle_medial_right": (100, 100), "femoral_condyle_lateral_right": (40, 100)}
    assert side_markers_agree([SideMarker("R", 130, 10, 20)], one, o, one_limb=True) is True
    assert side_markers_agree([SideMarker("L", 130, 10, 20)], one, o, one_limb=True) is False
    assert side_markers_agree([SideMarker("L", 130, 10, 20)], one, o) is None  # a pelvis with one side found
    # beside another limb, not this one (more than MARKER_LIMB_REACH spreads away): no vote
    assert side_markers_agree([SideMarker("L", 70 + 60 * MARKER_LIMB_REACH + 5, 10, 20)], one, o, one_limb=True) is None
    turned = ImageOrientation.turned("right")  # the patient's left towards +y
    assert side_markers_agree([SideMarker("R", 10, 20, 20)], {"teardrop_right": (50, 100), "teardrop_left": (50, 200)},
                              turned) is True


# --------------------------------------------------------------------------- the plan follows the marker


@pytest.fixture
def learned(monkeypatch):
    monkeypatch.setenv("ORTHOPLAN_DETECTOR", "learned")  # the library's default (the suite pins the classical one)


@pytest.mark.parametrize("ds, name, view", [
    ("fracatlas-hip", "IMG0000041.jpg", None),         # AP pelvis, R marker at the image left
    ("fracatlas-knee", "IMG0000013.jpg", "knee-ap"),   # one knee, R marker
    ("fracatlas-knee", "IMG0000242.jpg", "knee-ap"),   # both knees, R marker beside the right one
])
def test_a_film_displayed_mirrored_is_measured_on_the_patients_sides(real_dir, tmp_path, learned, ds, name, view):
    """The film and its mirror image: the same landmark names on the same anatomy (each point of
    the mirrored plan within 3 % of the film's width of its mirror in the plain plan), the
    patient's left on the other side, and the plan saying so. Without the marker the mirrored
    film's sides would be swapped (its right head on the patient's left one)."""
    film = _film(real_dir, ds, name)
    plain = _plan(film, tmp_path, view)
    flipped = _plan(film[:, ::-1], tmp_path, view)
    assert plain.orientation.source == "assumed-from-side-marker" and plain.orientation.patient_left_x == 1
    assert "mirrored" not in findings_in(plain.notes)
    assert flipped.orientation.patient_left_x == -1 and "mirrored" in findings_in(flipped.notes)
    words = [g.label for layer in plan_overlay(flipped) for g in layer.graphics if g.kind == "text"]
    assert any(w.startswith("DISPLAYED MIRRORED") for w in words) and any("side marker" in w for w in words)
    edge = {g.label: g.points[0][0] for layer in plan_overlay(flipped) for g in layer.graphics
            if g.kind == "text" and g.label in ("R", "L")}
    assert edge["R"] > edge["L"]  # the patient's right written at the image's right
    w = film.shape[1]
    a = {lm.name: lm for lm in plain.landmarks}
    b = {lm.name: lm for lm in flipped.landmarks}
    common = set(a) & set(b)
    assert len(common) >= 0.8 * len(a) and {n.side for n in common} == {n.side for n in a}
    far = [n.value for n in common if np.hypot(w - b[n].x - a[n].x, b[n].y - a[n].y) > 0.03 * w]
    assert len(far) <= 0.1 * len(common), far


def test_a_side_given_is_kept_against_the_marker_and_the_plan_says_so(real_dir, tmp_path, learned):
    plan = _plan(_film(real_dir, "fracatlas-knee", "IMG0000013.jpg"), tmp_path, "knee-ap", side="left")  # R marker
    assert "marker-conflict" in findings_in(plan.notes) and plan.orientation.patient_left_x == 1
    assert {lm.name.side.value for lm in plan.landmarks} == {"left"}


def _with_marker(film: np.ndarray, marker: np.ndarray) -> np.ndarray:
    """``film`` with ``marker`` (a patch) pasted into its darkest corner."""
    h, w = marker.shape
    corners = [(y, x) for y in (40, film.shape[0] - h - 40) for x in (40, film.shape[1] - w - 40)]
    y, x = min(corners, key=lambda c: film[c[0]:c[0] + h, c[1]:c[1] + w].mean())
    out = film.copy()
    out[y:y + h, x:x + w] = marker
    return out


def test_a_lateral_film_takes_its_side_from_its_marker(real_dir, tmp_path, learned):
    """A real lateral film without a marker (IMG0000014) needs a side; with the real L marker of
    another film of the same station (IMG0000149, the letter and its dark margin) pasted into a
    dark corner it is the left knee."""
    lateral = _film(real_dir, "fracatlas-knee", "IMG0000014.jpg")
    donor = _film(real_dir, "fracatlas-knee", "IMG0000149.jpg")
    (m,) = read_side_markers(load_radiograph(real_dir / "fracatlas-knee" / "images" / "IMG0000149.jpg").display)
    half = int(m.height_px)
    patch = donor[int(m.y) - half:int(m.y) + half, int(m.x) - half:int(m.x) + half]
    path = tmp_path / "plain.png"
    Image.fromarray(lateral).save(path)
    with pytest.raises(LandmarkError, match="no R or L marker"):
        knee_side(load_radiograph(path), "knee-lateral")
    marked = _with_marker(lateral, patch)
    Image.fromarray(marked).save(path)
    assert knee_side(load_radiograph(path), "knee-lateral") == "left"
    plan = _plan(marked, tmp_path, "knee-lateral")
    assert plan.landmarks and {lm.name.side.value for lm in plan.landmarks} == {"left"}
    assert any("L marker at" in n and "left knee" in n for n in plan.notes)
    assert "marker-conflict" not in findings_in(plan.notes)
    # a side given against the marker is kept, and the plan says the marker disagrees
    given = _plan(marked, tmp_path, "knee-lateral", side="right")
    assert {lm.name.side.value for lm in given.landmarks} == {"right"} and "marker-conflict" in findings_in(given.notes)


def test_a_persons_landmarks_on_a_film_displayed_mirrored_are_measured_as_on_the_plain_film(real_dir, tmp_path,
                                                                                             learned):
    """The plain film's landmarks, mirrored onto the mirrored film with their names kept (as a
    person reading that film would name them): the marker says the film is displayed mirrored,
    and every measurement equals the plain film's (to 1e-4: the points are stored in float32)."""
    from orthoplan.model import Landmarks

    film = _film(real_dir, "fracatlas-hip", "IMG0000041.jpg")
    plain = _plan(film, tmp_path)
    w = film.shape[1]
    moved = Landmarks.from_landmarks([replace(lm, x=w - lm.x) for lm in plain.landmarks], dict(plain.landmarks.missing))
    path = tmp_path / "flipped.png"
    Image.fromarray(np.ascontiguousarray(film[:, ::-1])).save(path)
    rad = load_radiograph(path, spacing_mm=0.15)
    given = plan_radiograph(rad, landmarks=moved, calibration=plain.calibration)
    assert given.orientation.patient_left_x == -1 and "mirrored" in findings_in(given.notes)
    assert {m.name for m in given.measurements} == {m.name for m in plain.measurements}
    for m in plain.measurements:
        assert given.measurements[m.name].value == pytest.approx(m.value, abs=1e-4), m.name
    # without a marker on the film the same landmarks are measured head up as assumed, not flipped
    rad_blank = load_radiograph(_blank_marker(film[:, ::-1], tmp_path), spacing_mm=0.15)
    assert plan_radiograph(rad_blank, landmarks=moved, calibration=plain.calibration).orientation.patient_left_x == 1


def _blank_marker(film: np.ndarray, tmp_path: Path) -> Path:
    """``film`` with its side markers painted over in the background's grey."""
    out = film.copy()
    for m in read_side_markers(out.astype(np.float32) / 255.0):
        h = int(m.height_px)
        out[int(m.y) - h:int(m.y) + h, int(m.x) - h:int(m.x) + h] = 0
    path = tmp_path / "blank.png"
    Image.fromarray(np.ascontiguousarray(out)).save(path)
    return path


def test_templating_asks_for_the_side_and_names_the_marker(real_dir, capsys, learned):
    """A side read from a marker is still a reading: `orthoplan template` on an AP knee JPEG with
    an L marker (IMG0000149) asks for --side and says what the marker names."""
    from orthoplan.cli import main

    image = real_dir / "fracatlas-knee" / "images" / "IMG0000149.jpg"
    assert main(["template", str(image), "--view", "knee-ap", "--spacing", "0.15"]) == 2
    err = capsys.readouterr().err
    assert "L marker at" in err and "names the left: if that is right, --side left" in err


def test_detect_writes_the_orientation_its_names_are_in_and_measure_reads_it(real_dir, tmp_path, capsys, learned):
    """`orthoplan detect --json` on a mirrored film of one knee (IMG0000013 flipped: R marker)
    names the right knee and writes the mirrored orientation; `orthoplan measure` with that file
    measures what `orthoplan plan` measures on the film."""
    import json

    from orthoplan.cli import main

    path = tmp_path / "mirrored.png"
    Image.fromarray(np.ascontiguousarray(_film(real_dir, "fracatlas-knee", "IMG0000013.jpg")[:, ::-1])).save(path)
    common = ["--view", "knee-ap", "--spacing", "0.15", "--assume-magnification", "1.1"]
    assert main(["detect", str(path), *common, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["orientation"]["patient_left_x"] == -1 and doc["orientation"]["source"] == "assumed-from-side-marker"
    assert doc["landmarks"] and all(k.endswith("_right") for k in doc["landmarks"])
    (tmp_path / "lm.json").write_text(json.dumps(doc))
    assert main(["measure", str(path), *common, "--landmarks", str(tmp_path / "lm.json"), "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert main(["plan", str(path), *common, "--out", str(tmp_path / "plan"), "--no-dicom"]) == 0
    capsys.readouterr()
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())
    values = {name: m["value"] for name, m in plan["measurements"]["measurements"].items()}
    got = measured["measurements"]
    assert plan["orientation"]["patient_left_x"] == -1 and values and set(values) == set(got)
    for name, v in values.items():
        assert got[name]["value"] == pytest.approx(v, abs=0.05), name


def test_sides_that_follow_no_display_are_not_guessed(real_dir, tmp_path, learned, monkeypatch):
    """A detector that named the sides the same whatever the display (here: the mirrored
    pelvis's detection replayed for both tries) cannot agree with the marker either way: the plan
    keeps the standard display and says that the marker disagrees, rather than guess."""
    import orthoplan.pipeline as pipeline

    film = _film(real_dir, "fracatlas-hip", "IMG0000041.jpg")[:, ::-1]
    path = tmp_path / "mirrored.png"
    Image.fromarray(np.ascontiguousarray(film)).save(path)
    rad = load_radiograph(path, spacing_mm=0.15)
    real_detect = pipeline.detect_landmarks_with_notes
    first = real_detect(rad, None, "ap-pelvis")
    monkeypatch.setattr(pipeline, "detect_landmarks_with_notes", lambda *a, **k: first)
    plan = plan_radiograph(rad, assume_magnification=1.1, view="ap-pelvis")
    assert plan.orientation.patient_left_x == 1 and "mirrored" not in findings_in(plan.notes)
    assert "marker-conflict" in findings_in(plan.notes)


def test_templating_a_pelvis_does_not_take_the_side_from_its_marker(real_dir, capsys, learned):
    """A film of both hips with an R marker (IMG0000097): the marker names the side it was placed
    on, not the hip to operate on, so the question names no side."""
    from orthoplan.cli import main

    image = real_dir / "fracatlas-hip" / "images" / "IMG0000097.jpg"
    assert main(["template", str(image), "--spacing", "0.15", "--assume-magnification", "1.1"]) == 2
    err = capsys.readouterr().err
    assert "say which side to template" in err and "marker" not in err


def test_a_marker_on_a_film_of_one_hip_names_it_only_when_the_view_says_one_hip(real_dir, learned):
    """IMG0002338: a film of the right hip with the station's R marker below it. Read as an AP
    pelvis (the default), only the right side is found: the marker may lie beside an unfound
    other hip, so it decides nothing and the plan says why. Planned as a film of one hip, the
    marker names that hip, which agrees."""
    rad = load_radiograph(real_dir / "fracatlas-hip" / "images" / "IMG0002338.jpg", spacing_mm=0.15)
    pelvis = plan_radiograph(rad, assume_magnification=1.1)
    (said,) = [n for n in pelvis.notes if n.startswith("Side marker")]
    assert "only the right side found" in said and pelvis.orientation.source == "assumed-standard-ap"
    hip = plan_radiograph(rad, assume_magnification=1.1, view="ap-hip")
    assert hip.orientation.source == "assumed-from-side-marker" and any("agrees" in n for n in hip.notes)


def test_a_header_orientation_is_kept_against_a_marker_and_the_plan_says_so(real_dir):
    """A phantom AP pelvis whose header says the patient's left is at the image's right
    (PatientOrientation L\\F), with the real R marker of IMG0000041 pasted at the image's right:
    the header's orientation stands, and the plan says the marker disagrees."""
    from orthoplan.phantoms import pelvis as phantom

    case = phantom.make_pelvis(seed=1, rows=500, columns=600, detector_spacing_mm=0.75)
    donor = load_radiograph(real_dir / "fracatlas-hip" / "images" / "IMG0000041.jpg")
    (m,) = read_side_markers(donor.display)
    h = int(m.height_px)
    patch = Image.fromarray(_film(real_dir, "fracatlas-hip", "IMG0000041.jpg")[int(m.y) - h:int(m.y) + h,
                                                                               int(m.x) - h:int(m.x) + h])
    patch = np.asarray(patch.resize((44, 44)), float) / 255.0
    ds = case.dataset
    pixels = ds.pixel_array.copy()
    top = float(pixels.max())
    pixels[20:64, 530:574] = (patch * top).astype(pixels.dtype)  # the patient's left, near the top
    ds.PixelData = pixels.tobytes()
    rad = load_radiograph(ds)
    assert [(s.letter, s.x > 300) for s in read_side_markers(rad.display)] == [("R", True)]
    plan = plan_radiograph(rad)
    assert plan.orientation.source == "PatientOrientation" and plan.orientation.patient_left_x == 1
    assert "marker-conflict" in findings_in(plan.notes) and "mirrored" not in findings_in(plan.notes)


def test_a_plan_reads_its_films_markers_once(real_dir, tmp_path, learned, monkeypatch):
    """The lateral knee's side, the plan's note and the check ask about the same read-only film:
    it is read once; a writeable copy is read anew each time."""
    import orthoplan.landmarks.markers as markers

    calls = []
    original = markers._glyphs
    monkeypatch.setattr(markers, "_glyphs", lambda *a: calls.append(1) or original(*a))
    rad = load_radiograph(real_dir / "fracatlas-knee" / "images" / "IMG0000149.jpg", spacing_mm=0.15)
    plan_radiograph(rad, assume_magnification=1.1, view="knee-ap")
    per_read = len(markers.BRIGHT_LEVELS)
    assert len(calls) == per_read
    read_side_markers(rad.display)
    assert len(calls) == per_read
    copy = np.array(rad.display)
    read_side_markers(copy)
    read_side_markers(copy)
    assert len(calls) == 3 * per_read


def test_a_landmark_file_with_a_broken_orientation_is_a_clear_error(real_dir, tmp_path, capsys):
    import json

    from orthoplan.cli import main

    (tmp_path / "lm.json").write_text(json.dumps({"landmarks": {}, "orientation": {"patient_left_x": 5}}))
    image = real_dir / "fracatlas-hip" / "images" / "IMG0000041.jpg"
    assert main(["measure", str(image), "--spacing", "0.15", "--assume-magnification", "1.1",
                 "--landmarks", str(tmp_path / "lm.json")]) != 0
    assert "'orientation' cannot be read" in capsys.readouterr().err
