"""`CarSegModel`: one test class over every model variant (see the top-level conftest.py), then the API's edges."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carseg_model import (
    CarSegConfig,
    CarSegModel,
    ConfigError,
    ImageNotFoundError,
    ImageTooLargeError,
    InvalidImageError,
    ModelFolderError,
    PhotoError,
)
from carseg_model.defaults import BATCH_SIZE


@pytest.fixture(scope="module")
def photo(car_photo: Path) -> np.ndarray:
    return np.asarray(Image.open(car_photo).convert("RGB"))


class TestEveryVariant:
    """The same checks for each architecture / preprocessing variant."""

    def test_save_then_load_gives_identical_probabilities(self, variant, car_photo):
        loaded = CarSegModel.from_pretrained(variant.folder)
        assert loaded.config == variant.model.config
        expected = variant.model.predict(car_photo).probabilities
        assert np.array_equal(loaded.predict(car_photo).probabilities, expected)

    def test_folder_is_a_plain_keras_model(self, variant):
        import keras

        network = keras.saving.load_model(variant.folder)  # safe_mode=True by default, no custom_objects
        batch = np.random.default_rng(1).uniform(-1, 1, (1, *variant.model.config.input_size, 3)).astype("float32")
        np.testing.assert_allclose(np.asarray(network(batch)), np.asarray(variant.model.network(batch)), atol=1e-6)
        assert sorted(p.name for p in variant.folder.iterdir() if p.is_file()) == [
            "README.md",
            "carseg_config.json",
            "config.json",
            "metadata.json",
            "model.weights.h5",
        ]

    def test_model_card_describes_the_decoder(self, variant):
        decoder = {"transpose": "`Conv2DTranspose` decoder", "separable": "depthwise-separable decoder"}
        assert decoder[variant.model.config.decoder_block] in (variant.folder / "README.md").read_text()

    @pytest.mark.parametrize("height, width", [(680, 1024), (333, 500), (500, 333), (17, 5), (1, 1)])
    def test_mask_has_the_photos_size(self, variant, photo, height, width):
        result = variant.model.predict(np.asarray(Image.fromarray(photo).resize((width, height))))
        assert result.mask.shape == (height, width) and result.mask.dtype == bool
        assert result.probabilities.shape == (height, width) and result.probabilities.dtype == np.float32
        assert 0.0 <= result.probabilities.min() <= result.probabilities.max() <= 1.0

    def test_threshold_default_and_override(self, variant, photo):
        default = variant.model.predict(photo)
        assert default.threshold == variant.model.config.threshold
        assert np.array_equal(default.mask, default.probabilities > variant.model.config.threshold)
        cut = float(np.quantile(default.probabilities, 0.9))  # the scaled head spreads the values
        high = variant.model.predict(photo, threshold=cut)
        assert high.threshold == cut and np.array_equal(high.mask, default.probabilities > cut)
        assert 0 < high.mask.sum() < high.mask.size

    def test_predict_batch_matches_single_predictions(self, variant, photo):
        photos = [photo, photo[::2, ::3], photo[:300], np.ascontiguousarray(photo[:, ::-1]), photo[100:, 200:]]
        batched = variant.model.predict_batch(photos, batch_size=2)
        assert len(batched) == len(photos)
        for result, source in zip(batched, photos):
            np.testing.assert_allclose(
                result.network_probabilities, variant.model.predict(source).network_probabilities, atol=1e-4
            )
        assert variant.model._backend._call.experimental_get_tracing_count() == 1

    def test_test_time_flip_averages_the_mirrored_prediction(self, variant, photo):
        flipping = CarSegModel(variant.model.config.replace(test_time_flip=True), variant.model.network)
        plain = variant.model.predict(photo).network_probabilities
        mirrored = variant.model.predict(np.ascontiguousarray(photo[:, ::-1])).network_probabilities[:, ::-1]
        np.testing.assert_allclose(flipping.predict(photo).network_probabilities, (plain + mirrored) / 2, atol=1e-5)


@pytest.fixture(scope="module")
def model(variants) -> CarSegModel:
    return variants.get("transpose-64x64").model


@pytest.fixture(scope="module")
def model_folder(variants) -> Path:
    return variants.get("transpose-64x64").folder


def _copy(folder: Path, destination: Path) -> Path:
    return Path(shutil.copytree(folder, destination))


# ---------------------------------------------------------------------------- inputs and arguments
def test_bad_photos_raise_invalid_image_errors(model, car_photo, tmp_path):
    truncated = car_photo.read_bytes()[:20_000]
    for source in (b"not an image", truncated, np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 5), np.uint8)):
        with pytest.raises(InvalidImageError):
            model.predict(source)


@pytest.mark.parametrize("source", ["", "no/such/photo.jpg", "FOLDER"])
def test_a_path_that_names_no_photo_is_a_value_error_and_a_file_not_found_error(model, tmp_path, source):
    source = str(tmp_path) if source == "FOLDER" else source
    with pytest.raises(ImageNotFoundError) as raised:
        model.predict(source)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, FileNotFoundError)
    assert isinstance(raised.value, InvalidImageError)


@pytest.mark.parametrize("threshold", ["0.5", 1.5, -0.1, float("nan")])
def test_threshold_must_be_a_real_number_in_0_1(model, photo, threshold):
    with pytest.raises(ValueError, match="threshold must be a number in"):
        model.predict(photo, threshold=threshold)


@pytest.mark.parametrize("batch_size", [0, 2.5, "4", True])
def test_batch_size_must_be_a_positive_whole_number(model, photo, batch_size):
    with pytest.raises(ValueError, match="batch size must be a positive whole number"):
        model.predict_batch([photo], batch_size=batch_size)


def test_predict_batch_default_batch_size_is_the_shared_default():
    import inspect

    assert inspect.signature(CarSegModel.predict_batch).parameters["batch_size"].default == BATCH_SIZE


def test_predict_batch_can_return_errors_in_place(model, photo, tmp_path):
    sources = [photo, tmp_path / "missing.jpg", b"not an image", photo[:100], np.zeros((3, 3, 7), np.uint8)]
    results = model.predict_batch(sources, batch_size=2, errors="return")
    assert [type(r).__name__ for r in results] == [
        "SegmentationResult",
        "PhotoError",
        "PhotoError",
        "SegmentationResult",
        "PhotoError",
    ]
    missing = results[1]
    assert isinstance(missing, ValueError) and missing.source == sources[1]
    assert isinstance(missing.error, ImageNotFoundError) and "missing.jpg" in str(missing) and "\n" not in str(missing)
    assert str(results[2]).startswith("<12 bytes>: ") and isinstance(results[2].error, InvalidImageError)
    np.testing.assert_allclose(results[3].probabilities, model.predict(photo[:100]).probabilities, atol=1e-5)
    assert all(isinstance(r, PhotoError) for r in model.predict_batch([b"x", b"y"], errors="return"))
    with pytest.raises(ImageNotFoundError):
        model.predict_batch(sources)  # errors="raise" is the default
    with pytest.raises(ValueError, match="errors must be one of"):
        model.predict_batch(sources, errors="ignore")


# ------------------------------------------------------------------------------------- max_pixels
def test_max_pixels_and_other_prediction_settings_can_be_set_when_loading_and_later(model, model_folder, car_photo):
    limited = CarSegModel.from_pretrained(model_folder, max_pixels=1000, threshold=0.7, test_time_flip=True)
    assert limited.config == model.config.replace(max_pixels=1000, threshold=0.7, test_time_flip=True)
    with pytest.raises(ImageTooLargeError, match=r"from_pretrained\(\.\.\., max_pixels=N\)") as raised:
        limited.predict(car_photo)
    assert "model.config = model.config.replace(max_pixels=N)" in str(raised.value)
    limited.config = limited.config.replace(max_pixels=1024 * 680)  # what the message says works
    assert limited.predict(car_photo).mask.shape == (680, 1024)
    with pytest.raises(ConfigError, match="max_pixels must be a positive whole number"):
        CarSegModel.from_pretrained(model_folder, max_pixels=-5)
    with pytest.raises(TypeError):
        CarSegModel.from_pretrained(model_folder, revison="main")  # a mistyped Hub option is not ignored


def test_test_time_scales_average_the_runs_at_the_largest_runs_size(photo, model_folder, tmp_path):
    """Each scale is one run at that multiple of the aspect-true input's sides; the runs are averaged at the
    largest one's size, on every backend; a stretch model refuses scales."""
    import cv2

    aspect = CarSegModel(CarSegConfig(input_size=(64, 64), input_shape="keep_aspect", encoder_weights=None))
    alone = {
        scale: CarSegModel(aspect.config.replace(test_time_scales=(scale,)), aspect.network)
        .predict(photo)
        .network_probabilities
        for scale in (1.0, 2.0)
    }
    assert alone[1.0].shape == (64, 64) and alone[2.0].shape == (96, 160)  # 1024x680 at 64x64 and 128x128 pixels
    both = CarSegModel(aspect.config.replace(test_time_scales=(1.0, 2.0)), aspect.network)
    probabilities = both.predict(photo).network_probabilities
    expected = (cv2.resize(alone[1.0], (160, 96), interpolation=cv2.INTER_LINEAR) + alone[2.0]) / 2
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert [r.network_probabilities.shape for r in both.predict_batch([photo, photo[:, :500]])] == [
        (96, 160),
        (160, 96),
    ]
    aspect.export(tmp_path, "onnx")
    exported = CarSegModel.from_pretrained(tmp_path, backend="onnx", test_time_scales=(1.0, 2.0))
    np.testing.assert_allclose(exported.predict(photo).network_probabilities, probabilities, atol=1e-4)
    with pytest.raises(ConfigError, match="test_time_scales needs input_shape='keep_aspect'"):
        CarSegModel.from_pretrained(model_folder, test_time_scales=(1.0, 2.0))  # a stretch model


