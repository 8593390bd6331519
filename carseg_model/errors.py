"""Errors a carseg user can hit; each message says what was wrong and what to do."""

from __future__ import annotations

import os

import numpy as np


class InvalidImageError(ValueError):
    """The input is not an image carseg can use (cannot decode, empty, wrong shape or dtype)."""


class ImageNotFoundError(InvalidImageError, FileNotFoundError):
    """An image path that names no file (missing, a folder, or empty); also a ``FileNotFoundError``."""


class ImageTooLargeError(InvalidImageError):
    """The image has more pixels than the model's ``max_pixels`` limit."""


class ConfigError(ValueError):
    """A carseg config that is invalid, or written by an incompatible carseg version."""


class ModelFolderError(ValueError):
    """A folder that should hold a saved carseg model is missing files or holds damaged ones."""


class ModelNotCachedError(FileNotFoundError):
    """A Hub repo was asked for offline, but it is not in the local cache."""


class PhotoError(ValueError):
    """One photo of a `CarSegModel.predict_batch(..., errors="return")` call that could not be used.

    ``source`` is what the caller passed for the photo and ``error`` the exception it raised;
    ``str()`` is one line naming the photo and saying what was wrong.
    """

    def __init__(self, source: object, error: Exception) -> None:
        label = describe_source(source)
        message = str(error)
        super().__init__(message if label in message else f"{label}: {message}")
        self.source = source
        self.error = error


def describe_source(source: object) -> str:
    """A short name for an image source: its path, or its kind and size."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source) or "''"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<{source.dtype} array of shape {source.shape}>"
    return f"<{type(source).__name__}>"
