"""The U-Net: MobileNetV2 encoder + upsampling decoder + 1-channel sigmoid head."""

from __future__ import annotations

import keras

from carseg_model.backbone import mobilenetv2_encoder
from carseg_model.config import CarSegConfig
from carseg_model.decoder import decoder_block

ENCODER_NAME = "mobilenetv2_encoder"


def build_unet(config: CarSegConfig, pretrained_encoder: bool = True) -> keras.Model:
    """Build the network described by ``config``.

    The encoder starts from ``config.encoder_weights`` when ``pretrained_encoder``,
    else from random weights (for a network whose weights are restored afterwards).
    Input: ``(batch, H, W, 3)`` scaled as in the config (H and W left open for
    ``input_shape="keep_aspect"``: any multiples of 32); output ``(batch, H, W, 1)`` car probabilities.
    """
    height, width = input_dimensions(config)
    weights = config.encoder_weights if pretrained_encoder else None
    encoder = mobilenetv2_encoder((height, width, 3), alpha=config.alpha, weights=weights)

    inputs = keras.Input(shape=(height, width, 3), name="image")
    *skips, x = encoder(inputs)
    for index, (filters, skip) in enumerate(zip(config.decoder_filters, reversed(skips)), start=1):
        block = decoder_block(
            config.decoder_block, filters, config.norm_type, config.decoder_dropout, name=f"decoder_block_{index}"
        )
        x = block(x)
        x = keras.layers.Concatenate(name=f"skip_concat_{index}")([x, skip])
    outputs = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid", name="mask_head")(x)
    return keras.Model(inputs, outputs, name="carseg_unet_mobilenetv2")


def input_dimensions(config: CarSegConfig) -> tuple[int | None, int | None]:
    """The network's input ``(height, width)``: fixed for ``"stretch"`` configs, open for ``"keep_aspect"``."""
    return config.input_size if config.input_shape == "stretch" else (None, None)
