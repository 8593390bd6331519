"""Scene elements: repeatable per (seed, epoch, index), the crop's shape, pasted objects' targets, soft targets."""

from __future__ import annotations

import numpy as np
import pytest

from carseg_model.training.scenes import (
    ScenePhoto,
    SceneRecipe,
    SceneSampler,
    fit_long_side,
    largest_object,
    paste,
    soft_target,
    zoom_and_crop,
)

SIZE = (64, 96)
STILL = SceneRecipe(
    zoom_range=(1.0, 1.0),
    aspect_jitter=1.0,
    car_paste_probability=0.0,
    distractor_paste_probability=0.0,
    flip_probability=0.0,
    color_jitter=False,
)
"""No randomness but the crop's offset."""


def photo(shape: tuple[int, int] = (72, 96), value: int = 0, has_car: bool = False, color: int = 100) -> ScenePhoto:
    """A flat photo; its cut-out is a centred box, a car when ``has_car``."""
    cutout = np.zeros(shape, bool)
    cutout[shape[0] // 4 : 3 * shape[0] // 4, shape[1] // 4 : 3 * shape[1] // 4] = True
    image = np.full((*shape, 3), color, np.uint8)
    return ScenePhoto(image, np.full(shape, value, np.uint8), cutout, has_car)


def test_elements_are_repeatable_and_shaped_like_the_crop() -> None:
    rng = np.random.default_rng(0)
    photos = [
        ScenePhoto(rng.integers(0, 255, (80, 120, 3), np.uint8), rng.integers(0, 255, (80, 120), np.uint8), None, True)
        for _ in range(3)
    ] + [photo(has_car=True), photo(color=30)]
    sampler = SceneSampler(photos, SIZE, seed=7)
    image, target = sampler.element(epoch=1, index=2)
    assert image.shape == (*SIZE, 3) and image.dtype == np.uint8
    assert target.shape == SIZE and target.dtype == np.float32 and 0.0 <= target.min() <= target.max() <= 1.0
    again = SceneSampler(photos, SIZE, seed=7).element(epoch=1, index=2)
    np.testing.assert_array_equal(image, again[0])
    np.testing.assert_array_equal(target, again[1])
    assert not np.array_equal(image, sampler.element(epoch=2, index=2)[0])
    assert not np.array_equal(image, SceneSampler(photos, SIZE, seed=8).element(epoch=1, index=2)[0])
    order = sampler.epoch_order(3)
    assert sorted(order) == list(range(5)) and list(order) == list(SceneSampler(photos, SIZE, 7).epoch_order(3))


def test_a_zoomed_out_photo_is_mirrored_not_padded_with_black() -> None:
    rng = np.random.default_rng(1)
    zoomed_out = SceneRecipe(zoom_range=(0.5, 0.5), aspect_jitter=1.0)
    gradient = np.tile(np.arange(96, dtype=np.uint8)[None, :, None] * 2 + 10, (72, 1, 3))
    image, target = zoom_and_crop(gradient, np.full((72, 96), 255, np.uint8), SIZE, zoomed_out, rng)
    assert image.shape == (*SIZE, 3) and (target == 255).all()  # the car target fills the crop
    assert image.min() >= 10  # no black border
    row = image[SIZE[0] // 2, :, 0].astype(int)
    assert (np.diff(row) > 0).any() and (np.diff(row) < 0).any()  # the gradient runs back at a mirrored edge


def test_a_pasted_car_is_car_and_a_pasted_distractor_is_not() -> None:
    rng = np.random.default_rng(2)
    donor = photo(value=255, has_car=True, color=200)
    image, target = np.full((*SIZE, 3), 50, np.uint8), np.zeros(SIZE, np.uint8)
    image, target = paste(image, target, donor, (0.05, 0.05), 255, rng)
    car = (image == 200).all(axis=2)
    assert car.sum() > 0 and (target[car] == 255).all() and (target[~car] < 255).all()

    person = photo(color=120)
    car_everywhere = np.full(SIZE, 255, np.uint8)
    image, target = paste(np.full((*SIZE, 3), 50, np.uint8), car_everywhere, person, (0.2, 0.2), 0, rng)
    pasted = (image == 120).all(axis=2)
    assert pasted.sum() > 0 and (target[pasted] == 0).all() and (target[~(image != 50).any(axis=2)] == 255).all()


def test_the_sampler_pastes_cars_and_distractors_into_photos() -> None:
    cars = SceneRecipe(**{**STILL.__dict__, "car_paste_probability": 1.0, "car_paste_area": (0.05, 0.05)})
    sampler = SceneSampler([photo(color=30), photo(value=255, has_car=True, color=200)], SIZE, seed=0, recipe=cars)
    image, target = sampler.element(0, 0)  # the car-free photo, with the car pasted into it
    assert (target[(image == 200).all(axis=2)] == 1.0).all() and target.max() == 1.0

    people = SceneRecipe(**{**STILL.__dict__, "distractor_paste_probability": 1.0, "distractor_paste_area": (0.1, 0.1)})
    sampler = SceneSampler([photo(value=255, has_car=True, color=200), photo(color=30)], SIZE, seed=0, recipe=people)
    image, target = sampler.element(0, 0)  # a car photo (target 1 everywhere), a person pasted into it
    person = (image == 30).all(axis=2)
    assert person.sum() > 0 and (target[person] == 0.0).all()


def test_soft_target_rules() -> None:
    truth = np.array([[True, False]])
    teacher = np.array([[0.2, 0.8]], np.float32)
    np.testing.assert_array_equal(soft_target(truth, None), [[255, 0]])
    np.testing.assert_array_equal(soft_target(None, teacher), [[51, 204]])  # the teachers alone
    mixed = soft_target(truth, teacher, teacher_weight=0.25)  # 0.75 * truth + 0.25 * teacher
    np.testing.assert_array_equal(mixed, [[round(255 * (0.75 + 0.05)), round(255 * 0.2)]])
    np.testing.assert_array_equal(soft_target(None, teacher, not_car=np.array([[False, True]])), [[51, 0]])
    with pytest.raises(ValueError, match="ground-truth mask or a teacher"):
        soft_target(None, None)


def test_largest_object_and_fit_long_side() -> None:
    mask = np.zeros((40, 40), bool)
    mask[2:5, 2:5] = True
    mask[10:30, 10:30] = True
    assert largest_object(mask).sum() == 400 and largest_object(mask, min_pixels=401) is None
    assert largest_object(np.zeros((5, 5), bool)) is None
    assert fit_long_side(np.zeros((100, 200, 3), np.uint8), 50).shape == (25, 50, 3)
    small = np.zeros((10, 20), np.uint8)
    assert fit_long_side(small, 50) is small
