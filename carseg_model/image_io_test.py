import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from carseg_model.errors import ImageNotFoundError, ImageTooLargeError, InvalidImageError
from carseg_model.image_io import load_image, open_photo

PHOTO = Path(__file__).resolve().parent.parent / "space" / "examples" / "node-opencv_car1.jpg"
LIMIT = 50_000_000


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.asarray(Image.open(PHOTO).convert("RGB"))


def test_path_bytes_and_pil_give_the_same_pixels(photo):
    assert np.array_equal(load_image(PHOTO, LIMIT), photo)
    assert np.array_equal(load_image(str(PHOTO), LIMIT), photo)
    assert np.array_equal(load_image(PHOTO.read_bytes(), LIMIT), photo)
    assert np.array_equal(load_image(Image.open(PHOTO), LIMIT), photo)


def test_arrays_gray_rgba_float_uint16(photo):
    gray = photo[:, :, 0]
    assert np.array_equal(load_image(gray, LIMIT), np.dstack([gray] * 3))
    assert np.array_equal(load_image(gray[:, :, None], LIMIT), np.dstack([gray] * 3))
    opaque = np.dstack([photo, np.full(gray.shape, 255, np.uint8)])
    assert np.array_equal(load_image(opaque, LIMIT), photo)
    transparent = np.dstack([photo, np.zeros(gray.shape, np.uint8)])
    assert (load_image(transparent, LIMIT) == 255).all()  # composited on white
    assert np.array_equal(load_image(photo / 255.0, LIMIT), photo)
    assert np.array_equal(load_image(photo.astype(np.uint16) * 257, LIMIT), photo)


