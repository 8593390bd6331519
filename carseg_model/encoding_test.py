import io

import numpy as np
import pytest
from PIL import Image

from carseg_model.encoding import encode_image, write_image

RGB = np.random.default_rng(0).integers(0, 255, (30, 40, 3), np.uint8)


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_png_round_trips_gray_rgb_rgba_and_bool():
    rgba = np.dstack([RGB, np.arange(30 * 40, dtype=np.uint8).reshape(30, 40)])
    for image in (RGB[:, :, 0], RGB, rgba):
        assert np.array_equal(_decode(encode_image(image, ".png")), image)
    mask = RGB[:, :, 0] > 128
    assert np.array_equal(_decode(encode_image(mask, "png")), mask.astype(np.uint8) * 255)


def test_jpeg_and_webp_are_lossy_but_close():
    smooth = np.linspace(0, 255, 30 * 40 * 3).reshape(30, 40, 3).astype(np.uint8)
    for suffix in (".jpg", ".JPEG", ".webp"):
        assert np.abs(_decode(encode_image(smooth, suffix)).astype(int) - smooth).mean() < 4


def test_refusals_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="JPEG has no transparency"):
        encode_image(np.zeros((4, 4, 4), np.uint8), ".jpg")
    with pytest.raises(ValueError, match="cannot write '.tif'"):
        write_image(RGB, tmp_path / "x.tif")
    with pytest.raises(ValueError, match="uint8"):
        encode_image(RGB.astype(np.float32), ".png")
    assert not list(tmp_path.iterdir())


def test_write_image_is_atomic_and_creates_folders(tmp_path):
    path = write_image(RGB, tmp_path / "a" / "b.png")
    assert path == tmp_path / "a" / "b.png" and np.array_equal(np.asarray(Image.open(path)), RGB)
    assert [p.name for p in path.parent.iterdir()] == ["b.png"]
