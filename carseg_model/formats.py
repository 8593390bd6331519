"""File names of every model format a carseg folder can hold (the one place they are defined).

A folder written by `save_pretrained` holds the Keras files; `CarSegModel.export` adds
deployment files beside them (``model.onnx``, ``model.tflite``, ``model_fp16.tflite``,
``model_int8.tflite``). Every file shares the folder's ``carseg_config.json``.
"""

from __future__ import annotations

from pathlib import Path

KERAS_FILES = ("config.json", "metadata.json", "model.weights.h5")
BACKENDS = ("keras", "tflite", "onnx")
QUANTIZATIONS = {"tflite": (None, "fp16", "int8"), "onnx": (None,)}
"""The ``quantize`` values each export format supports."""


def check_format(format: str, quantize: str | None) -> None:
    """Raise ``ValueError`` unless ``format`` / ``quantize`` name an export carseg can make."""
    if format not in QUANTIZATIONS:
        raise ValueError(f"format must be one of {tuple(QUANTIZATIONS)}; got {format!r}")
    if quantize not in QUANTIZATIONS[format]:
        raise ValueError(
            f"{format} exports support quantize={QUANTIZATIONS[format]}; got {quantize!r}"
            + (" (fp16 and int8 are TFLite-only: use format='tflite')" if format == "onnx" else "")
        )


def exported_filename(format: str, quantize: str | None = None) -> str:
    """``model.onnx``, ``model.tflite``, ``model_fp16.tflite`` or ``model_int8.tflite``."""
    check_format(format, quantize)
    return f"model{'_' + quantize if quantize else ''}.{format}"


def format_of(path: str | Path) -> str:
    """The backend that runs an exported file, from its suffix (``.tflite`` or ``.onnx``)."""
    suffix = Path(path).suffix.lstrip(".")
    if suffix not in QUANTIZATIONS:
        raise ValueError(f"{path} is not an exported carseg model: expected a .tflite or .onnx file")
    return suffix
