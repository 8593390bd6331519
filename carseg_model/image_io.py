"""Turn whatever a user passes (path, bytes, PIL image, numpy array) into RGB uint8 pixels.

`load_image` decodes a photo at once; `open_photo` reads only its header and decodes on demand
(a JPEG at reduced size when the network input is all that is needed).
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Callable
from typing import TypeVar

import cv2
import numpy as np
import simplejpeg
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from carseg_model.errors import ImageNotFoundError, ImageTooLargeError, InvalidImageError

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray
Decoded = TypeVar("Decoded")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
"""File suffixes carseg treats as images when it lists a folder (CLI, train.py, int8 calibration)."""

_NUMERIC_MODES = ("F", "I", "I;16", "I;16B", "I;16L", "I;16N")
"""PIL modes whose pixels are numbers rather than 8-bit colours: read by the array rule of `load_image`."""


def load_image(source: ImageInput, max_pixels: int) -> np.ndarray:
    """Return ``source`` as an ``(H, W, 3)`` uint8 RGB array, upright per its EXIF orientation.

    Animated images give their first frame; transparent pixels are composited on white.
    Pixel values (arrays, and PIL modes ``F``, ``I``, ``I;16``: 16-bit PNGs, float TIFFs) are read by one rule:

    - ``uint8``: as is; ``bool``: ``False`` -> 0, ``True`` -> 255;
    - ``uint16``, and other integer arrays whose maximum is above 255: 16-bit, scaled to 8 bits;
    - other integer arrays with values in 0..255: 8-bit;
    - float arrays: values in [0, 1] are scaled by 255, values in [0, 255] are taken as they are;
    - anything else (negative values, integers above 65535, floats above 255, NaN or inf) is refused.

    Raises `InvalidImageError` (a ``ValueError``) for anything that is not a usable image,
    `ImageNotFoundError` (also a ``FileNotFoundError``) for a path that names no file and
    `ImageTooLargeError` above ``max_pixels``.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, max_pixels)
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, max_pixels, name="the PIL image")
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise InvalidImageError("the image bytes are empty")
        return _open_and_convert(io.BytesIO(source), max_pixels, name="the image bytes")
    if isinstance(source, (str, os.PathLike)):
        path = _checked_path(source)
        return _open_and_convert(path, max_pixels, name=path)
    raise InvalidImageError(
        f"cannot read an image from a {type(source).__name__}; pass a file path, bytes, a PIL image or a numpy array"
    )


class Photo:
    """A photo to segment: its upright size now, its pixels when first asked for.

    A JPEG (from a path or bytes) stays encoded until `pixels` is called: `reduced` decodes it
    at 1/2, 1/4 or 1/8 scale in the JPEG decoder (PIL's ``draft``), which is all a mask needs.
    Other inputs are decoded when opened. EXIF orientation is applied in both.
    """

    def __init__(
        self,
        size: tuple[int, int],
        pixels: np.ndarray | None = None,
        jpeg: bytes | None = None,
        name: str = "",
        orientation: int = 1,
    ) -> None:
        self.size = size
        """``(height, width)`` of the upright photo."""
        self._pixels = pixels
        self._jpeg = jpeg
        self._orientation = orientation
        self._reduced: np.ndarray | None = None
        self._name = name
        self._lock = threading.Lock()

    @classmethod
    def from_pixels(cls, pixels: np.ndarray) -> Photo:
        """A photo already decoded to ``(H, W, 3)`` uint8 RGB."""
        return cls(pixels.shape[:2], pixels=pixels)

    @property
    def decoded(self) -> bool:
        """Whether the full-size pixels are in memory (a JPEG's are only after `pixels`)."""
        return self._pixels is not None

    def pixels(self) -> np.ndarray:
        """The full-size ``(H, W, 3)`` uint8 RGB pixels (decoded once, then kept)."""
        with self._lock:
            if self._pixels is None:
                self._pixels = self._decode(draft_size=None)
                self._jpeg = None
            return self._pixels

    def reduced(self, size: tuple[int, int]) -> np.ndarray:
        """RGB pixels at least ``size = (height, width)`` big where the decoder can shrink (JPEG), else full size.

        The last reduced decode is kept: a later call that it is big enough for reuses it.
        """
        if self._pixels is not None or self._jpeg is None:
            return self.pixels()
        if size[0] * 2 > self.size[0] or size[1] * 2 > self.size[1]:  # no 1/2 scale fits: decode in full
            return self.pixels()
        kept = self._reduced
        if kept is None or kept.shape[0] < size[0] or kept.shape[1] < size[1]:
            kept = self._reduced = self._decode(draft_size=size)
        return kept

    def _decode(self, draft_size: tuple[int, int] | None) -> np.ndarray:
        if draft_size is None:
            pixels = _decode_upright(self._jpeg, self._orientation)
            if pixels is not None and pixels.shape[:2] == self.size:
                return pixels

        def convert(image: Image.Image) -> np.ndarray:
            if draft_size is not None:
                height, width = draft_size
                if self._orientation in _TRANSPOSING_ORIENTATIONS:  # read with the header by `open_photo`
                    height, width = width, height
                image.draft("RGB", (width, height))
            return _pil_to_rgb(image, max_pixels=image.width * image.height, name=self._name)

        return _open(io.BytesIO(self._jpeg), self._name, convert)  # PIL also says why a corrupt file fails


