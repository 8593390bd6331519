"""Negatives folders: with and without a manifest, the seeded hold-out, licences and labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carseg_model.datasets import DatasetError
from carseg_model.training.negatives import (
    HELD_OUT_STEMS,
    NegativeLabels,
    NegativePhoto,
    distractor_ids,
    find_negatives,
    folder_license,
    load_labels,
    split_negatives,
)
from tests.support.tiny_datasets import PHOTO_SIZE
from tests.support.tiny_negatives import (
    CAR_PHOTO,
    DEMO_PHOTO,
    LICENSE,
    PEOPLE,
    PERSON_ID,
    PLAIN,
    UNSURE_PHOTO,
    make_negatives,
)


@pytest.fixture(scope="module")
def negatives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_negatives(tmp_path_factory.mktemp("negatives"))


def test_a_folder_with_a_manifest(negatives: Path) -> None:
    photos = find_negatives(negatives / "people")
    assert [p.path.stem for p in photos] == [*PEOPLE, CAR_PHOTO, UNSURE_PHOTO, DEMO_PHOTO]
    by_stem = {p.path.stem: p for p in photos}
    assert by_stem[CAR_PHOTO].cars_visible == "yes" and by_stem[UNSURE_PHOTO].cars_visible == "unknown"
    assert by_stem[PEOPLE[0]] == NegativePhoto(
        negatives / "people" / "images" / f"{PEOPLE[0]}.jpg", negatives / "people", "no", ("body",), LICENSE
    )
    assert by_stem[PEOPLE[0]].source == "people" and folder_license(photos) == LICENSE


def test_a_folder_without_a_manifest_is_all_car_free(negatives: Path) -> None:
    photos = find_negatives(negatives / "plain")
    assert [p.path.stem for p in photos] == PLAIN
    assert {(p.cars_visible, p.license) for p in photos} == {("no", "unknown")}
    assert load_labels(photos[0]) == NegativeLabels(None, None, None)


def test_bad_manifest_rows_are_listed(tmp_path: Path) -> None:
    (tmp_path / "manifest.csv").write_text("file,cars_visible\nmissing.jpg,no\nphoto.jpg,maybe\n")
    (tmp_path / "photo.jpg").write_bytes(b"")
    with pytest.raises(DatasetError) as raised:
        find_negatives(tmp_path)
    assert len(raised.value.problems) == 2
    assert "missing.jpg does not exist" in raised.value.problems[0] and "'maybe'" in raised.value.problems[1]
    with pytest.raises(DatasetError, match="does not exist"):
        find_negatives(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="has no photos"):
        find_negatives(tmp_path, skip_bad=True)


def test_split_is_seeded_and_never_trains_on_the_demo_examples(negatives: Path) -> None:
    photos = find_negatives(negatives / "people") + find_negatives(negatives / "plain")
    train, val = split_negatives(photos, 0.25, seed=7)
    assert len(val) == round(0.25 * (len(photos) - 1)) and not set(train) & set(val)
    assert DEMO_PHOTO in HELD_OUT_STEMS and DEMO_PHOTO not in {p.path.stem for p in train + val}
    assert split_negatives(photos, 0.25, seed=7) == (train, val) != split_negatives(photos, 0.25, seed=8)
    assert split_negatives(photos, 0.0, seed=7)[1] == []


def test_labels_of_a_photo_with_people_and_of_one_with_a_car(negatives: Path) -> None:
    by_stem = {p.path.stem: p for p in find_negatives(negatives / "people")}
    assert distractor_ids(negatives / "people") == (PERSON_ID,)
    person = load_labels(by_stem[PEOPLE[0]])
    assert person.car is None and person.not_car.shape == PHOTO_SIZE and person.not_car.all()
    assert person.cutout.sum() == 35 * 18  # the person, cut out to be pasted next to cars
    with_car = load_labels(by_stem[CAR_PHOTO])
    assert with_car.car.sum() > 0 and np.array_equal(with_car.cutout, with_car.car)
    assert not (with_car.not_car & with_car.car).any()


def test_class_masks_need_their_class_names(negatives: Path, tmp_path: Path) -> None:
    (tmp_path / "masks_classes").mkdir()
    with pytest.raises(DatasetError, match="no CLASSES.txt"):
        distractor_ids(tmp_path)
