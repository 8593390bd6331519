import numpy as np

from carseg_model.main_car import main_car_pieces
from carseg_model.result import SegmentationResult


def _mask(*boxes: tuple[int, int, int, int], shape=(300, 400)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    for left, top, right, bottom in boxes:
        mask[top:bottom, left:right] = True
    return mask


def test_one_piece_or_none_costs_nothing():
    assert main_car_pieces(_mask()) is None
    assert main_car_pieces(_mask((100, 100, 300, 200))) is None


def test_the_biggest_car_wins_and_a_pole_does_not_split_it():
    subject_left, subject_right = (100, 120, 195, 220), (201, 120, 300, 220)  # a pole 6 px wide between
    far_car = (340, 20, 390, 50)
    kept = main_car_pieces(_mask(subject_left, subject_right, far_car))
    assert np.array_equal(kept, _mask(subject_left, subject_right))


def test_a_mirror_inside_the_body_box_stays_and_centre_breaks_near_ties():
    body, mirror = (120, 100, 280, 200), (150, 90, 160, 96)  # the mirror's piece sits on top, apart
    assert np.array_equal(main_car_pieces(_mask(body, (150, 110, 160, 115), mirror)), _mask(body, mirror))
    centred, corner = (150, 110, 250, 190), (0, 0, 102, 80)  # corner one is a little larger
    assert np.array_equal(main_car_pieces(_mask(centred, corner)), _mask(centred))


def test_result_main_car_keeps_only_that_car():
    probabilities = np.where(_mask((100, 120, 300, 220), (340, 20, 390, 50)), 0.95, 0.02).astype(np.float32)
    image = np.full((300, 400, 3), 120, np.uint8)
    result = SegmentationResult.from_arrays(image, probabilities, refine_edges=False)
    main = result.main_car()
    assert np.array_equal(main.mask, _mask((100, 120, 300, 220)))
    assert main.box == (100, 120, 300, 220) and not main.cutout()[20:50, 340:390].any()
    assert main.with_threshold(0.3).mask.sum() == main.mask.sum()  # the other car stays out at any threshold
    single = SegmentationResult.from_arrays(image, np.where(_mask((100, 120, 300, 220)), 0.9, 0.0).astype(np.float32))
    assert single.main_car() is single
