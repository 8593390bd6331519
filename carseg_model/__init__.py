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

__version__ = "0.1.0"

from carseg_model.config import CarSegConfig
from carseg_model.errors import (
    ConfigError,
    ImageTooLargeError,
    InvalidImageError,
    ModelFolderError,
    ModelNotCachedError,
)
from carseg_model.hub import bundled_models
from carseg_model.model import DEFAULT_MODEL, CarSegModel
from carseg_model.result import SegmentationResult

__all__ = [
    "DEFAULT_MODEL",
    "CarSegConfig",
    "CarSegModel",
    "ConfigError",
    "ImageTooLargeError",
    "InvalidImageError",
    "ModelFolderError",
    "ModelNotCachedError",
    "SegmentationResult",
    "__version__",
    "bundled_models",
]
