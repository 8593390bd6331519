"""Edges at the photo's own resolution: guided-filter alpha refinement and foreground colour estimation.

The network sees the photo at a few hundred pixels a side, so its upsampled probabilities are
soft, blocky and blind to the photo's real edges. `refine_alpha` re-fits them to the photo with
a guided filter (He et al., 2010; ``cv2.ximgproc.guidedFilter``): inside every window the alpha
becomes a linear function of the photo's brightness, so its borders move onto the photo's edges.
`foreground_colours` removes the old background's colour from the half-transparent border
pixels (blur-fusion, Forte & Pitié 2021), so a cut-out on a new background shows no halo.
Both run at a working size of at most `WORKING_PIXELS` (a 12 MP photo at 1/4 size) and only
inside the car's box; the result is upsampled to the photo.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from carseg_model.parallel import in_bands

WORKING_PIXELS = 2_100_000
"""Pixels refinement works on: photos above it (a 1080p frame fits) are refined at 1/2, 1/4, ... size and
upsampled; a 12 MP photo at 1/4 (0.8 MP: borders within ~4 of its pixels, 0.2 s for decode and filter)."""

COLOUR_PIXELS = 600_000
"""Pixels foreground colours are estimated at (they change slowly along an edge)."""

GUIDE_EPSILON = 1e-2
"""Guided-filter regularisation on [0, 1] brightness: smaller follows weaker photo edges."""

SHRUNK_BOX_RADIUS = 8
"""Border colours' wide box blur runs on the image shrunk by 2, 4, ... while its radius there stays at
least this (a 125-pixel box as a 33-pixel one at 1/4 size): its means change too slowly to need every pixel."""

RADIUS_PER_STEP = 2.0
"""Guided-filter radius in network-output pixels: how far a border can move onto a photo edge."""

NOISE_ALPHA = 8
"""Upsampled alpha below this (3 %) is the network's noise floor, not a car: only the box around the
pixels at or above it is filtered (the rest of a photo keeps its upsampled alpha, under 3 %)."""


def working_size(size: tuple[int, int], pixels: int = WORKING_PIXELS) -> tuple[int, int]:
    """``(height, width)`` of ``size`` divided by `working_divisor`, rounded up: the sizes a JPEG
    decoder shrinks to by itself (no resize needed)."""
    divisor = working_divisor(size, pixels)
    return -(-size[0] // divisor), -(-size[1] // divisor)


def working_divisor(size: tuple[int, int], pixels: int) -> int:
    """The smallest of 1, 2, 4, 8, ... that divides ``size = (height, width)`` (rounding up) to at most ``pixels`` pixels."""
    height, width = size
    divisor = 1
    while -(-height // divisor) * -(-width // divisor) > pixels:
        divisor *= 2
    return divisor


def refine_alpha(guide: np.ndarray, coarse: np.ndarray, network_shape: tuple[int, int]) -> np.ndarray:
    """Fit ``coarse`` (uint8 alpha upsampled to ``guide``'s size) to the edges of ``guide`` (RGB uint8).

    ``network_shape`` is the network output's ``(h, w)``: the filter radius is one of its
    pixels, as seen at the guide's size. Pixels far from any border (alpha 0 or 255 over the
    whole window) keep their value; only the box around the pixels at or above `NOISE_ALPHA`,
    widened by the filter's reach, is filtered.
    Returns uint8 alpha of ``guide``'s size.
    """
    radius = max(2, round(RADIUS_PER_STEP * max(guide.shape[0] / network_shape[0], guide.shape[1] / network_shape[1])))
    region = _box_around(coarse >= NOISE_ALPHA, margin=2 * radius)
    if region is None:
        return coarse
    top, bottom, left, right = region
    gray = cv2.cvtColor(guide[top:bottom, left:right], cv2.COLOR_RGB2GRAY)
    window = coarse[top:bottom, left:right].astype(np.float32) / np.float32(255.0)
    guided = functools.partial(cv2.ximgproc.guidedFilter, radius=radius, eps=GUIDE_EPSILON * 255.0**2)
    fitted = in_bands(guided, (gray, window), halo=2 * radius)  # box means of box means: 2 radii around a pixel
    refined = coarse.copy()
    refined[top:bottom, left:right] = np.clip(fitted * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return refined


def foreground_colours(image: np.ndarray, alpha: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The car's own colour (``(N, 3)`` uint8 RGB) at the pixels ``(rows, columns)`` of ``image``,
    freed of the background mixed into its half-transparent borders.

    Blur-fusion: two passes of ``F = blur(F·α)/blur(α) + α·(I − α·blur(F) − (1−α)·blur(B))``,
    with a wide and a narrow box blur (the wide one's means taken at reduced size: `_box_means`), at
    up to `COLOUR_PIXELS`, sampled bilinearly at the asked pixels (the border pixels, 0 < alpha < 255,
    where the photo's colour is a mix), and computed only where that sampling reads.
    """
    divisor = working_divisor(image.shape[:2], COLOUR_PIXELS)
    size = tuple(max(1, side // divisor) for side in image.shape[:2])  # whole blocks: OpenCV's fast area path
    kept = tuple(min(side, part * divisor) for side, part in zip(image.shape[:2], size))  # the pixels they cover
    small = np.multiply(_shrink(image[: kept[0], : kept[1]], size), np.float32(1 / 255), dtype=np.float32)
    weight = np.multiply(_shrink(alpha[: kept[0], : kept[1]], size), np.float32(1 / 255), dtype=np.float32)
    radii = (max(3, max(size) // 20), max(2, max(size) // 300))  # a wide pass, then a narrow one
    wanted = _sampled_pixels(rows, columns, divisor, size)
    step = _box_step(radii[0])
    halo = radii[0] + 2 * radii[1] + 3 * step  # the wide box, sampled between blocks; the narrow one, on `needed`
    fused = functools.partial(_fused_foreground, radii=radii)
    foreground = in_bands(fused, (small, weight, wanted), halo=halo, align=step)
    x = (columns + 0.5) * (size[1] / kept[1]) - 0.5
    y = (rows + 0.5) * (size[0] / kept[0]) - 0.5
    return np.clip(_sample(foreground, x, y) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``image`` (float32) bilinearly at the points ``(x, y)``, its edges replicated: ``(N, channels)``."""
    count, width = x.size, 1024  # remap's maps are images: lay the points out in rows of 1024
    maps = np.zeros((2, -(-count // width) * width), np.float32)
    maps[0, :count], maps[1, :count] = x, y
    values = cv2.remap(
        image, maps[0].reshape(-1, width), maps[1].reshape(-1, width), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return values.reshape(maps.shape[1], -1)[:count]


def _sampled_pixels(rows: np.ndarray, columns: np.ndarray, divisor: int, size: tuple[int, int]) -> np.ndarray:
    """``(h, w)`` bool: the pixels of the image shrunk ``divisor`` times to ``size`` that bilinear sampling
    at the full-size pixels ``(rows, columns)`` reads: each one's block and the blocks around it."""
    blocks = np.zeros(size, np.uint8)
    blocks[np.minimum(rows // divisor, size[0] - 1), np.minimum(columns // divisor, size[1] - 1)] = 1
    return cv2.dilate(blocks, np.ones((3, 3), np.uint8)).view(bool)


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` averaged down to ``size`` (unchanged when it is that size already)."""
    if image.shape[:2] == size:
        return image
    return cv2.resize(image, size[::-1], interpolation=cv2.INTER_AREA)


def _fused_foreground(image: np.ndarray, alpha: np.ndarray, wanted: np.ndarray, radii: tuple[int, ...]) -> np.ndarray:
    """The foreground colours after a blur-fusion pass of each radius, at the ``wanted`` pixels (0 elsewhere).

    ``image`` is ``(h, w, 3)`` float32, ``alpha`` ``(h, w)`` float32 and ``wanted`` ``(h, w)`` bool. A pass
    reads the previous pass's colours only within its own radius of the pixels it gives, so each
    pass before the last is computed on the last one's pixels widened by the radii after it: the
    box means cover the whole image, the per-pixel arithmetic only the pixels needed.
    """
    needed = [wanted]
    for radius in reversed(radii[1:]):
        window = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
        needed.insert(0, cv2.dilate(needed[0].view(np.uint8), window).view(bool))

    def fusion_pass(parts: tuple[np.ndarray, ...], radius: int, where: np.ndarray) -> tuple[np.ndarray, ...]:
        pixels = np.flatnonzero(where)
        pixel_alpha = _at_pixels(alpha, pixels)
        return (
            pixels,
            pixel_alpha,
            *_blur_fusion(_at_pixels(image, pixels), pixel_alpha, _box_means(parts, radius, pixels)),
        )

    foreground_part = cv2.multiply(image, cv2.merge((alpha, alpha, alpha)))  # F·α and B·(1−α), with F = B = I
    pixels, pixel_alpha, foreground, background = fusion_pass(
        (alpha, foreground_part, image - foreground_part), radii[0], needed[0]
    )
    for radius, where in zip(radii[1:], needed[1:]):  # the last pass's colours give this pass's shares
        foreground_part = _scattered(foreground * pixel_alpha, pixels, image.shape)
        background_part = _scattered(background * (1.0 - pixel_alpha), pixels, image.shape)
        pixels, pixel_alpha, foreground, background = fusion_pass(
            (alpha, foreground_part, background_part), radius, where
        )
    return _scattered(foreground, pixels, image.shape)


def _blur_fusion(colour: np.ndarray, alpha: np.ndarray, box_means: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One pass at N pixels: their ``(N, 3)`` colours and ``(N, 1)`` alpha, and the box means of alpha,
    ``F·α`` and ``B·(1−α)`` around them -> the new foreground and background colours, ``(N, 3)`` each."""
    blurred_alpha, blurred_foreground, blurred_background = box_means
    blurred_foreground /= blurred_alpha + 1e-5
    blurred_background /= (1.0 + 1e-5) - blurred_alpha
    residual = colour - alpha * blurred_foreground - (1.0 - alpha) * blurred_background
    return np.clip(blurred_foreground + alpha * residual, 0.0, 1.0), blurred_background


def _at_pixels(image: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """``(h, w)`` or ``(h, w, channels)`` ``image`` at the flat ``pixels``: ``(N, channels)`` (rows of a
    ``(h * w, channels)`` view: numpy's fast gather). `_scattered` puts them back."""
    return image.reshape(image.shape[0] * image.shape[1], -1)[pixels]


def _scattered(values: np.ndarray, pixels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An array of ``shape``, 0 but for ``values`` at the flat ``pixels`` (the inverse of `_at_pixels`)."""
    full = np.zeros(shape, values.dtype)  # calloc: pages never written cost nothing
    full.reshape(-1, values.shape[1])[pixels] = values
    return full


def _box_means(images: tuple[np.ndarray, ...], radius: int, pixels: np.ndarray) -> list[np.ndarray]:
    """Each image's mean over the box of ``radius`` around the flat ``pixels``: ``(N, channels)`` float32.

    A wide box's mean changes slowly from pixel to pixel, so it is taken on the images shrunk
    `_box_step` times (in whole blocks; a last partial block takes its neighbour's) and sampled bilinearly.
    """
    height, width = images[0].shape[:2]
    step = _box_step(radius)
    if step == 1:
        kernel = (2 * radius + 1, 2 * radius + 1)
        return [_at_pixels(cv2.blur(image, kernel), pixels) for image in images]
    size = (max(1, height // step), max(1, width // step))
    side = 2 * round(radius / step) + 1
    rows, columns = np.divmod(pixels, width)
    x, y = (columns + 0.5) / step - 0.5, (rows + 0.5) / step - 0.5
    shrunk = (_shrink(image[: size[0] * step, : size[1] * step], size) for image in images)
    return [_sample(cv2.blur(image, (side, side)), x, y) for image in shrunk]


def _box_step(radius: int) -> int:
    """1, 2, 4, ...: how many times a box blur of ``radius`` can shrink the image and keep a radius of
    at least `SHRUNK_BOX_RADIUS`."""
    step = 1
    while radius / (2 * step) >= SHRUNK_BOX_RADIUS:
        step *= 2
    return step


def _box_around(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` of ``mask``'s true pixels widened by ``margin``, or ``None``."""
    left, top, width, height = cv2.boundingRect(mask.view(np.uint8))
    if width == 0:
        return None
    rows, columns = mask.shape
    return (
        max(0, top - margin),
        min(rows, top + height + margin),
        max(0, left - margin),
        min(columns, left + width + margin),
    )
