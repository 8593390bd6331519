import numpy as np
import pytest
from PIL import Image

from carseg_model.compositing import background_image, blend, contact_shadow, darken, paint_overlay

PHOTO = np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8)


def test_colour_blur_and_image_backgrounds(tmp_path):
    assert (background_image("white", PHOTO) == 255).all()
    assert (background_image((10, 20, 30), PHOTO) == (10, 20, 30)).all()
    assert (background_image("#0000ff", PHOTO) == (0, 0, 255)).all()
    blurred = background_image("blur", PHOTO)
    assert blurred.shape == PHOTO.shape and blurred.std() < PHOTO.std() / 2
    wide = np.zeros((50, 200, 3), np.uint8)
    wide[:, 75:125] = 255  # the middle of a wide image covers a 4:3 photo after centre-cropping
    Image.fromarray(wide).save(tmp_path / "wide.png")
    covered = background_image(str(tmp_path / "wide.png"), PHOTO)
    assert covered.shape == PHOTO.shape and covered[30, 40].tolist() == [255, 255, 255]
    with pytest.raises(ValueError, match="not a colour"):
        background_image("no-such-colour", PHOTO)


def test_shadow_lies_under_the_car_box():
    shadow = contact_shadow((400, 600), (100, 100, 500, 300))
    assert shadow.shape == (400, 600) and shadow.dtype == np.uint8
    assert shadow[295, 300] > 60 and shadow[150, 300] == 0 and shadow[295, 20] < 5


def test_blend_and_darken():
    alpha = np.array([[0, 255, 128]], np.uint8)
    white, black = np.full((1, 3, 3), 255, np.uint8), np.zeros((1, 3, 3), np.uint8)
    assert blend(white, black, alpha)[0, :, 0].tolist() == [0, 255, 128]
    assert darken(white, alpha)[0, :, 0].tolist() == [255, 0, 127]


def test_overlay_tints_car_pixels_by_opacity_and_leaves_the_rest():
    image = np.tile(np.arange(256, dtype=np.uint8), (3, 1)).T.reshape(16, 16, 3).copy()  # every value
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 1
    for opacity in (0.0, 0.33, 0.5, 0.8, 1.0):
        painted = paint_overlay(image, mask, (255, 40, 120), opacity, outline_width=0)
        expected = np.clip(np.round(image * (1 - opacity) + np.array([255, 40, 120]) * opacity), 0, 255)
        car = mask.astype(bool)
        assert np.abs(painted[car].astype(int) - expected[car]).max() <= 1  # rounded once or twice
        assert np.array_equal(painted[~car], image[~car])