_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
"""EXIF orientations that swap width and height."""

_UPRIGHT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda pixels: cv2.flip(pixels, 1),
    3: lambda pixels: cv2.rotate(pixels, cv2.ROTATE_180),
    4: lambda pixels: cv2.flip(pixels, 0),
    5: cv2.transpose,
    6: lambda pixels: cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE),
    7: lambda pixels: cv2.flip(cv2.transpose(pixels), -1),
    8: lambda pixels: cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE),
}
"""EXIF orientation -> the turn that shows the stored pixels upright (PIL's ``ImageOps.exif_transpose``)."""


def _decode_upright(jpeg: bytes, orientation: int) -> np.ndarray | None:
    """A JPEG's full-size RGB pixels, upright, through simplejpeg's libjpeg-turbo (faster than OpenCV's
    ``imdecode``, the same pixels); ``None`` where it cannot (CMYK, corrupt: PIL then says why)."""
    try:
        pixels = simplejpeg.decode_jpeg(jpeg, "RGB")
    except ValueError:
        return None
    turn = _UPRIGHT.get(orientation)
    return pixels if turn is None else turn(pixels)


def open_photo(source: ImageInput, max_pixels: int) -> Photo:
    """Like `load_image`, but a JPEG file or JPEG bytes is only checked now (header, size) and decoded on demand."""
    name, encoded = _encoded_source(source)
    if encoded is None:
        return Photo.from_pixels(load_image(source, max_pixels))

    def inspect(image: Image.Image) -> Photo:
        if image.format != "JPEG":
            return Photo.from_pixels(_pil_to_rgb(image, max_pixels, name))
        _check_size(image.width, image.height, max_pixels, name)
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        transposed = orientation in _TRANSPOSING_ORIENTATIONS
        size = (image.width, image.height) if transposed else (image.height, image.width)
        return Photo(size, jpeg=encoded, name=name, orientation=orientation)

    return _open(io.BytesIO(encoded), name, inspect)


def _encoded_source(source: ImageInput) -> tuple[str, bytes | None]:
    """``(name, file bytes)`` for a path or bytes (checked as `load_image` checks them); ``(.., None)`` otherwise."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise InvalidImageError("the image bytes are empty")
        return "the image bytes", bytes(source)
    if isinstance(source, (str, os.PathLike)):
        path = _checked_path(source)
        with open(path, "rb") as file:
            return path, file.read()
    return "", None


def _open_and_convert(file: str | io.BytesIO, max_pixels: int, name: str) -> np.ndarray:
    return _open(file, name, lambda image: _pil_to_rgb(image, max_pixels, name))


def _open(file: str | io.BytesIO, name: str, use: Callable[[Image.Image], Decoded]) -> Decoded:
    """Open an image file with PIL and ``use`` it; PIL's errors become one-line `InvalidImageError` s."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                return use(image)
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"{name} is too large to decode safely: {error}") from error
    except UnidentifiedImageError as error:
        raise InvalidImageError(f"{name} is not an image format carseg can read (JPEG, PNG, WebP, GIF, ...)") from error
    except OSError as error:
        raise InvalidImageError(f"cannot decode {name} (truncated or corrupt?): {error}") from error


