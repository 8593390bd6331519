import cv2
import numpy as np
import pytest

from carseg_model.result import SegmentationResult
from carseg_model.video_frames import FlickerMeter, OverlayPainter, ProbabilitySmoother, frame_mask


def test_smoother_is_an_exponential_moving_average_that_restarts_on_a_new_size() -> None:
    smooth = ProbabilitySmoother(0.75)
    ones, zeros = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    assert smooth(ones) == pytest.approx(ones)
    assert smooth(zeros) == pytest.approx(ones * 0.75)
    assert smooth(zeros) == pytest.approx(ones * 0.5625)
    assert smooth(np.zeros((3, 3), np.float32)).max() == 0  # another size: starts afresh
    assert smooth(ones).dtype == np.float32
    off = ProbabilitySmoother(0.0)
    off(ones)
    assert off(zeros) is zeros


@pytest.mark.parametrize("weight", [-0.1, 1.0])
def test_smoother_refuses_weights_outside_0_to_below_1(weight: float) -> None:
    with pytest.raises(ValueError, match="at least 0 and below 1"):
        ProbabilitySmoother(weight)


def test_flicker_is_the_mean_share_of_pixels_that_flip() -> None:
    meter = FlickerMeter()
    assert np.isnan(meter.share)
    for mask in ([0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]):
        meter.add(np.array(mask, bool).reshape(2, 2))
    assert meter.share == pytest.approx((0.5 + 0.0) / 2)


def test_frame_mask_upsamples_and_thresholds() -> None:
    probabilities = np.array([[0.0, 1.0], [0.2, 0.9]], np.float32)
    mask = frame_mask(probabilities, (20, 40), threshold=0.5)
    assert mask.shape == (20, 40) and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    assert mask[0, -1] == 255 and mask[-1, 0] == 0 and mask[-1, -1] == 255
    assert frame_mask(probabilities, (20, 40), threshold=0.0)[0, 0] == 0  # probability 0 is never car


def test_overlay_painter_tints_the_car_and_outlines_it() -> None:
    frame = np.full((100, 100, 3), 100, np.uint8)
    mask = np.zeros((100, 100), np.uint8)
    mask[30:70, 30:70] = 255
    tinted = OverlayPainter((200, 0, 50), 0.5, outline_width=0)(frame, mask)
    assert tinted[50, 50].tolist() == [150, 50, 75] and tinted[5, 5].tolist() == [100, 100, 100]
    outlined = OverlayPainter((200, 0, 50), 0.5, outline_width=3)(frame, mask)
    assert outlined[30, 50].tolist() == [200, 0, 50] and outlined[50, 50].tolist() == [150, 50, 75]
    thin = OverlayPainter((200, 0, 50), 0.5, outline_width=None)(frame, mask)  # scaled: 1 pixel here
    assert (thin != tinted).any(axis=2).sum() < (outlined != tinted).any(axis=2).sum()
    assert frame.max() == 100  # the frame itself is untouched
    with pytest.raises(ValueError, match="opacity"):
        OverlayPainter((0, 0, 0), 1.5, None)


def test_frame_mask_and_overlay_match_the_results_without_edge_refinement() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (72, 128, 3), dtype=np.uint8)
    probabilities = cv2.GaussianBlur(rng.random((24, 40), dtype=np.float32), (0, 0), 3)
    probabilities = (probabilities - probabilities.min()) / np.ptp(probabilities)
    result = SegmentationResult.from_arrays(frame, probabilities, 0.5, refine_edges=False)
    mask = frame_mask(probabilities, frame.shape[:2], 0.5)
    np.testing.assert_array_equal(mask, result.mask_image())
    painted = OverlayPainter((255, 40, 120), 0.4, outline_width=0)(frame, mask)
    np.testing.assert_allclose(painted, result.overlay((255, 40, 120), 0.4, 0), atol=1)
