import numpy as np
import pytest

from carseg_model.config import CarSegConfig
from carseg_model.preprocessing import preprocess, resize_image, scale_pixels, upsample_alpha

CONFIG = CarSegConfig(input_size=(64, 96), encoder_weights=None)


def test_scale_pixels_maps_0_255_to_the_configured_range():
    pixels = np.array([0.0, 127.5, 255.0], np.float32)
    assert scale_pixels(pixels, CONFIG).tolist() == [-1.0, 0.0, 1.0]
    assert scale_pixels(pixels, CONFIG).dtype == np.float32
    unit = CarSegConfig(encoder_weights=None, input_scale=1 / 255, input_offset=0.0)
    np.testing.assert_allclose(scale_pixels(pixels, unit), [0.0, 0.5, 1.0])


def test_scale_pixels_works_on_tensorflow_tensors_like_on_arrays():
    tf = pytest.importorskip("tensorflow")
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    scaled = scale_pixels(tf.constant(pixels), CONFIG)
    assert scaled.dtype == tf.float32
    np.testing.assert_allclose(scaled.numpy(), scale_pixels(pixels, CONFIG), atol=1e-6)


def test_preprocess_resizes_then_scales():
    photo = np.random.default_rng(1).integers(0, 256, (120, 200, 3), dtype=np.uint8)
    network_input = preprocess(photo, CONFIG)
    assert network_input.shape == (64, 96, 3) and network_input.dtype == np.float32
    expected = scale_pixels(resize_image(photo, (64, 96), "area").astype(np.float32), CONFIG)
    assert np.array_equal(network_input, expected)


def test_upsample_alpha_spans_0_255():
    probabilities = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    full = upsample_alpha(probabilities, (5, 7))
    assert full.shape == (5, 7) and full.dtype == np.uint8 and full.min() == 0 and full.max() == 255
