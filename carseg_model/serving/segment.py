"""The work behind ``POST /v1/segment``, run in a worker thread: decode, predict, apply the options, encode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from carseg_model.encoding import encode_image
from carseg_model.errors import ImageTooLargeError, InvalidImageError
from carseg_model.image_io import load_image
from carseg_model.rle import encode_rle
from carseg_model.serving.errors import ApiError
from carseg_model.serving.options import SegmentOptions

if TYPE_CHECKING:
    from carseg_model import CarSegModel, SegmentationResult

MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class EncodedImage:
    """An answer image: its bytes and media type."""

    content: bytes
    media_type: str


def segment_photo(
    model: CarSegModel, photo: bytes, options: SegmentOptions, background: bytes | None = None
) -> EncodedImage | dict[str, Any]:
    """Segment ``photo`` (file bytes) as ``options`` say: an encoded image, or the JSON description.

    ``background`` is the bytes of a background image for a cut-out. Bad input raises `ApiError`.
    """
    transparent = options.output == "cutout" and background is None and options.background == "transparent"
    format = options.image_format(transparent)
    if transparent and format == "jpg":
        raise ApiError(422, "JPEG has no transparency: ask for a transparent cut-out as png or webp")
    back = None if background is None else _decode("background_image", background, model.config.max_pixels)
    try:
        result = model.predict(photo, threshold=options.threshold)
    except InvalidImageError as error:
        raise _refusal("file", error) from error
    if options.main_car:
        result = result.main_car()
    if options.crop:
        result = result.crop(options.margin)
    if options.output == "json":
        return describe(result)
    try:
        image = draw(result, options, back)
    except InvalidImageError as error:  # a JPEG whose full-size pixels do not decode
        raise _refusal("file", error) from error
    return EncodedImage(encode_image(image, f".{format}"), MEDIA_TYPES[format])


def draw(result: SegmentationResult, options: SegmentOptions, background: np.ndarray | None) -> np.ndarray:
    """The image ``options.output`` asks for (not json)."""
    if options.output == "mask":
        return result.mask_image()
    if options.output == "overlay":
        return result.overlay(options.color, options.opacity, options.outline)
    return result.composite(options.background_value if background is None else background, options.shadow)


def describe(result: SegmentationResult) -> dict[str, Any]:
    """The JSON answer: size, car share, box ``[left, top, right, bottom]`` (or null) and the mask as COCO RLE."""
    height, width = result.size
    box = result.box
    return {
        "width": width,
        "height": height,
        "car_fraction": result.car_fraction,
        "box": None if box is None else list(box),
        "threshold": result.threshold,
        "mask": encode_rle(result.mask),
    }


def _decode(field: str, data: bytes, max_pixels: int) -> np.ndarray:
    try:
        return load_image(data, max_pixels)
    except InvalidImageError as error:
        raise _refusal(field, error) from error


def _refusal(field: str, error: InvalidImageError) -> ApiError:
    """413 for an image above the pixel limit, 415 for anything that is not a usable image."""
    message = str(error).replace("the image bytes", "the uploaded file")
    if isinstance(error, ImageTooLargeError):
        size = message.split(";")[0]
        return ApiError(413, f"{field}: {size}; downscale it and send it again")
    return ApiError(415, f"{field}: {message}")
