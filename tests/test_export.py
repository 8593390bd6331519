"""Export to TFLite / ONNX and predict through the same API without TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi
from PIL import Image

from carseg_model import CarSegConfig, CarSegModel, ModelFolderError
from carseg_model.export import representative_batches
from carseg_model.formats import exported_filename
from carseg_model.preprocessing import preprocess
from tests.hub_fixtures import hub  # noqa: F401

VARIANTS = [("tflite", None), ("tflite", "fp16"), ("tflite", "int8"), ("onnx", None)]
TOLERANCE = {None: (1e-4, 1e-6), "fp16": (2e-3, 2e-4), "int8": (0.2, 0.01)}
"""(max, mean) |probability - Keras probability| allowed per quantization."""


@pytest.fixture(scope="module")
def keras_model(tiny_model_folder: Path) -> CarSegModel:
    """The tiny model with its head scaled so probabilities span ~0.05..0.97 (an untrained one
    sits at 0.5 +- 0.01, where any quantization error looks small)."""
    model = CarSegModel.from_pretrained(tiny_model_folder)
    head = model.network.get_layer("mask_head")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 200, bias])
    return model


@pytest.fixture(scope="module")
def export_folder(keras_model: CarSegModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A save_pretrained folder with every exported variant written beside the Keras files."""
    folder = tmp_path_factory.mktemp("exported")
    keras_model.save_pretrained(folder)
    for format, quantize in VARIANTS:
        path = keras_model.export(folder, format=format, quantize=quantize)
        assert path == folder / exported_filename(format, quantize)
    return folder


@pytest.mark.parametrize("format, quantize", VARIANTS, ids=[f"{f}-{q}" for f, q in VARIANTS])
def test_exported_model_predicts_like_keras(export_folder, keras_model, car_photo, format, quantize):
    model = CarSegModel.from_pretrained(export_folder, backend=format, quantize=quantize, num_threads=2)
    assert model.network is None and model.config == keras_model.config
    photo = np.asarray(Image.open(car_photo).convert("RGB"))
    photos = [photo, photo[::2, ::3], photo[:300]]
    expected = keras_model.predict_batch(photos)
    results = model.predict_batch(photos, batch_size=2)  # batches of 2 then 1: the TFLite input is resized
    max_error, mean_error = TOLERANCE[quantize]
    for result, reference in zip(results, expected):
        assert result.mask.shape == reference.mask.shape and result.probabilities.dtype == np.float32
        error = np.abs(result.probabilities - reference.probabilities)
        assert error.max() <= max_error and error.mean() <= mean_error, (error.max(), error.mean())
    single = model.predict(photos[1]).probabilities
    np.testing.assert_allclose(single, results[1].probabilities, atol=1e-5)


def test_an_exported_file_loads_directly(export_folder, car_photo):
    path = export_folder / "model_int8.tflite"
    direct = CarSegModel.from_pretrained(path).predict(car_photo)
    from_folder = CarSegModel.from_pretrained(export_folder, backend="tflite", quantize="int8").predict(car_photo)
    assert np.array_equal(direct.probabilities, from_folder.probabilities)
    with pytest.raises(ValueError, match="leave backend/quantize unset"):
        CarSegModel.from_pretrained(path, backend="onnx")


def test_predicting_an_export_never_imports_tensorflow(export_folder, car_photo):
    script = f"""
import sys
from carseg_model import CarSegModel
for backend, quantize in [("onnx", None), ("tflite", "int8")]:
    model = CarSegModel.from_pretrained({str(export_folder)!r}, backend=backend, quantize=quantize)
    assert model.predict({str(car_photo)!r}).mask.shape == (680, 1024)
print("tensorflow" in sys.modules, "keras" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_hub_download_of_an_export_fetches_only_its_files(hub, export_folder, car_photo):  # noqa: F811
    api = HfApi()
    api.create_repo("user/carseg-onnx")
    api.upload_folder(repo_id="user/carseg-onnx", folder_path=export_folder, allow_patterns=["*.json", "*.onnx"])
    model = CarSegModel.from_pretrained("user/carseg-onnx", backend="onnx")
    assert model.predict(car_photo).mask.shape == (680, 1024)
    downloaded = {path.name for request in hub.requests for path in [Path(request.path)] if "/resolve/" in request.path}
    assert downloaded == {"carseg_config.json", "model.onnx"}


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


def test_export_and_load_errors_say_what_to_do(export_folder, tiny_model, tmp_path):
    with pytest.raises(ValueError, match="TFLite-only"):
        tiny_model.export(tmp_path, format="onnx", quantize="fp16")
    with pytest.raises(ValueError, match="format must be one of"):
        tiny_model.export(tmp_path, format="coreml")
    with pytest.raises(ModelFolderError, match="has no model.onnx; write it with model.export"):
        CarSegModel.from_pretrained(tmp_path, backend="onnx")
    with pytest.raises(ValueError, match="backend must be one of"):
        CarSegModel.from_pretrained(export_folder, backend="torch")
    with pytest.raises(ValueError, match="num_threads"):
        CarSegModel.from_pretrained(export_folder, backend="onnx", num_threads=0)
    with pytest.raises(ValueError, match="already holds a different carseg model"):
        CarSegModel(CarSegConfig(input_size=(64, 64), encoder_weights=None, threshold=0.3)).export(export_folder)
    exported = CarSegModel.from_pretrained(export_folder, backend="onnx")
    with pytest.raises(ValueError, match="needs the Keras network.*backend='keras'"):
        exported.save_pretrained(tmp_path / "copy")
    with pytest.raises(RuntimeError, match="TensorFlow already runs"):
        CarSegModel.from_pretrained(export_folder, num_threads=7)


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
