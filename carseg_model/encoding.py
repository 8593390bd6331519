"""Encode and write images fast: PNG through ISA-L's deflate (`carseg_model.png`), JPEG through libjpeg-turbo."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from carseg_model.defaults import JPEG_QUALITY
from carseg_model.files import atomic_write
from carseg_model.png import encode_png

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WebP"}
"""The formats carseg writes, by file suffix."""

_ENCODER_SETTINGS = {  # OpenCV's writers for the lossy formats (PNG: `encode_png`)
    "JPEG": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]),
    "WebP": (".webp", [cv2.IMWRITE_WEBP_QUALITY, JPEG_QUALITY]),
}


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode ``image`` as the file ``suffix`` says (``.png``, ``.jpg``/``.jpeg`` or ``.webp``).

    ``image`` is ``(H, W)`` gray, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA uint8, or an ``(H, W)``
    bool mask (written 0/255). JPEG has no alpha channel: RGBA is refused there.
    """
    kind = _format(suffix)
    if image.dtype == bool:
        image = image.view(np.uint8) * np.uint8(255)
    if image.dtype != np.uint8:
        raise ValueError(f"images are encoded from uint8 (or bool masks); got {image.dtype}")
    if kind == "PNG":
        return encode_png(image)
    extension, parameters = _ENCODER_SETTINGS[kind]
    if image.ndim == 3 and image.shape[2] == 4:
        if kind == "JPEG":
            raise ValueError("JPEG has no transparency: write an RGBA image as .png or .webp")
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(extension, image, parameters)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} {image.dtype} image as {kind}")
    return encoded.tobytes()


def write_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Encode ``image`` by ``path``'s suffix (see `encode_image`) and write it atomically; return the path."""
    path = Path(path)
    data = encode_image(image, path.suffix)
    with atomic_write(path) as temporary:
        temporary.write_bytes(data)
    return path


def _format(suffix: str) -> str:
    kind = IMAGE_FORMATS.get(suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}")
    if kind is None:
        raise ValueError(f"cannot write {suffix!r} images; use one of {', '.join(IMAGE_FORMATS)}")
    return kind
