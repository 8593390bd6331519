"""`CarSegConfig`: everything a checkpoint needs besides its weights.

Architecture, preprocessing and post-processing live in one object that is saved
beside the weights (``carseg_config.json``), so a loaded model predicts exactly the
way it was trained (the timm convention: preprocessing travels with the checkpoint).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from carseg_model.errors import ConfigError

CONFIG_FILENAME = "carseg_config.json"
FORMAT_VERSION = 1

DECODER_BLOCKS = ("transpose", "separable")
NORM_TYPES = ("batchnorm", "instancenorm")
RESIZE_METHODS = ("area", "bilinear")


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
        resize_method: how photos are resized to ``input_size`` (``"area"`` uses
            area averaging when shrinking and bilinear when enlarging).
        threshold: default probability above which a pixel is "car".
        test_time_flip: also run the mirrored photo and average the two (2x the compute).
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
    threshold: float = 0.5
    test_time_flip: bool = False
    max_pixels: int = 50_000_000
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", tuple(int(v) for v in self.input_size))
        object.__setattr__(self, "decoder_filters", tuple(int(v) for v in self.decoder_filters))
        height, width = self.input_size
        if len(self.input_size) != 2 or height % 32 or width % 32 or height <= 0 or width <= 0:
            raise ConfigError(
                f"input_size must be (height, width), both positive multiples of 32; got {self.input_size}"
            )
        if len(self.decoder_filters) != 4:
            raise ConfigError(
                f"decoder_filters needs 4 values (one per upsampling block); got {self.decoder_filters}"
            )
        if self.decoder_block not in DECODER_BLOCKS:
            raise ConfigError(f"decoder_block must be one of {DECODER_BLOCKS}; got {self.decoder_block!r}")
        if self.norm_type not in NORM_TYPES:
            raise ConfigError(f"norm_type must be one of {NORM_TYPES}; got {self.norm_type!r}")
        if self.resize_method not in RESIZE_METHODS:
            raise ConfigError(f"resize_method must be one of {RESIZE_METHODS}; got {self.resize_method!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"threshold must be in [0, 1]; got {self.threshold}")
        if self.max_pixels <= 0:
            raise ConfigError(f"max_pixels must be positive; got {self.max_pixels}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, tagged with the file format version."""
        data = asdict(self)
        data["input_size"] = list(self.input_size)
        data["decoder_filters"] = list(self.decoder_filters)
        return {"format_version": FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CarSegConfig:
        """Inverse of `to_dict`; refuses other format versions and unknown keys."""
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
        """Read ``carseg_config.json`` from ``folder``."""
        path = Path(folder) / CONFIG_FILENAME
        if not path.is_file():
            raise ConfigError(f"{path} is missing: {folder} is not a carseg model folder")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path} is not valid JSON: {error}") from error
        return cls.from_dict(data)
