"""What commands write and show: output images, progress bars and problem reports."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from carseg_model.defaults import OVERLAY_COLOR, OVERLAY_OPACITY
from carseg_model.encoding import write_image

if TYPE_CHECKING:
    from tqdm import tqdm

    from carseg_model import SegmentationResult

OUTPUT_SUFFIXES = {"mask": "_mask.png", "cutout": "_cutout.png", "overlay": "_overlay.jpg"}
"""What ``predict --save`` can write for ``photo.jpg``: ``photo_mask.png`` (0/255), ``photo_cutout.png``
(RGBA) and ``photo_overlay.jpg`` (JPEG: a viewing image, ~10x smaller than PNG)."""


@dataclass(frozen=True)
class OutputStyle:
    """How written outputs look: the overlay's tint and the cut-out's background."""

    color: tuple[int, int, int] = OVERLAY_COLOR
    opacity: float = OVERLAY_OPACITY
    outline: int | None = None
    background: str = "transparent"
    shadow: bool = False


def save_output(result: SegmentationResult, kind: str, path: Path, style: OutputStyle = OutputStyle()) -> None:
    """Write one output kind with the result's fast writers (a mask PNG, a cut-out PNG, a JPEG overlay)."""
    if kind == "mask":
        result.save_mask(path)
    elif kind == "cutout":
        write_image(result.composite(style.background, style.shadow), path)
    else:
        result.save_overlay(path, style.color, style.opacity, style.outline)


def progress(total: int | None, unit: str) -> tqdm:
    """A progress bar on stderr showing the rate in ``unit``/s (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, unit=f" {unit}", dynamic_ncols=True, disable=None, file=sys.stderr)


def report(message: str) -> None:
    """Print a problem on stderr without breaking the progress bar."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def rate(count: int, seconds: float) -> float:
    """Items per second (0 for no time)."""
    return count / seconds if seconds > 0 else 0.0
