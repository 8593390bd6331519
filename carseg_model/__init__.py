"""carseg: car image segmentation (U-Net + MobileNetV2), loadable from the Hugging Face Hub.

>>> from carseg_model import CarSegModel
>>> model = CarSegModel.from_pretrained()          # the bundled default model
>>> result = model.predict("car.jpg")
>>> result.mask.shape == result.image.shape[:2]
True

Importing this package does not import TensorFlow; it is loaded when a Keras model is
built or loaded. Exported models run without it:

>>> model.export("deploy", format="tflite", quantize="int8")      # deploy/model_int8.tflite
>>> fast = CarSegModel.from_pretrained("deploy", backend="tflite", quantize="int8")
"""

from carseg_model.config import CarSegConfig
from carseg_model.errors import (
    ConfigError,
    ImageNotFoundError,
    ImageTooLargeError,
    InvalidImageError,
    ModelFolderError,
    ModelNotCachedError,
    PhotoError,
)
from carseg_model.hub import HubOptions, bundled_models
from carseg_model.model import DEFAULT_MODEL, CarSegModel
from carseg_model.result import SegmentationResult
from carseg_model.version import __version__

__all__ = [
    "DEFAULT_MODEL",
    "CarSegConfig",
    "CarSegModel",
    "ConfigError",
    "HubOptions",
    "ImageNotFoundError",
    "ImageTooLargeError",
    "InvalidImageError",
    "ModelFolderError",
    "ModelNotCachedError",
    "PhotoError",
    "SegmentationResult",
    "__version__",
    "bundled_models",
]