def test_exif_orientation_is_applied(photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    data = _encode(Image.fromarray(photo), "JPEG", exif=exif, quality=95)
    loaded = load_image(data, LIMIT)
    assert loaded.shape == (photo.shape[1], photo.shape[0], 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_open_photo_matches_load_image_in_every_exif_orientation(photo, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(Image.fromarray(photo), "JPEG", exif=exif, quality=95)
    expected = load_image(data, LIMIT)
    opened = open_photo(data, LIMIT)
    assert opened.size == expected.shape[:2] and not opened.decoded
    reduced = opened.reduced((expected.shape[0] // 4, expected.shape[1] // 4))  # the decoder shrinks by 1/2, 1/4, 1/8
    assert (
        not opened.decoded and reduced.shape[0] * 4 >= expected.shape[0] and reduced.shape[1] * 4 >= expected.shape[1]
    )
    assert reduced.shape[0] < expected.shape[0] and reduced.shape[0] / reduced.shape[1] == pytest.approx(
        expected.shape[0] / expected.shape[1], rel=0.02
    )
    shrunk = cv2.resize(expected, reduced.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(reduced.astype(int) - shrunk).mean() < 4  # the same picture, the same way up
    pixels = opened.pixels()
    assert opened.decoded and pixels.shape == expected.shape
    assert np.abs(pixels.astype(int) - expected).mean() < 1  # simplejpeg's and PIL's libjpeg-turbo


def test_open_photo_decodes_other_inputs_at_once(photo):
    png = open_photo(_encode(Image.fromarray(photo), "PNG"), LIMIT)
    assert png.decoded and np.array_equal(png.pixels(), photo)
    assert np.array_equal(open_photo(photo, LIMIT).pixels(), photo)
    with pytest.raises(ImageTooLargeError):
        open_photo(PHOTO, 1000)
    with pytest.raises(InvalidImageError, match="truncated or corrupt"):
        open_photo(PHOTO.read_bytes()[:2000], LIMIT).pixels()


def test_special_modes(photo):
    small = Image.fromarray(photo).resize((64, 48))
    cmyk = load_image(_encode(small.convert("CMYK"), "JPEG"), LIMIT)
    assert cmyk.shape == (48, 64, 3) and cmyk.dtype == np.uint8
    sixteen = Image.fromarray(np.asarray(small.convert("L")).astype(np.uint16) * 257)
    loaded = load_image(_encode(sixteen, "PNG"), LIMIT)
    assert loaded.shape == (48, 64, 3)
    assert np.abs(loaded[:, :, 0].astype(int) - np.asarray(small.convert("L"))).max() <= 1
    frames = [Image.new("RGB", (20, 10), "red"), Image.new("RGB", (20, 10), "blue")]
    gif = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    first = load_image(gif, LIMIT)
    assert first.shape == (10, 20, 3) and first[0, 0, 0] > 200 and first[0, 0, 2] < 50
    assert load_image(np.zeros((1, 1, 3), np.uint8), LIMIT).shape == (1, 1, 3)


@pytest.mark.parametrize(
    "source, error, message",
    [
        (b"this is a text file, not a photo", InvalidImageError, "not an image format"),
        (b"", InvalidImageError, "empty"),
        (np.zeros((0, 10, 3), np.uint8), InvalidImageError, "empty"),
        (np.zeros((10, 10, 2), np.uint8), InvalidImageError, "shape"),
        (np.zeros((10,), np.uint8), InvalidImageError, "shape"),
        (np.full((10, 10, 3), -1, np.int32), InvalidImageError, "0..255 .* 0..65535"),
        (np.full((10, 10, 3), 70_000, np.int64), InvalidImageError, "0..65535"),
        (np.full((10, 10, 3), 300.0), InvalidImageError, r"\[0, 1\] or \[0, 255\]"),
        (np.full((10, 10, 3), -0.5, np.float32), InvalidImageError, r"\[0, 1\] or \[0, 255\]"),
        (np.full((10, 10, 3), np.nan, np.float32), InvalidImageError, "NaN"),
        (np.full((10, 10, 3), np.inf), InvalidImageError, "NaN or infinite"),
        (np.zeros((10, 10, 3), np.complex64), InvalidImageError, "dtype complex64"),
        (np.zeros((100, 100, 3), np.uint8), ImageTooLargeError, "above the limit of 9,999"),
        (12345, InvalidImageError, "int"),
    ],
)
def test_bad_inputs_say_what_is_wrong(source, error, message):
    with pytest.raises(error, match=message):
        load_image(source, max_pixels=9_999)


def test_truncated_jpeg(photo):
    data = _encode(Image.fromarray(photo), "JPEG")
    with pytest.raises(InvalidImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2], LIMIT)


def test_large_file_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(path)
    with pytest.raises(ImageTooLargeError, match="4000x3000"):
        load_image(path, max_pixels=10_000_000)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        load_image(tmp_path / "nope.jpg", LIMIT)
    for source, message in [(tmp_path / "nope.jpg", "no such image file"), (tmp_path, "is a folder"), ("", "empty")]:
        with pytest.raises(ImageNotFoundError, match=message) as raised:
            load_image(source, LIMIT)
        assert isinstance(raised.value, InvalidImageError) and isinstance(raised.value, ValueError)
        assert isinstance(raised.value, FileNotFoundError)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InvalidImageError, match="empty file"):
        load_image(tmp_path / "empty.jpg", LIMIT)


def test_too_large_says_how_to_raise_the_limit():
    with pytest.raises(
        ImageTooLargeError, match=r"from_pretrained\(\.\.\., max_pixels=N\).*config\.replace\(max_pixels=N\)"
    ):
        load_image(np.zeros((100, 100, 3), np.uint8), max_pixels=9_999)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64])
def test_integer_arrays_with_values_up_to_255_are_8_bit(photo, dtype):
    """An int32 array holding 0..255 used to be taken for 16-bit: all black."""
    values = photo // 2 if dtype == np.int8 else photo  # int8 holds up to 127
    assert np.array_equal(load_image(values.astype(dtype), LIMIT), values)


def test_integer_arrays_above_255_and_uint16_are_16_bit(photo):
    sixteen = photo.astype(np.int32) * 257
    assert np.array_equal(load_image(sixteen, LIMIT), photo)
    assert np.array_equal(load_image(sixteen.astype(np.uint16), LIMIT), photo)
    big_endian = sixteen.astype(">u2")
    assert np.array_equal(load_image(big_endian, LIMIT), photo)


def test_float_arrays_in_0_1_or_0_255(photo):
    assert np.array_equal(load_image(photo.astype(np.float32) / 255, LIMIT), photo)
    assert np.array_equal(load_image(photo.astype(np.float32), LIMIT), photo)
    assert np.array_equal(load_image(photo.astype(np.float16), LIMIT), photo)


def test_bool_arrays_are_black_and_white():
    mask = np.zeros((4, 6), bool)
    mask[1:3, 2:5] = True
    loaded = load_image(mask, LIMIT)
    assert loaded.dtype == np.uint8 and set(np.unique(loaded)) == {0, 255}
    assert np.array_equal(loaded[:, :, 0] == 255, mask)


def test_float_and_integer_pil_images_and_tiffs(photo, tmp_path):
    """PIL modes F and I (e.g. 32-bit float TIFFs) came out black."""
    gray = photo[:, :, 1]
    expected = np.dstack([gray] * 3)
    assert np.array_equal(load_image(Image.fromarray(gray.astype(np.float32) / 255), LIMIT), expected)
    assert np.array_equal(load_image(Image.fromarray(gray.astype(np.float32)), LIMIT), expected)
    assert np.array_equal(load_image(Image.fromarray(gray.astype(np.int32)), LIMIT), expected)
    for values in (gray.astype(np.float32) / 255, gray.astype(np.float32), gray.astype(np.int32)):
        path = tmp_path / "photo.tif"
        Image.fromarray(values).save(path)
        assert Image.open(path).mode in ("F", "I")
        assert np.array_equal(load_image(path, LIMIT), expected), values.dtype
    Image.fromarray(np.full((4, 4), 1000.0, np.float32)).save(tmp_path / "hdr.tif")
    with pytest.raises(InvalidImageError, match=r"\[0, 1\] or \[0, 255\]"):
        load_image(tmp_path / "hdr.tif", LIMIT)
