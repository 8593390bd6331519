"""The encoder: ImageNet MobileNetV2 cut at the five U-Net skip connections."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras

SKIP_LAYER_NAMES = (
    "block_1_expand_relu",  # 1/2 resolution
    "block_3_expand_relu",  # 1/4
    "block_6_expand_relu",  # 1/8
    "block_13_expand_relu",  # 1/16
    "block_16_project",  # 1/32, the bottleneck
)


def mobilenetv2_encoder(
    input_shape: tuple[int, int, int], alpha: float = 1.0, weights: str | None = "imagenet"
) -> keras.Model:
    """MobileNetV2 (no top) returning the feature maps of `SKIP_LAYER_NAMES`, shallow to deep.

    ``weights`` is ``"imagenet"`` (downloaded once into ``$KERAS_HOME/models``), ``None``
    (random init) or the path of a no-top MobileNetV2 ``.h5`` weights file.
    """
    if weights not in ("imagenet", None) and not Path(weights).is_file():
        raise FileNotFoundError(
            f"encoder weights file {weights!r} does not exist; pass 'imagenet', None, "
            "or the path of a MobileNetV2 no-top .h5 file"
        )
    try:
        with warnings.catch_warnings():  # Keras warns that 224x224 weights are used for other sizes: intended.
            warnings.filterwarnings("ignore", message=".*Weights for input shape")
            base = keras.applications.MobileNetV2(
                input_shape=input_shape, alpha=alpha, include_top=False, weights=weights
            )
    except Exception as error:  # Keras raises a bare Exception when the download fails.
        if weights != "imagenet":
            raise
        raise RuntimeError(
            "could not get the ImageNet MobileNetV2 weights (no internet?). Download "
            "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_"
            f"{alpha}_224_no_top.h5 into $KERAS_HOME/models/ (default ~/.keras/models/), "
            "or pass its path as encoder_weights (train.py and carseg train: --encoder-weights PATH)"
        ) from error
    outputs = [base.get_layer(name).output for name in SKIP_LAYER_NAMES]
    return keras.Model(base.input, outputs, name="mobilenetv2_encoder")
