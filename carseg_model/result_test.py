import numpy as np
import pytest

from carseg_model.result import SegmentationResult


@pytest.fixture
def result() -> SegmentationResult:
    image = np.full((40, 60, 3), 100, np.uint8)
    probabilities = np.zeros((40, 60), np.float32)
    probabilities[10:30, 20:50] = 0.9
    probabilities[0:5, 0:5] = 0.4
    return SegmentationResult(image, probabilities, threshold=0.5)


def test_mask_and_threshold(result):
    assert result.mask.dtype == bool and result.mask.sum() == 20 * 30
    assert result.car_fraction == pytest.approx(600 / 2400)
    lower = result.with_threshold(0.3)
    assert lower.mask.sum() == 600 + 25 and result.mask.sum() == 600  # original untouched
    assert set(np.unique(result.mask_image())) == {0, 255}
    with pytest.raises(ValueError, match="threshold"):
        result.with_threshold(2)
    with pytest.raises(ValueError, match="threshold must be a number"):
        result.with_threshold("0.5")


def test_overlay_tints_only_the_car(result):
    overlay = result.overlay(color=(255, 0, 0), opacity=0.5, outline_width=0)
    assert overlay.shape == (40, 60, 3) and overlay.dtype == np.uint8
    assert tuple(overlay[20, 35]) == (178, 50, 50)  # 100*0.5 + (255, 0, 0)*0.5, rounded
    assert tuple(overlay[35, 5]) == (100, 100, 100)
    outlined = result.overlay(color=(0, 255, 0), outline_width=1)
    red, green, blue = outlined[10, 35]  # the car's border is drawn (anti-aliased) in the colour
    assert green > 200 and red < 60 and blue < 60
    with pytest.raises(ValueError, match="opacity"):
        result.overlay(opacity=1.5)
    with pytest.raises(ValueError, match="not a colour"):
        result.overlay(color=(300, 0, 0))


def test_overlay_takes_colour_names_and_defaults(result):
    from carseg_model.defaults import OVERLAY_COLOR, OVERLAY_OPACITY

    red = result.overlay(color=(255, 0, 0), outline_width=0)
    assert np.array_equal(result.overlay(color="#ff0000", outline_width=0), red)
    assert np.array_equal(result.overlay(color="red", outline_width=0), red)
    assert np.array_equal(result.overlay(color=[255, 0, 0], outline_width=0), red)
    default = result.overlay(OVERLAY_COLOR, OVERLAY_OPACITY, outline_width=0)
    assert np.array_equal(result.overlay(outline_width=0), default)
    with pytest.raises(ValueError, match="not a colour"):
        result.overlay(color="no-such-colour")


def test_cutout_is_rgba_with_transparent_background(result):
    cutout = result.cutout()
    assert cutout.shape == (40, 60, 4)
    assert cutout[20, 35, 3] == 255 and cutout[35, 5, 3] == 0
    assert np.array_equal(cutout[:, :, :3], result.image)
    soft = result.cutout(soft_edges=True)
    assert soft[20, 35, 3] == round(0.9 * 255) and soft[2, 2, 3] == round(0.4 * 255)
