from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from carseg_model.result import SegmentationResult


@pytest.fixture
def result() -> SegmentationResult:
    image = np.full((40, 60, 3), 100, np.uint8)
    probabilities = np.zeros((40, 60), np.float32)
    probabilities[10:30, 20:50] = 0.9
    probabilities[0:5, 0:5] = 0.4
    return SegmentationResult.from_arrays(image, probabilities, threshold=0.5, refine_edges=False)


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
    cutout = result.cutout(soft_edges=False)
    assert cutout.shape == (40, 60, 4)
    assert cutout[20, 35, 3] == 255 and cutout[35, 5, 3] == 0
    car = result.mask
    assert np.array_equal(cutout[car][:, :3], result.image[car])
    assert not cutout[~car].any()  # transparent pixels keep nothing of the old background
    soft = result.cutout(soft_edges=True)
    assert soft[20, 35, 3] == 255  # 0.9 is well inside the car: the steepened soft alpha is opaque there
    assert soft[2, 2, 3] == 0  # a blob below the threshold, away from the car, is left out


def test_box_and_fraction(result):
    assert result.box == (20, 10, 50, 30)
    assert result.with_threshold(0.3).box == (0, 0, 50, 30)
    assert result.with_threshold(0.95).box is None and result.with_threshold(0.95).car_fraction == 0.0
    assert not result.with_threshold(0.95).cutout().any()
    assert np.array_equal(result.with_threshold(0.95).main_car().alpha, result.alpha)  # no car: itself
    assert np.array_equal(result.with_threshold(0.95).overlay(), result.image)


def test_full_size_images_come_from_small_probabilities_in_uint8():
    image = np.full((300, 400, 3), 80, np.uint8)
    probabilities = np.zeros((30, 40), np.float32)
    probabilities[10:20, 10:30] = 1.0
    result = SegmentationResult.from_arrays(image, probabilities, refine_edges=False)
    assert result.network_probabilities.shape == (30, 40)
    assert result.alpha.shape == (300, 400) and result.alpha.dtype == np.uint8
    assert result.mask.shape == (300, 400) and result.mask[150, 200] and not result.mask[10, 10]
    assert result.probabilities.dtype == np.float32 and result.probabilities.max() == 1.0
    assert result.with_threshold(0.3).alpha is result.alpha  # another threshold reuses the full-size alpha
    refined = replace(result, refine_edges=True)
    assert refined.alpha is not result.alpha and refined.mask is not result.mask  # each edge mode has its own


def test_writers_round_trip(result, tmp_path):
    from PIL import Image

    mask_file = result.save_mask(tmp_path / "m.png")
    with Image.open(mask_file) as mask:
        assert mask.mode == "L" and np.array_equal(np.asarray(mask), result.mask_image())
    with Image.open(result.save_cutout(tmp_path / "c.png")) as cutout:
        assert cutout.mode == "RGBA"
        assert np.array_equal(np.asarray(cutout), result.cutout())
    with Image.open(result.save_overlay(tmp_path / "o.jpg", outline_width=0)) as overlay:
        assert overlay.format == "JPEG"
        assert np.abs(np.asarray(overlay).astype(int) - result.overlay(outline_width=0)).mean() < 3
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.png", "m.png", "o.jpg"]  # no temporary files
    with pytest.raises(ValueError, match="transparency"):
        result.save_cutout(tmp_path / "c.jpg")
    with pytest.raises(ValueError, match="cannot write '.gif'"):
        result.save_mask(tmp_path / "m.gif")


def test_a_jpeg_is_decoded_in_full_only_for_images(tmp_path):
    from PIL import Image

    from carseg_model.image_io import open_photo

    photo = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    Image.fromarray(photo).save(tmp_path / "p.jpg", quality=95)
    opened = open_photo(tmp_path / "p.jpg", max_pixels=10**8)
    result = SegmentationResult(opened, np.full((24, 32), 0.9, np.float32), refine_edges=False)
    assert result.mask.all() and not opened.decoded  # the mask needs no pixels (refinement would, here at full size)
    assert result.cutout().shape == (480, 640, 4) and opened.decoded


def test_threads_sharing_a_result_make_its_full_size_alpha_once(result, monkeypatch):
    calls = []
    original = SegmentationResult._full_size_alpha

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(SegmentationResult, "_full_size_alpha", counted)
    with ThreadPoolExecutor(4) as pool:
        masks = list(pool.map(lambda _: result.mask, range(8)))
    assert len(calls) == 1 and all(mask is masks[0] for mask in masks)


def test_soft_cutout_border_reaches_the_photo_edges():
    """A car cut off by the photo's edges: its soft border is kept up to the edge, blobs far away are not."""
    image = np.full((90, 120, 3), 100, np.uint8)
    network = np.zeros((9, 12), np.float32)
    network[4:, 6:] = 0.9  # the car runs off the bottom-right corner
    network[0, 0] = 0.3  # a faint blob in the far corner
    result = SegmentationResult.from_arrays(image, network, refine_edges=False)
    alpha = result.cutout()[:, :, 3]
    step = 10  # photo pixels per network pixel
    assert alpha[-1, -1] == 255 and alpha[60, 100] == 255
    border = (result.alpha > 0) & ~result.mask
    near = np.zeros_like(border)
    near[40 - 2 * step :, 60 - 2 * step :] = True  # within the soft border's reach of the car
    assert alpha[border & near].any() and not alpha[border & ~near].any()
    assert not alpha[:10, :10].any()


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_soft_cutout_is_half_transparent_where_the_mask_ends(threshold):
    """The soft border is centred on the mask's edge at any threshold: opaque a little inside, clear a little out."""
    network = np.tile(np.linspace(0.0, 1.0, 12, dtype=np.float32), (9, 1))  # fades in from left to right
    result = SegmentationResult.from_arrays(np.full((90, 120, 3), 100, np.uint8), network, threshold, False)
    alpha, probability = result.cutout()[:, :, 3], result.alpha
    edge = probability == probability[result.mask].min()  # the faintest pixels still in the mask
    assert np.all(np.abs(alpha[edge].astype(int) - 128) <= 3 * 2)  # half transparent (one alpha level is 3 here)
    assert np.all(alpha[probability >= 255 * threshold + 45] == 255)
    assert np.all(alpha[probability <= 255 * threshold - 45] == 0)
