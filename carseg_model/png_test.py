import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from carseg_model.png import encode_png

PHOTO = Path(__file__).resolve().parent.parent / "space" / "examples" / "node-opencv_car2.jpg"


def _photo_cutout() -> np.ndarray:
    """A real photo with a soft-edged alpha: an ellipse inside a transparent (black) frame, like a cut-out."""
    rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
    alpha = np.zeros(rgb.shape[:2], np.uint8)
    height, width = alpha.shape
    cv2.ellipse(alpha, (width // 2, height // 2), (width // 3, height // 4), 0, 0, 360, 255, -1)
    alpha = cv2.GaussianBlur(alpha, (9, 9), 0)
    return np.dstack([rgb * (alpha[:, :, None] > 0), alpha])


@pytest.mark.parametrize("channels", [None, 3, 4])
def test_pil_and_opencv_read_back_the_exact_pixels(channels):
    cutout = _photo_cutout()
    image = cutout[:, :, 3] if channels is None else np.ascontiguousarray(cutout[:, :, :channels])
    data = encode_png(image)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), image)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    expected = (
        image if channels is None else cv2.cvtColor(image, cv2.COLOR_RGB2BGR if channels == 3 else cv2.COLOR_RGBA2BGRA)
    )
    assert np.array_equal(decoded, expected)


def test_a_cutout_compresses_well_and_odd_sizes_and_views_round_trip():
    cutout = _photo_cutout()
    assert len(encode_png(cutout)) < cutout.nbytes / 3  # the transparent frame and the "up" filter
    for image in (cutout[:1, :1], cutout[:7, :5, 0], cutout[::2, ::3]):  # one pixel, odd sizes, a strided view
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(image)))), image)


def test_refusals_name_the_problem():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        encode_png(np.zeros((0, 4), np.uint8))
    with pytest.raises(ValueError, match="2 channels"):
        encode_png(np.zeros((4, 4, 2), np.uint8))
