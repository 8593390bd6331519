import cv2
import numpy as np
import pytest

from carseg_model import parallel
from carseg_model.parallel import in_bands, usable_cores


def _two_blurs(image: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Box filters of radius 5 then 3 (a pixel depends on the pixels within 8 of it)."""
    return cv2.blur(cv2.multiply(cv2.blur(image, (11, 11)), weight), (7, 7))


@pytest.mark.parametrize("shape", [(700, 300, 3), (300, 700, 3)])  # bands across rows, then across columns
def test_bands_give_the_result_of_the_whole_image(shape, monkeypatch):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 3)
    rng = np.random.default_rng(0)
    image = rng.random(shape, dtype=np.float32)
    weight = rng.random(shape, dtype=np.float32)
    calls = []

    def compute(*images: np.ndarray) -> np.ndarray:
        calls.append(images[0].shape)
        return _two_blurs(*images)

    banded = in_bands(compute, (image, weight), halo=8)
    assert len(calls) == 3 and all(max(call[:2]) < max(shape[:2]) for call in calls)
    np.testing.assert_array_equal(banded, _two_blurs(image, weight))


@pytest.mark.parametrize("align", [4, 8])
def test_aligned_bands_give_the_result_of_a_computation_on_blocks(align, monkeypatch):
    """Shrinking by ``align`` in whole blocks, blurring and blowing back up: bands must start on block edges."""
    monkeypatch.setattr(parallel, "usable_cores", lambda: 3)
    image = np.random.default_rng(1).random((301, 997), dtype=np.float32)
    calls = []

    def on_blocks(piece: np.ndarray) -> np.ndarray:
        calls.append(piece.shape)
        rows, columns = piece.shape[0] // align, piece.shape[1] // align
        small = cv2.resize(piece[: rows * align, : columns * align], (columns, rows), interpolation=cv2.INTER_AREA)
        blown_up = np.repeat(np.repeat(cv2.blur(small, (5, 5)), align, axis=0), align, axis=1)
        return np.pad(blown_up, [(0, side - blown) for side, blown in zip(piece.shape, blown_up.shape)], mode="edge")

    banded = in_bands(on_blocks, (image,), halo=4 * align, align=align)
    assert len(calls) == 3
    np.testing.assert_array_equal(banded, on_blocks(image))


def test_small_images_are_computed_in_one_piece():
    image = np.zeros((100, 200), np.float32)
    calls = []
    in_bands(lambda piece: calls.append(piece.shape) or piece, (image,), halo=4)
    assert calls == [(100, 200)]


def test_usable_cores_is_at_least_one():
    assert usable_cores() >= 1
