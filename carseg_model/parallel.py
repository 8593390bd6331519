"""Use every core on one large image: split it into bands, one per core, computed in threads.

OpenCV and numpy release the GIL, so a filter that OpenCV runs on one core (``cv2.blur``) runs on
all of them when each thread filters its own band. A band is cut with a margin (``halo``) on each
side, wide enough for everything the computation reads around a pixel, and the margins are dropped
again: the stitched result is the one the whole image gives.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

BAND_MIN_PIXELS = 100_000
"""Smaller images are computed in one piece (threads would cost more than they save)."""


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=usable_cores(), thread_name_prefix="carseg-band")


def in_bands(
    compute: Callable[..., np.ndarray], images: tuple[np.ndarray, ...], halo: int, align: int = 1
) -> np.ndarray:
    """``compute(*images)`` for images of one ``(H, W, ...)`` size, in bands across their longer side.

    ``compute`` must return an array of that size whose every pixel depends only on the pixels
    within ``halo`` of it (e.g. box filters whose radii add up to ``halo``); then the result is the
    same as in one piece. A computation on blocks of ``align`` pixels (an image shrunk by
    ``align``) gets bands and margins that start on multiples of ``align``, so its blocks line up
    with the whole image's. Images under `BAND_MIN_PIXELS`, or too short for a band per core
    that is longer than its margins, are computed in one piece.
    """
    halo = -(-halo // align) * align
    height, width = images[0].shape[:2]
    axis = 0 if height >= width else 1
    length = images[0].shape[axis]
    parts = min(usable_cores(), length // (2 * halo + 1))
    if parts < 2 or height * width < BAND_MIN_PIXELS:
        return compute(*images)
    edges = (np.linspace(0, length / align, parts + 1).round() * align).astype(int)
    edges[-1] = length

    def band(index: int) -> np.ndarray:
        start, stop = max(0, edges[index] - halo), min(length, edges[index + 1] + halo)
        result = compute(*(_slice(image, axis, start, stop) for image in images))
        return _slice(result, axis, edges[index] - start, edges[index + 1] - start)

    return np.concatenate(list(_pool().map(band, range(parts))), axis=axis)


def _slice(image: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    return image[start:stop] if axis == 0 else image[:, start:stop]
