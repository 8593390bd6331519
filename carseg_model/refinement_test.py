import cv2
import numpy as np

from carseg_model import parallel
from carseg_model.refinement import NOISE_ALPHA, foreground_colours, refine_alpha, working_size


def test_working_size_keeps_the_aspect_and_caps_the_pixels():
    assert working_size((3024, 4032)) == (756, 1008)  # what the JPEG decoder gives at 1/4 scale
    assert working_size((1080, 1920)) == (1080, 1920)
    assert working_size((600, 800)) == (600, 800)
    assert working_size((3001, 4001), pixels=12_000) == (94, 126)  # 1/32, rounded up


def test_refined_alpha_moves_a_blurry_border_onto_the_photo_edge():
    photo = np.zeros((200, 400, 3), np.uint8)
    photo[:, 200:] = 200  # the car (bright) starts at column 200
    truth = np.zeros((200, 400), bool)
    truth[:, 200:] = True
    network = np.zeros((20, 40), np.float32)
    network[:, 19:] = 1.0  # the network's border is one of its pixels (10 photo pixels) too early
    coarse = cv2.resize((network * 255).astype(np.uint8), (400, 200), interpolation=cv2.INTER_LINEAR)
    refined = refine_alpha(photo, coarse, network.shape)
    assert refined.dtype == np.uint8 and refined.shape == coarse.shape
    assert np.mean((refined > 127) != truth) < np.mean((coarse > 127) != truth) / 2


def test_border_colours_lose_the_old_background():
    car, background = np.array([220, 30, 30]), np.array([30, 30, 220])
    alpha = np.zeros((100, 100), np.uint8)
    alpha[:, 50:] = 255
    alpha[:, 45:50] = 128  # a half-transparent border, whose photo colour is a mix
    weight = alpha[:, :, None] / 255.0
    photo = (car * weight + background * (1 - weight)).astype(np.uint8)
    rows, columns = np.nonzero((alpha > 0) & (alpha < 255))
    colours = foreground_colours(photo, alpha, rows, columns)
    assert colours.shape == (rows.size, 3)
    mixed_distance = np.abs(photo[rows, columns].astype(int) - car).sum(axis=1).mean()
    assert np.abs(colours.astype(int) - car).sum(axis=1).mean() < mixed_distance / 2


def test_border_colours_at_reduced_size_cover_the_last_rows_and_columns():
    """A region above `COLOUR_PIXELS` is estimated in whole 2x2 blocks: an odd last row and column are covered too."""
    car, background = np.array([220, 30, 30]), np.array([30, 30, 220])
    alpha = np.zeros((701, 1001), np.uint8)  # 0.7 MP: estimated at half size; 701 and 1001 are odd
    alpha[:, 500:] = 255
    alpha[:, 490:500] = 128
    weight = alpha[:, :, None] / 255.0
    photo = (car * weight + background * (1 - weight)).astype(np.uint8)
    rows, columns = np.nonzero((alpha > 0) & (alpha < 255))
    colours = foreground_colours(photo, alpha, rows, columns)
    last = rows == 700  # beyond the 350 whole blocks of 2 rows
    assert last.any()
    distance = np.abs(colours.astype(int) - car).sum(axis=1)
    mixed_distance = np.abs(photo[rows, columns].astype(int) - car).sum(axis=1)
    assert distance[last].mean() < mixed_distance[last].mean() / 2
    assert distance.mean() < mixed_distance.mean() / 2


def test_alpha_below_the_noise_floor_away_from_the_car_keeps_its_upsampled_value():
    photo = np.random.default_rng(1).integers(0, 255, (300, 400, 3), np.uint8)  # edges everywhere
    coarse = np.random.default_rng(2).integers(0, NOISE_ALPHA, (300, 400), np.uint8)  # the network's noise
    coarse[100:200, 150:250] = 255  # the car
    refined = refine_alpha(photo, coarse, (30, 40))
    away = np.ones((300, 400), bool)
    away[50:250, 100:300] = False  # the car's box widened by more than the filter's reach (2 radii of 20 px)
    assert np.array_equal(refined[away], coarse[away])
    assert not np.array_equal(refined[95:205, 145:255], coarse[95:205, 145:255])  # the border is fitted


def test_border_colours_in_bands_are_those_of_one_piece(monkeypatch):
    """Each core takes a band of the photo; the wide box's blocks line up with the whole photo's."""
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 255, (400, 1001, 3), np.uint8)
    alpha = np.zeros((400, 1001), np.uint8)
    cv2.ellipse(alpha, (500, 200), (420, 150), 0, 0, 360, 255, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 4)  # a soft border all round
    rows, columns = np.nonzero((alpha > 0) & (alpha < 255))
    monkeypatch.setattr(parallel, "usable_cores", lambda: 1)
    whole = foreground_colours(photo, alpha, rows, columns)
    monkeypatch.setattr(parallel, "usable_cores", lambda: 3)
    np.testing.assert_array_equal(foreground_colours(photo, alpha, rows, columns), whole)
