"""Export to TFLite / ONNX: every model variant (see the top-level conftest.py), the quantized files, the API's edges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carseg_model import CarSegConfig, CarSegModel, ModelFolderError
from carseg_model.export import representative_batches
from carseg_model.formats import exported_filename
from carseg_model.preprocessing import preprocess

TOLERANCE = {None: (1e-4, 1e-6), "fp16": (2e-3, 2e-4), "int8": (0.2, 0.01)}
"""(max, mean) |probability - Keras probability| allowed per quantization."""


@pytest.fixture(scope="module")
def photos(car_photo: Path) -> list[np.ndarray]:
    photo = np.asarray(Image.open(car_photo).convert("RGB"))
    return [photo, photo[::2, ::3], photo[:300]]


def _assert_predicts_like_keras(exported: CarSegModel, keras_model: CarSegModel, photos, quantize) -> None:
    assert exported.network is None and exported.config == keras_model.config
    expected = keras_model.predict_batch(photos)
    results = exported.predict_batch(photos, batch_size=2)  # batches of 2 then 1: the TFLite input is resized
    max_error, mean_error = TOLERANCE[quantize]
    for result, reference in zip(results, expected):
        assert result.mask.shape == reference.mask.shape and result.network_probabilities.dtype == np.float32
        error = np.abs(result.network_probabilities - reference.network_probabilities)
        assert error.max() <= max_error and error.mean() <= mean_error, (error.max(), error.mean())
    np.testing.assert_allclose(
        exported.predict(photos[1]).network_probabilities, results[1].network_probabilities, atol=1e-5
    )


class TestEveryVariantExports:
    """Each architecture / preprocessing variant exports to TFLite and ONNX and predicts like Keras."""

    @pytest.mark.parametrize("format", ["tflite", "onnx"])
    def test_exported_model_predicts_like_keras(self, variant, variants, photos, format):
        folder = variants.exported(variant.name, format)
        assert (folder / exported_filename(format)).is_file()
        exported = CarSegModel.from_pretrained(folder, backend=format, num_threads=2)
        _assert_predicts_like_keras(exported, variant.model, photos, None)


@pytest.mark.parametrize("quantize", ["fp16", "int8"])
def test_quantized_tflite_predicts_close_to_keras(variants, photos, quantize):
    folder = variants.exported("transpose-64x64", "tflite", quantize)
    exported = CarSegModel.from_pretrained(folder, backend="tflite", quantize=quantize, num_threads=2)
    _assert_predicts_like_keras(exported, variants.get("transpose-64x64").model, photos, quantize)


def test_an_exported_file_loads_directly(variants, car_photo):
    folder = variants.exported("transpose-64x64", "tflite")
    direct = CarSegModel.from_pretrained(folder / "model.tflite").predict(car_photo)
    from_folder = CarSegModel.from_pretrained(folder, backend="tflite").predict(car_photo)
    assert np.array_equal(direct.probabilities, from_folder.probabilities)
    with pytest.raises(ValueError, match="leave backend/quantize unset"):
        CarSegModel.from_pretrained(folder / "model.tflite", backend="onnx")
    assert CarSegModel.from_pretrained(folder / "model.tflite", max_pixels=10).config.max_pixels == 10


def test_representative_batches_are_preprocessed_like_predict(car_photo):
    config = CarSegConfig(input_size=(64, 96), encoder_weights=None, input_scale=1 / 255, input_offset=0.0)
    photo = np.asarray(Image.open(car_photo).convert("RGB"))
    (batch,) = representative_batches(config, [photo])
    assert batch.shape == (1, 64, 96, 3) and batch.dtype == np.float32
    assert np.array_equal(batch[0], preprocess(photo, config))
    assert len(representative_batches(config)) == 5  # the example photos shipped in the package (calibration/)
    with pytest.raises(FileNotFoundError, match="representative_images folder"):
        representative_batches(config, "/no/such/folder")
    with pytest.raises(ValueError, match="needs representative photos"):
        representative_batches(config, [])


def test_export_and_load_errors_say_what_to_do(variants, tmp_path):
    variant = variants.get("transpose-64x64")
    folder = variants.exported("transpose-64x64", "onnx")
    with pytest.raises(ValueError, match="TFLite-only"):
        variant.model.export(tmp_path, format="onnx", quantize="fp16")
    with pytest.raises(ValueError, match="format must be one of"):
        variant.model.export(tmp_path, format="coreml")
    with pytest.raises(ModelFolderError, match="has no model.onnx; write it with model.export"):
        CarSegModel.from_pretrained(tmp_path, backend="onnx")
    with pytest.raises(ValueError, match="num_threads"):
        CarSegModel.from_pretrained(folder, backend="onnx", num_threads=0)
    different = CarSegModel(variant.model.config.replace(threshold=0.3), variant.model.network)
    with pytest.raises(ValueError, match="already holds a different carseg model"):
        different.export(folder)
    exported = CarSegModel.from_pretrained(folder, backend="onnx")
    with pytest.raises(ValueError, match="needs the Keras network.*backend='keras'"):
        exported.save_pretrained(tmp_path / "copy")
    with pytest.raises(RuntimeError, match="TensorFlow already runs"):
        CarSegModel.from_pretrained(variant.folder, num_threads=7)
