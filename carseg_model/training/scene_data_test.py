"""The scene recipe's training photos: car photos and car-free photos with their soft targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carseg_model.datasets import DatasetError, DatasetSource, find_samples, load_mask
from carseg_model.training.distillation import TeacherTargets
from carseg_model.training.negatives import find_negatives, load_labels
from carseg_model.training.options import TrainingOptions
from carseg_model.training.scene_data import car_scene_photo, negative_scene_photo, prepare_scenes
from tests.support.tiny_datasets import CAR_LABEL, PHOTO_SIZE, make_datasets
from tests.support.tiny_negatives import CAR_PHOTO, LICENSE, PEOPLE, RednessTeacher, make_negatives

MAX_PIXELS = 10**7


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scene_data")
    make_datasets(root / "data")
    make_negatives(root / "negatives")
    return root


@pytest.fixture(scope="module")
def teachers(folders: Path, tmp_path_factory: pytest.TempPathFactory) -> TeacherTargets:
    """Stand-in teachers that have seen every photo of ``folders``."""
    targets = TeacherTargets(tmp_path_factory.mktemp("cache") / "cache.npz", [RednessTeacher(-1), RednessTeacher(-3)])
    photos = sorted(path for path in folders.rglob("*") if path.suffix in (".jpg", ".png") and "mask" not in str(path))
    targets.fill(photos, lambda path: np.asarray(Image.open(path).convert("RGB")), lambda line: None)
    return targets


def street(folders: Path) -> list:
    return find_samples(DatasetSource(folders / "data" / "street", (CAR_LABEL,)))[0]


def test_prepare_scenes_without_teachers(folders: Path) -> None:
    options = TrainingOptions(
        scenes=True, negatives=(str(folders / "negatives" / "people"), str(folders / "negatives" / "plain"))
    )
    lines: list[str] = []
    scenes = prepare_scenes(options, street(folders), folders / "run", seed=7, max_pixels=MAX_PIXELS, log=lines.append)
    assert "left out 1 car-free photo(s) that may show cars" in lines[0]  # cars_visible unknown, no car mask
    # 13 photos (the demo example never counts), 2 held out, the unsure one left out
    assert len(scenes.val_negatives) == 2 and len(scenes.negatives) == 10
    assert scenes.photo_counts() == {"street": 16, "people": 7, "plain": 3} and len(scenes.photos) == 26
    cars, car_free = scenes.photos[:16], scenes.photos[16:]
    assert all(photo.has_car and set(np.unique(photo.target)) <= {0, 255} for photo in cars)
    assert all(photo.target.max() == (255 if photo.has_car else 0) for photo in car_free)
    rows = scenes.card_rows(("CC0",))
    assert [(row["name"], row["license"]) for row in rows] == [("people", "CC0"), ("plain", "unknown")]
    assert scenes.card_rows()[0]["license"] == LICENSE
    assert [(row["train_images"], row["val_images"]) for row in rows] == [(7, 2), (3, 0)]
    assert not (folders / "run").exists()  # no teachers, no cache


def test_a_car_photo_mixes_its_mask_with_its_teacher(folders: Path, teachers: TeacherTargets) -> None:
    sample = street(folders)[0]
    truth = load_mask(sample)
    plain = car_scene_photo(sample, None, 0.25, MAX_PIXELS)
    assert plain.image.shape == (*PHOTO_SIZE, 3) and np.array_equal(plain.target, truth * 255)
    assert np.array_equal(plain.cutout, truth)
    taught = car_scene_photo(sample, teachers, 0.25, MAX_PIXELS)  # "street" is no shared dataset: mean of both
    teacher = teachers.probability(sample.image_path, PHOTO_SIZE, "mean")
    np.testing.assert_allclose(taught.target / 255, 0.75 * truth + 0.25 * teacher, atol=1 / 255)


def test_car_free_photos_take_the_teachers_minimum_and_labelled_pixels_stay_zero(
    folders: Path, teachers: TeacherTargets
) -> None:
    wall = find_negatives(folders / "negatives" / "plain")[0]
    photo = negative_scene_photo(wall, teachers, 0.25, MAX_PIXELS)
    assert not photo.has_car and photo.cutout is None
    np.testing.assert_allclose(photo.target / 255, teachers.probability(wall.path, PHOTO_SIZE, "min"), atol=1 / 255)

    people = {p.path.stem: p for p in find_negatives(folders / "negatives" / "people")}
    person = negative_scene_photo(people[PEOPLE[0]], teachers, 0.25, MAX_PIXELS)
    assert person.target.max() == 0 and person.cutout.sum() > 0  # everything is labelled non-car
    with_car = negative_scene_photo(people[CAR_PHOTO], teachers, 0.25, MAX_PIXELS)
    car = load_labels(people[CAR_PHOTO]).car
    assert with_car.has_car and with_car.target[car].min() > 0.75 * 255 - 1 and with_car.target[~car].max() == 0


def test_a_mask_of_another_size_is_refused(folders: Path, tmp_path: Path) -> None:
    wall = find_negatives(folders / "negatives" / "plain")[0]
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.open(wall.path).save(tmp_path / "images" / "wall.png")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "masks" / "wall.png")
    options = TrainingOptions(scenes=True, negatives=(str(tmp_path),), val_negatives_fraction=0.0)
    with pytest.raises(DatasetError, match="wall.png is 96x72 but its mask is 10x10"):
        prepare_scenes(options, [], tmp_path / "run", seed=7, max_pixels=MAX_PIXELS, log=lambda line: None)
