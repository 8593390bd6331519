"""COCO run-length encoding of masks, as pycocotools writes it (uncompressed counts), without pycocotools.

The mask is read in column-major (Fortran) order: down the first column, then the second, ...
``counts`` alternate between runs of background and runs of car, starting with background
(a zero-length run when the first pixel is car). ``{"size": [height, width], "counts": [...]}`` is
what ``pycocotools.mask.frPyObjects`` takes to make its compressed form.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """``(H, W)`` bool (or 0 / non-zero) mask -> ``{"size": [H, W], "counts": [int, ...]}``."""
    if mask.ndim != 2:
        raise ValueError(f"a mask to run-length encode must be (H, W); got shape {mask.shape}")
    pixels = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(pixels[1:] != pixels[:-1]) + 1
    edges = np.concatenate(([0], changes, [pixels.size]))
    counts = np.diff(edges)
    if pixels.size and pixels[0]:
        counts = np.concatenate(([0], counts))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": counts.tolist()}


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """``{"size": [H, W], "counts": [...]}`` (uncompressed COCO RLE) -> ``(H, W)`` bool mask."""
    height, width = rle["size"]
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != height * width:
        raise ValueError(f"the RLE counts add up to {counts.sum()} pixels, not {height}x{width}")
    values = np.arange(counts.size) % 2 == 1  # background first, then car, alternating
    return np.repeat(values, counts).reshape((height, width), order="F")
