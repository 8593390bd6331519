"""`CarSegConfig`: everything a checkpoint needs besides its weights.

Architecture, preprocessing and post-processing live in one object that is saved
beside the weights (``carseg_config.json``), so a loaded model predicts exactly the
way it was trained (the timm convention: preprocessing travels with the checkpoint).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from carseg_model.errors import ConfigError

CONFIG_FILENAME = "carseg_config.json"
FORMAT_VERSION = 1

DECODER_BLOCKS = ("transpose", "separable")
NORM_TYPES = ("batchnorm", "instancenorm")
RESIZE_METHODS = ("area", "bilinear")
INPUT_SHAPES = ("stretch", "keep_aspect")


@dataclass(frozen=True)
class CarSegConfig:
    """Settings of one carseg checkpoint.

    Args:
        input_size: network input ``(height, width)``; both multiples of 32.
        alpha: MobileNetV2 width multiplier of the encoder.
        decoder_filters: filters of the four upsampling blocks, deepest first.
        decoder_block: ``"transpose"`` (the seed's pix2pix Conv2DTranspose block) or
            ``"separable"`` (1x1 conv, bilinear x2, depthwise 3x3: ~1/8 of the compute).
        norm_type: ``"batchnorm"`` or ``"instancenorm"`` in the decoder blocks.
        decoder_dropout: apply Dropout(0.5) in the decoder blocks.
        encoder_weights: ``"imagenet"``, ``None`` or a path to an ``.h5`` file; only
            used when a new network is built for training.
        input_scale, input_offset: pixel scaling ``x * scale + offset`` applied to
            RGB uint8 input (default maps 0..255 to -1..1, as MobileNetV2 expects).
        resize_method: how photos are resized for the network (``"area"`` uses
            area averaging when shrinking and bilinear when enlarging).
        input_shape: ``"stretch"`` squeezes every photo to ``input_size`` (carseg 0.1's
            models); ``"keep_aspect"`` keeps the photo's aspect ratio and resizes it to about
            as many pixels as ``input_size`` has, each side rounded to a multiple of 32
            (`network_input_size`): a 16:9 frame is not squashed and costs what a 4:3 one does.
        threshold: default probability above which a pixel is "car".
        test_time_flip: also run the mirrored photo and average the two (2x the compute).
        test_time_scales: run the network on the photo at each of these multiples of the
            ``"keep_aspect"`` input's sides (``(1.0, 1.25)``: also at 1.56x the pixels) and average the
            probabilities at the largest run's size; each scale costs its pixels. ``(1.0,)``: one run.
        refine_edges: fit the full-size mask and alpha to the photo's own edges (a guided filter,
            `carseg_model.refinement`); ``False`` upsamples the network's output bilinearly.
        max_pixels: photos with more pixels are refused with a clear error.
        card: model-card facts (datasets, metrics, training command, ...) filled in
            by ``train.py``; rendered into the README of a saved model.
    """

    input_size: tuple[int, int] = (256, 256)
    alpha: float = 1.0
    decoder_filters: tuple[int, ...] = (512, 256, 128, 64)
    decoder_block: str = "transpose"
    norm_type: str = "batchnorm"
    decoder_dropout: bool = False
    encoder_weights: str | None = "imagenet"
    input_scale: float = 1 / 127.5
    input_offset: float = -1.0
    resize_method: str = "area"
    input_shape: str = "stretch"
    threshold: float = 0.5
    test_time_flip: bool = False
    test_time_scales: tuple[float, ...] = (1.0,)
    refine_edges: bool = True
    max_pixels: int = 50_000_000
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, (is_valid, expected) in _FIELD_TYPES.items():
            value = getattr(self, name)
            if not is_valid(value):
                raise ConfigError(f"{name} must be {expected}; got {value!r}")
        for name, convert in _NORMALISE.items():  # numpy scalars and lists -> plain JSON-ready values
            object.__setattr__(self, name, convert(getattr(self, name)))
        height, width = self.input_size
        if height % 32 or width % 32:
            raise ConfigError(
                f"input_size must be (height, width), both positive multiples of 32; got {self.input_size}"
            )
        if self.decoder_block not in DECODER_BLOCKS:
            raise ConfigError(f"decoder_block must be one of {DECODER_BLOCKS}; got {self.decoder_block!r}")
        if self.norm_type not in NORM_TYPES:
            raise ConfigError(f"norm_type must be one of {NORM_TYPES}; got {self.norm_type!r}")
        if self.resize_method not in RESIZE_METHODS:
            raise ConfigError(f"resize_method must be one of {RESIZE_METHODS}; got {self.resize_method!r}")
        if self.input_shape not in INPUT_SHAPES:
            raise ConfigError(f"input_shape must be one of {INPUT_SHAPES}; got {self.input_shape!r}")
        try:
            check_threshold(self.threshold)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if self.input_shape == "stretch" and self.test_time_scales != (1.0,):
            raise ConfigError(
                "test_time_scales needs input_shape='keep_aspect' (a 'stretch' model takes input_size only); "
                f"got {self.test_time_scales}"
            )

    def replace(self, **changes: Any) -> CarSegConfig:
        """A checked copy with ``changes``: ``model.config = model.config.replace(max_pixels=100_000_000)``.

        Meant for the settings that only change how a loaded model predicts (``threshold``,
        ``test_time_flip``, ``test_time_scales``, ``refine_edges``, ``max_pixels``); the architecture fields must
        match the network.
        """
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, tagged with the file format version."""
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        data["decoder_filters"] = list(self.decoder_filters)
        return {"format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CarSegConfig:
        """Inverse of `to_dict`; refuses other format versions, unknown keys and values of the wrong type."""
        if not isinstance(data, dict):
            raise ConfigError(f"a carseg config is a JSON object of settings; got a {type(data).__name__}")
        data = dict(data)
        version = data.pop("format_version", None)
        if version != FORMAT_VERSION:
            raise ConfigError(
                f"this carseg reads config format_version {FORMAT_VERSION}, but the file says "
                f"{version!r}; install the carseg version that saved this model"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown carseg config keys {unknown}; was it saved by a newer carseg?")
        return cls(**data)

    def save(self, folder: str | Path) -> Path:
        """Write ``carseg_config.json`` into ``folder``."""
        path = Path(folder) / CONFIG_FILENAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | Path) -> CarSegConfig:
        """Read ``carseg_config.json`` from ``folder``; a `ConfigError` names the file and the field."""
        path = Path(folder) / CONFIG_FILENAME
        if not path.is_file():
            raise ConfigError(f"{path} is missing: {folder} is not a carseg model folder")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path} is not valid JSON: {error}") from error
        try:
            return cls.from_dict(data)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None


