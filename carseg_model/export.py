"""Export a carseg model to TFLite (float32, float16 weights, full-integer int8) or ONNX.

The exported file is written into a folder beside ``carseg_config.json``, so the folder
(or the file itself) loads with ``CarSegModel.from_pretrained(..., backend="tflite"|"onnx")``
and predicts without TensorFlow. Inputs and outputs stay float32 in every variant (int8
models quantize and dequantize inside the graph), so all backends share one API.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from carseg_model.config import CONFIG_FILENAME, CarSegConfig
from carseg_model.formats import check_format, exported_filename
from carseg_model.image_io import IMAGE_SUFFIXES, ImageInput, load_image
from carseg_model.preprocessing import preprocess

if TYPE_CHECKING:
    import keras

CALIBRATION_PHOTOS = Path(__file__).resolve().parent / "calibration"
"""Default int8 calibration photos: the demo's example photos, downscaled, shipped in the package."""

RepresentativeImages = str | os.PathLike | Iterable[ImageInput] | None


def export_network(
    network: keras.Model,
    config: CarSegConfig,
    folder: str | os.PathLike,
    format: str = "tflite",
    quantize: str | None = None,
    representative_images: RepresentativeImages = None,
) -> Path:
    """Write ``folder/<model file>`` and ``folder/carseg_config.json``; return the model file's path.

    TFLite files have a ``[1, H, W, 3]`` input (H and W open for ``"keep_aspect"`` configs:
    the TFLite backend sizes the input per photo shape): with an open batch size every
    ``Conv2DTranspose`` falls off XNNPACK (about 2x slower in float32, ~500x in int8);
    their transposed convolutions are rewritten as sub-pixel convolutions (see
    `carseg_model.subpixel`). ONNX files keep the batch size open (no cost in ONNX Runtime).
    """
    check_format(format, quantize)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / CONFIG_FILENAME).is_file() and CarSegConfig.load(folder) != config:
        raise ValueError(
            f"{folder} already holds a different carseg model ({CONFIG_FILENAME} differs); "
            "export into its own folder or into the folder this model was saved to"
        )
    if format == "onnx" and importlib.util.find_spec("tf2onnx") is None:
        raise ImportError("format='onnx' export needs tf2onnx and onnx: pip install 'carseg[export]'")
    import tensorflow as tf

    from carseg_model.unet import input_dimensions  # imports Keras: only when exporting

    path = folder / exported_filename(format, quantize)
    height, width = input_dimensions(config)
    if format == "onnx":
        spec = tf.TensorSpec([None, height, width, 3], tf.float32, name="image")
        network.export(str(path), format="onnx", input_signature=[spec], verbose=False)
    else:
        from carseg_model.subpixel import with_subpixel_upsampling

        spec = tf.TensorSpec([1, height, width, 3], tf.float32, name="image")
        settings = _tflite_settings(config, quantize, representative_images)
        tflite_network = with_subpixel_upsampling(network)
        tflite_network.export(str(path), format="litert", input_signature=[spec], verbose=False, **settings)
    config.save(folder)
    return path


def _tflite_settings(
    config: CarSegConfig, quantize: str | None, representative_images: RepresentativeImages
) -> dict[str, object]:
    """TFLiteConverter attributes for a quantization; builtin ops only, so plain LiteRT runs it."""
    import tensorflow as tf

    if quantize is None:
        return {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize == "fp16":
        return {
            "optimizations": [tf.lite.Optimize.DEFAULT],
            "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS], "supported_types": [tf.float16]},
        }
    batches = representative_batches(config, representative_images)
    return {
        "optimizations": [tf.lite.Optimize.DEFAULT],
        "representative_dataset": lambda: ([batch] for batch in batches),
        "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]},
    }


def representative_batches(config: CarSegConfig, images: RepresentativeImages = None) -> list[np.ndarray]:
    """Calibration inputs for int8: each photo as a ``(1, H, W, 3)`` batch preprocessed like `predict`.

    ``images`` is a folder of photos (default: `CALIBRATION_PHOTOS`), or an
    iterable of paths / bytes / PIL images / arrays.
    """
    if images is None:
        images = CALIBRATION_PHOTOS
    if isinstance(images, (str, os.PathLike)):
        folder = Path(images)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"representative_images folder {folder} does not exist; pass a folder of real photos "
                "like the ones the model will see, or a list of them"
            )
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    batches = [preprocess(load_image(image, config.max_pixels), config)[None] for image in images]
    if not batches:
        raise ValueError("int8 export needs representative photos to calibrate on, but none were given/found")
    return batches
