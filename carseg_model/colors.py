"""Colour parsing: one parser for the library, the command line and the demo."""

from __future__ import annotations

from PIL import ImageColor


def parse_color(text: str | tuple[int, int, int]) -> tuple[int, int, int]:
    """``"#ff2878"``, ``"rgb(255, 40, 120)"``, ``"255,40,120"``, ``"red"`` or an RGB tuple -> ``(r, g, b)``.

    Raises ``ValueError`` saying what was wrong and what is accepted.
    """
    if isinstance(text, tuple):
        values = text
    else:
        spec = str(text).strip()
        parts = spec.split(",")
        try:
            if len(parts) == 3 and all(part.strip().lstrip("-").isdigit() for part in parts):
                values = tuple(int(part) for part in parts)
            else:
                values = ImageColor.getrgb(spec)[:3]
        except ValueError:
            values = ()
    if len(values) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in values):
        raise ValueError(
            f"{text!r} is not a colour; use a hex colour (#ff2878), R,G,B with values 0-255 (255,40,120) or a name (red)"
        )
    return values  # type: ignore[return-value]
