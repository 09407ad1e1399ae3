"""The notebook's film picker (:func:`orthoplan.notebook.choose_film`): a file, a folder, a study
in a folder archive (stored with the archive API beside a plan's SR and GSPS), and the
synthetic phantom when no film is given."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from orthoplan.archive import open_archive
from orthoplan.errors import ArchiveError, InputNotFoundError, OrthoplanError, exit_code_for
from orthoplan.notebook import PHANTOM_NOTE, Film, archive_films, choose_film, list_films
from orthoplan.phantoms import pelvis as phantom
from orthoplan.pipeline import load_radiograph, plan_radiograph, store_plan


def _case(seed: int):
    return phantom.make_pelvis(seed=seed, rows=500, columns=600, detector_spacing_mm=0.75)


@pytest.fixture(scope="module")
def cases():
    return [_case(31), _case(32)]


def test_a_file_opens_that_film(cases, tmp_path):
    path = tmp_path / "hip.dcm"
    cases[0].dataset.save_as(path, enforce_file_format=True)
    choice = choose_film(str(path))
    assert [f.label for f in choice.films] == ["hip.dcm"]
    assert not choice.film.is_phantom and "no film given" not in choice.note
    rad = choice.load()
    assert rad.reference.sop_instance_uid == str(cases[0].dataset.SOPInstanceUID)
    assert rad.shape == (500, 600)


def test_a_folder_lists_its_films_and_the_choice_follows_the_dropdown(cases, tmp_path):
    cases[1].dataset.save_as(tmp_path / "b.dcm", enforce_file_format=True)
    sub = tmp_path / "older"
    sub.mkdir()
    cases[0].dataset.save_as(sub / "a.dcm", enforce_file_format=True)
    pixels = np.asarray(cases[0].dataset.pixel_array, dtype=np.uint16)
    Image.fromarray(pixels).save(tmp_path / "c.png")
    (tmp_path / "b.dcm.landmarks.json").write_text("{}")  # a sidecar is not a film
    (tmp_path / "notes.txt").write_text("not a film")

    choice = choose_film(tmp_path)
    assert choice.labels == ["b.dcm", "c.png", "older/a.dcm"]
    assert choice.film.label == "b.dcm" and "3 film(s)" in choice.note
    assert choose_film(tmp_path, pick="a.dcm").film.label == "older/a.dcm"
    assert choose_film(tmp_path, pick=1).load().shape == pixels.shape

    box = choice.widget()
    dropdown = box.children[1]
    assert [label for label, _i in dropdown.options] == choice.labels
    dropdown.value = 2
    assert choice.film.label == "older/a.dcm"
    assert choice.load().reference.sop_instance_uid == str(cases[0].dataset.SOPInstanceUID)
    choice.select("c.png")
    assert dropdown.value == 1


def test_a_study_in_a_folder_archive_lists_its_films_not_its_plans(cases, tmp_path):
    url = f"folder://{tmp_path / 'archive'}"
    archive = open_archive(url)
    archive.store([cases[0].dataset, cases[1].dataset])
    rad = load_radiograph(cases[0].dataset)
    store_plan(rad, plan_radiograph(rad, landmarks=cases[0].landmarks), url, queue_on_failure=False)
    study = str(cases[0].dataset.StudyInstanceUID)
    assert {r["Modality"] for r in archive.search("instance", StudyInstanceUID=study)} >= {"SR", "PR"}

    choice = choose_film(f"study:{study}", archive_url=url)
    assert len(choice.films) == 1 and choice.films[0].sop_instance_uid == str(cases[0].dataset.SOPInstanceUID)
    patient_id = str(cases[0].dataset.PatientID)
    assert patient_id and patient_id not in choice.film.label + choice.note + repr(choice)
    back = choice.load()
    assert back.reference.sop_instance_uid == str(cases[0].dataset.SOPInstanceUID)
    assert np.array_equal(back.pixels, rad.pixels)

    # the archive URL itself: every film of every study an archive search finds
    films, note = list_films(url)
    assert sorted(f.sop_instance_uid for f in films) == sorted(str(c.dataset.SOPInstanceUID) for c in cases)
    assert all("study …" in f.label for f in films) and url in note
    newest = max(cases, key=lambda c: (str(c.dataset.StudyDate), str(c.dataset.StudyInstanceUID)))
    assert [f.sop_instance_uid for f in archive_films(url, max_films=1)] == [str(newest.dataset.SOPInstanceUID)]


def test_no_film_falls_back_to_the_phantom_and_says_so():
    choice = choose_film(None)
    assert choice.note == PHANTOM_NOTE and choice.note.startswith("no film given: using the synthetic phantom")
    assert choice.film.is_phantom and PHANTOM_NOTE in repr(choice)
    rad = choice.load()
    assert rad.shape == choice.film.phantom.dataset.pixel_array.shape


def test_what_is_not_a_film_says_so(tmp_path, cases):
    with pytest.raises(InputNotFoundError, match="no such film") as exc:
        choose_film(tmp_path / "missing.dcm")
    assert exit_code_for(exc.value) == 66  # a missing input (sysexits EX_NOINPUT)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputNotFoundError, match="no DICOM, PNG"):
        choose_film(tmp_path / "empty")
    url = f"folder://{tmp_path / 'archive'}"
    open_archive(url).store([cases[0].dataset])
    with pytest.raises(ArchiveError, match="no film"):
        choose_film("study:1.2.3.4", archive_url=url)
    with pytest.raises(OrthoplanError, match="out of range"):
        choose_film(f"study:{cases[0].dataset.StudyInstanceUID}", archive_url=url, pick=3)
    with pytest.raises(ArchiveError):
        choose_film("study:not-a-uid", archive_url=url)


def test_film_is_immutable_and_loads_a_dataset(cases):
    film = Film("given", source=cases[0].dataset)
    with pytest.raises(AttributeError):
        film.label = "other"  # type: ignore[misc]
    assert film.load().reference.sop_instance_uid == str(cases[0].dataset.SOPInstanceUID)
