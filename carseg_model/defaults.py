"""Defaults shared by the library, the command line and the demo (one place each)."""

OVERLAY_COLOR = (255, 40, 120)
"""The tint of car pixels in overlays (RGB)."""
OVERLAY_OPACITY = 0.5
"""How strongly overlays tint car pixels (0 invisible, 1 solid)."""
BATCH_SIZE = 16
"""Photos per network call in `predict_batch`, `carseg predict` and evaluation."""
JPEG_QUALITY = 92
"""Quality of JPEG outputs (overlays): visually lossless, ~10x smaller than PNG."""
