import numpy as np
import pytest


@pytest.mark.parametrize("activation, use_bias", [("sigmoid", True), (None, False)])
def test_subpixel_rewrite_equals_the_transposed_convolution(activation, use_bias):
    import keras

    from carseg_model.subpixel import SubPixelConvTranspose

    layer = keras.layers.Conv2DTranspose(5, 3, strides=2, padding="same", activation=activation, use_bias=use_bias)
    x = np.random.default_rng(0).normal(size=(2, 8, 6, 7)).astype("float32")
    layer(x)
    if use_bias:
        layer.bias.assign(np.random.default_rng(1).normal(size=5))
    np.testing.assert_allclose(np.asarray(SubPixelConvTranspose(layer)(x)), np.asarray(layer(x)), atol=1e-5)


def test_only_3x3_stride_2_same_transposed_convolutions_are_rewritten():
    import keras

    from carseg_model.subpixel import SubPixelConvTranspose, with_subpixel_upsampling

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", name="rewritten")(inputs)
    outputs = keras.layers.Conv2DTranspose(2, 2, strides=2, padding="same", name="kept")(x)
    network = keras.Model(inputs, outputs)
    rewritten = with_subpixel_upsampling(network)
    kinds = {type(layer).__name__ for layer in rewritten.layers}
    assert SubPixelConvTranspose.__name__ in kinds and "Conv2DTranspose" in kinds
    batch = np.random.default_rng(2).normal(size=(1, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(rewritten(batch)), np.asarray(network(batch)), atol=1e-5)
