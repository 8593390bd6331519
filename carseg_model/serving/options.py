"""`SegmentOptions`: the query parameters of ``POST /v1/segment``, checked before any work is done."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from carseg_model.colors import parse_color
from carseg_model.defaults import OVERLAY_COLOR, OVERLAY_OPACITY

Output = Literal["mask", "cutout", "overlay", "json"]
ImageFormat = Literal["png", "jpg", "webp"]
BACKGROUND_WORDS = ("transparent", "blur")


class SegmentOptions(BaseModel):
    """What to send back for the photo, and how to draw it (the library's `SegmentationResult` options)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    output: Output = Field(
        "mask",
        description="mask: 0/255 PNG; cutout: the car on `background`; overlay: the photo with the car tinted; "
        "json: sizes, car share, box and the mask as COCO RLE",
    )
    format: ImageFormat | None = Field(
        None,
        description="image format; default png for mask and transparent cut-outs, jpg for overlays and "
        "cut-outs on an opaque background",
    )
    threshold: float | None = Field(
        None, ge=0, le=1, description="car probability above which a pixel is car (default: the model's)"
    )
    main_car: bool = Field(False, description="keep only the car the photo is about (other cars are dropped)")
    crop: bool = Field(False, description="cut every output to the car's box widened by `margin`")
    margin: float = Field(0.05, ge=0, le=10, description="with crop: margin as a share of the box's longer side")
    background: str = Field(
        "transparent",
        description="cutout: transparent, blur (the photo blurred) or a colour (white, #f0f0f0, 240,240,240); "
        "or send an image as the multipart field background_image",
    )
    shadow: bool = Field(False, description="cutout: a soft contact shadow under the car")
    color: str = Field(
        "#{:02x}{:02x}{:02x}".format(*OVERLAY_COLOR), description="overlay: tint colour (#rrggbb, R,G,B or a name)"
    )
    opacity: float = Field(OVERLAY_OPACITY, ge=0, le=1, description="overlay: tint opacity")
    outline: int | None = Field(None, ge=0, description="overlay: outline width in pixels; 0: none (default: scaled)")

    @field_validator("color")
    @classmethod
    def _check_color(cls, text: str) -> str:
        parse_color(text)
        return text

    @field_validator("background")
    @classmethod
    def _check_background(cls, text: str) -> str:
        if text not in BACKGROUND_WORDS:
            try:
                parse_color(text)
            except ValueError:
                raise ValueError(
                    f"{text!r} is neither transparent, blur nor a colour (white, #f0f0f0, 240,240,240); "
                    "send a background image as the multipart field background_image"
                ) from None
        return text

    @property
    def background_value(self) -> str | tuple[int, int, int]:
        """``background`` as `SegmentationResult.composite` takes it: a word or an ``(R, G, B)`` colour,
        never text the library could read as a file path."""
        return self.background if self.background in BACKGROUND_WORDS else parse_color(self.background)

    def image_format(self, transparent: bool) -> ImageFormat:
        """The format to encode in: ``format``, else png for masks and ``transparent`` images, else jpg."""
        if self.format is not None:
            return self.format
        return "png" if self.output == "mask" or transparent else "jpg"