# ------------------------------------------------------------------------------- loading errors
def test_loading_errors_say_what_is_missing(tmp_path, model_folder):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        CarSegModel.from_pretrained(tmp_path / "does-not-exist")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        CarSegModel.from_pretrained("./models/carseg")
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    shutil.copy(model_folder / "carseg_config.json", incomplete)
    with pytest.raises(ModelFolderError, match="missing config.json, metadata.json, model.weights.h5"):
        CarSegModel.from_pretrained(incomplete)
    newer = _copy(model_folder, tmp_path / "newer")
    config = json.loads((newer / "carseg_config.json").read_text())
    (newer / "carseg_config.json").write_text(json.dumps(config | {"format_version": 2}))
    with pytest.raises(ConfigError, match="format_version"):
        CarSegModel.from_pretrained(newer)


@pytest.mark.parametrize("keep", [0.5, 0.01])
def test_truncated_weights_are_one_model_folder_error(tmp_path, model_folder, keep):
    damaged = _copy(model_folder, tmp_path / "damaged")
    weights = damaged / "model.weights.h5"
    data = weights.read_bytes()
    weights.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFolderError, match="model.weights.h5 is damaged or truncated; download it again") as raised:
        CarSegModel.from_pretrained(damaged)
    assert str(weights) in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "field, value",
    [("threshold", "high"), ("input_size", "288x384"), ("test_time_flip", "false"), ("decoder_dropout", "true")],
)
def test_mistyped_config_is_one_config_error_naming_file_and_field(tmp_path, model_folder, field, value):
    mistyped = _copy(model_folder, tmp_path / "mistyped")
    config = json.loads((mistyped / "carseg_config.json").read_text())
    (mistyped / "carseg_config.json").write_text(json.dumps(config | {field: value}))
    with pytest.raises(ConfigError, match=f"carseg_config.json: {field} must be") as raised:
        CarSegModel.from_pretrained(mistyped)
    assert str(mistyped) in str(raised.value) and "\n" not in str(raised.value)


