import numpy as np
import pytest

from carseg_model.rle import decode_rle, encode_rle


def test_counts_are_column_major_and_start_with_background():
    mask = np.array([[0, 1, 1], [0, 1, 0]], bool)  # columns: 00, 11, 10
    assert encode_rle(mask) == {"size": [2, 3], "counts": [2, 3, 1]}
    assert encode_rle(~mask) == {"size": [2, 3], "counts": [0, 2, 3, 1]}


def test_round_trips_random_empty_and_full_masks():
    rng = np.random.default_rng(0)
    for mask in (rng.random((37, 53)) > 0.7, np.zeros((4, 5), bool), np.ones((4, 5), bool)):
        assert np.array_equal(decode_rle(encode_rle(mask)), mask)
    assert encode_rle(np.zeros((4, 5), bool))["counts"] == [20]


def test_refusals_name_the_problem():
    with pytest.raises(ValueError, match=r"must be \(H, W\)"):
        encode_rle(np.zeros((2, 2, 3), bool))
    with pytest.raises(ValueError, match="add up to 5 pixels, not 2x3"):
        decode_rle({"size": [2, 3], "counts": [2, 3]})