def network_input_size(photo_size: tuple[int, int], config: CarSegConfig, scale: float = 1.0) -> tuple[int, int]:
    """The ``(height, width)`` the network sees for a photo of ``photo_size = (height, width)``.

    ``"stretch"``: always ``config.input_size``. ``"keep_aspect"``: the photo's shape scaled to
    ``input_size``'s pixel count (times ``scale`` squared: a `test_time_scales` run), each side
    rounded to the nearest multiple of 32 (at least 32).
    """
    if config.input_shape == "stretch":
        return config.input_size
    budget = config.input_size[0] * config.input_size[1] * scale**2
    resize = math.sqrt(budget / (photo_size[0] * photo_size[1]))
    return tuple(max(32, round(side * resize / 32) * 32) for side in photo_size)  # type: ignore[return-value]


def check_threshold(threshold: object) -> float:
    """``threshold`` as a float when it is a real number in [0, 1]; else a ``ValueError`` (strings are refused)."""
    if not _is_number(threshold) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a number in [0, 1]; got {threshold!r}")
    return float(threshold)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _is_sequence(value: object) -> bool:
    """A list, tuple or array; not a string like "288x384"."""
    return not isinstance(value, (str, bytes, dict)) and hasattr(value, "__len__")


def _positive_ints(count: int) -> Callable[[object], bool]:
    def is_valid(value: object) -> bool:
        return _is_sequence(value) and len(value) == count and all(_is_positive_int(v) for v in value)  # type: ignore[arg-type]

    return is_valid


def _positive_numbers(value: object) -> bool:
    return _is_sequence(value) and len(value) > 0 and all(_is_number(v) and v > 0 for v in value)  # type: ignore[arg-type]


_FIELD_TYPES: dict[str, tuple[Callable[[object], bool], str]] = {
    "input_size": (_positive_ints(2), "(height, width), both positive multiples of 32"),
    "alpha": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "decoder_filters": (_positive_ints(4), "4 values: positive whole numbers, one per upsampling block"),
    "decoder_block": (lambda v: isinstance(v, str), f"one of {DECODER_BLOCKS}"),
    "norm_type": (lambda v: isinstance(v, str), f"one of {NORM_TYPES}"),
    "decoder_dropout": (lambda v: isinstance(v, bool), "true or false (a boolean, not a string)"),
    "encoder_weights": (lambda v: v is None or isinstance(v, str), "'imagenet', None or the path of an .h5 file"),
    "input_scale": (_is_number, "a number"),
    "input_offset": (_is_number, "a number"),
    "resize_method": (lambda v: isinstance(v, str), f"one of {RESIZE_METHODS}"),
    "input_shape": (lambda v: isinstance(v, str), f"one of {INPUT_SHAPES}"),
    "threshold": (_is_number, "a number in [0, 1]"),
    "test_time_flip": (lambda v: isinstance(v, bool), "true or false (a boolean, not a string)"),
    "test_time_scales": (_positive_numbers, "one or more positive numbers, e.g. (1.0, 1.25)"),
    "refine_edges": (lambda v: isinstance(v, bool), "true or false (a boolean, not a string)"),
    "max_pixels": (_is_positive_int, "a positive whole number of pixels"),
    "card": (lambda v: isinstance(v, dict), "a JSON object (a dict)"),
}
"""Each field's type test and what it expects (a mistyped ``carseg_config.json`` gets a `ConfigError` naming the field)."""

_NORMALISE: dict[str, Callable[[Any], Any]] = {
    "input_size": lambda v: tuple(int(x) for x in v),
    "decoder_filters": lambda v: tuple(int(x) for x in v),
    "alpha": float,
    "input_scale": float,
    "input_offset": float,
    "threshold": float,
    "test_time_scales": lambda v: tuple(float(x) for x in v),
    "max_pixels": int,
}