def test_unknown_layer_class_is_one_model_folder_error_naming_file_and_class(tmp_path, model_folder):
    strange = _copy(model_folder, tmp_path / "strange")
    architecture = strange / "config.json"
    architecture.write_text(architecture.read_text().replace('"Concatenate"', '"FancyConcatenate"'))
    with pytest.raises(ModelFolderError, match=r"config\.json uses the layer class keras\.layers\.FancyConcatenate"):
        CarSegModel.from_pretrained(strange)
    architecture.write_text('{"not": "a keras model"')
    with pytest.raises(ModelFolderError, match="holds a Keras model that cannot be loaded") as raised:
        CarSegModel.from_pretrained(strange)
    assert "\n" not in str(raised.value)


def test_exported_backends_need_their_file(tmp_path, model_folder):
    with pytest.raises(ModelFolderError, match="has no model.onnx; write it with model.export"):
        CarSegModel.from_pretrained(model_folder, backend="onnx")
    with pytest.raises(ValueError, match="backend must be one of"):
        CarSegModel.from_pretrained(model_folder, backend="torch")
    with pytest.raises(ValueError, match="quantize='int8' picks an exported file"):
        CarSegModel.from_pretrained(model_folder, quantize="int8")
    with pytest.raises(ValueError, match="num_threads"):
        CarSegModel.from_pretrained(model_folder, num_threads=0)