def _checked_path(source: str | os.PathLike) -> str:
    """The path as text, once it names a non-empty file (`ImageNotFoundError` / `InvalidImageError` if not)."""
    path = os.fspath(source)
    if not path:
        raise ImageNotFoundError("no image path given (an empty string); pass the path of a photo")
    if os.path.isdir(path):
        raise ImageNotFoundError(f"{path} is a folder, not an image file; pass the path of a photo in it")
    if not os.path.isfile(path):
        raise ImageNotFoundError(f"no such image file: {path}")
    if os.path.getsize(path) == 0:
        raise InvalidImageError(f"{path} is an empty file, not an image")
    return path


def _pil_to_rgb(image: Image.Image, max_pixels: int, name: str) -> np.ndarray:
    _check_size(image.width, image.height, max_pixels, name)
    try:
        image.seek(0)  # animated images: first frame
        if image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
            image = ImageOps.exif_transpose(image)
        if image.mode in _NUMERIC_MODES:
            return _array_to_rgb(np.asarray(image), max_pixels)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            return _flatten_alpha(np.asarray(image.convert("RGBA")))
        # one copy of the pixels: no exif_transpose or convert("RGB") copies of an upright RGB photo
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidImageError(f"cannot decode {name} (truncated or corrupt?): {error}") from error


def _array_to_rgb(array: np.ndarray, max_pixels: int) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidImageError(
            f"an image array must be (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA; got shape {array.shape}"
        )
    _check_size(array.shape[1], array.shape[0], max_pixels, "the image array")
    array = _to_uint8(array)
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.shape[2] == 4:
        return _flatten_alpha(array)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Pixel values -> uint8 by the rule in `load_image`."""
    kind = array.dtype.kind
    if kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    if kind == "u" and array.dtype.itemsize == 1:
        return array
    if kind in "ui":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 65535:
            raise InvalidImageError(
                f"an integer image array must hold values in 0..255 (8-bit) or 0..65535 (16-bit); "
                f"got {array.dtype} values from {low} to {high}"
            )
        if (kind == "u" and array.dtype.itemsize == 2) or high > 255:
            return (array.astype(np.float32) / 257.0).round().astype(np.uint8)
        return array.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(array).all():
            raise InvalidImageError(
                "a float image array holds NaN or infinite values; use values in [0, 1] or [0, 255]"
            )
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 255.0:
            raise InvalidImageError(
                f"a float image array must hold values in [0, 1] or [0, 255]; got values from {low:g} to {high:g}"
            )
        scale = 255.0 if high <= 1.0 else 1.0
        return (array.astype(np.float32) * np.float32(scale)).round().astype(np.uint8)
    raise InvalidImageError(
        f"unsupported image array dtype {array.dtype}; use uint8 (0..255), uint16, other integers or float"
    )


def _flatten_alpha(rgba: np.ndarray) -> np.ndarray:
    """Composite an RGBA uint8 array onto white."""
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    rgb = rgba[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return rgb.round().astype(np.uint8)


def _check_size(width: int, height: int, max_pixels: int, name: str) -> None:
    if width <= 0 or height <= 0:
        raise InvalidImageError(f"{name} is empty ({width}x{height} pixels)")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} has {width}x{height} = {width * height:,} pixels, above the limit of "
            f"{max_pixels:,}; downscale it first, or raise the limit: "
            "CarSegModel.from_pretrained(..., max_pixels=N) or model.config = model.config.replace(max_pixels=N)"
        )
