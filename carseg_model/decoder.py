"""The decoder: pix2pix-style upsampling blocks."""

from __future__ import annotations

import keras


def upsample(
    filters: int,
    size: int,
    norm_type: str = "batchnorm",
    apply_dropout: bool = False,
    name: str | None = None,
) -> keras.Sequential:
    """Conv2DTranspose (stride 2) -> BatchNorm or InstanceNorm -> optional Dropout(0.5) -> ReLU.

    Doubles the spatial size. Instance normalisation is ``GroupNormalization(groups=-1)``
    (one group per channel), a built-in layer, so saved models load in safe mode.
    """
    initializer = keras.initializers.RandomNormal(mean=0.0, stddev=0.02)
    block = keras.Sequential(name=name)
    block.add(
        keras.layers.Conv2DTranspose(
            filters, size, strides=2, padding="same", kernel_initializer=initializer, use_bias=False
        )
    )
    if norm_type == "batchnorm":
        block.add(keras.layers.BatchNormalization())
    elif norm_type == "instancenorm":
        block.add(keras.layers.GroupNormalization(groups=-1, epsilon=1e-5))
    else:
        raise ValueError(f"norm_type must be 'batchnorm' or 'instancenorm'; got {norm_type!r}")
    if apply_dropout:
        block.add(keras.layers.Dropout(0.5))
    block.add(keras.layers.ReLU())
    return block
