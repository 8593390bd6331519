import numpy as np
import pytest

from carseg_model.backbone import SKIP_LAYER_NAMES
from carseg_model.config import CarSegConfig
from carseg_model.unet import ENCODER_NAME, build_unet


@pytest.fixture(scope="module")
def network():
    return build_unet(CarSegConfig(input_size=(64, 96), encoder_weights=None))


def test_encoder_outputs_are_the_five_skip_layers(network):
    encoder = network.get_layer(ENCODER_NAME)
    expected = [encoder.get_layer(name).output for name in SKIP_LAYER_NAMES]
    assert [id(t) for t in encoder.outputs] == [id(t) for t in expected]
    # shallow -> deep: 1/2, 1/4, 1/8, 1/16, 1/32 of the input
    assert [tuple(t.shape[1:3]) for t in encoder.outputs] == [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]


def test_every_skip_is_concatenated_into_the_decoder(network):
    concatenated = [network.get_layer(f"skip_concat_{i}") for i in range(1, 5)]
    # each concat joins an upsampled block with a skip of the same resolution
    assert [tuple(layer.output.shape[1:3]) for layer in concatenated] == [(4, 6), (8, 12), (16, 24), (32, 48)]


def test_decoder_blocks_are_the_seeds_transpose_block(network):
    block = network.get_layer("decoder_block_1")
    conv, norm, relu = block.layers
    assert type(conv).__name__ == "Conv2DTranspose" and conv.strides == (2, 2) and not conv.use_bias
    assert conv.filters == 512 and conv.kernel_size == (3, 3)
    assert type(norm).__name__ == "BatchNormalization" and type(relu).__name__ == "ReLU"
    assert [network.get_layer(f"decoder_block_{i}").layers[0].filters for i in range(1, 5)] == [512, 256, 128, 64]


def test_instancenorm_and_dropout_options():
    network = build_unet(
        CarSegConfig(input_size=(64, 64), encoder_weights=None, norm_type="instancenorm", decoder_dropout=True)
    )
    layers = [type(layer).__name__ for layer in network.get_layer("decoder_block_2").layers]
    assert layers == ["Conv2DTranspose", "GroupNormalization", "Dropout", "ReLU"]


def test_separable_decoder_mixes_channels_before_upsampling():
    network = build_unet(CarSegConfig(input_size=(64, 96), encoder_weights=None, decoder_block="separable"))
    block = network.get_layer("decoder_block_1")
    assert [type(layer).__name__ for layer in block.layers] == [
        "Conv2D",
        "BatchNormalization",
        "ReLU",
        "BilinearUpsample2x",
        "DepthwiseConv2D",
        "BatchNormalization",
        "ReLU",
    ]
    assert block.layers[0].kernel_size == (1, 1)
    assert [network.get_layer(f"decoder_block_{i}").layers[0].filters for i in range(1, 5)] == [512, 256, 128, 64]
    seed_decoder = build_unet(CarSegConfig(input_size=(64, 96), encoder_weights=None))
    assert network.count_params() < seed_decoder.count_params() / 2


@pytest.mark.parametrize("decoder_block", ["transpose", "separable"])
@pytest.mark.parametrize("size", [(32, 32), (64, 96), (160, 128)])
def test_output_matches_input_size_with_one_sigmoid_channel(size, decoder_block):
    network = build_unet(CarSegConfig(input_size=size, encoder_weights=None, alpha=0.35, decoder_block=decoder_block))
    output = np.asarray(network(np.random.default_rng(0).uniform(-1, 1, (2, *size, 3)).astype("float32")))
    assert output.shape == (2, *size, 1)
    assert output.min() >= 0.0 and output.max() <= 1.0


def test_encoder_weights_path_must_exist():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_unet(CarSegConfig(input_size=(64, 64), encoder_weights="/no/such/weights.h5"))


def test_bilinear_upsample_matches_keras_upsampling_and_takes_open_sizes():
    """carseg 0.1's separable models use UpSampling2D; new ones the layer that also runs with open H and W."""
    import keras
    import numpy as np

    from carseg_model.decoder import BilinearUpsample2x

    features = np.random.default_rng(0).random((2, 5, 7, 3), dtype=np.float32)
    expected = keras.layers.UpSampling2D(2, interpolation="bilinear")(features)
    np.testing.assert_allclose(BilinearUpsample2x()(features), expected, atol=1e-6)
    network = build_unet(
        CarSegConfig(input_size=(64, 96), encoder_weights=None, decoder_block="separable", input_shape="keep_aspect")
    )
    assert network.input_shape == (None, None, None, 3)
    assert network(np.zeros((1, 96, 160, 3), np.float32)).shape == (1, 96, 160, 1)
