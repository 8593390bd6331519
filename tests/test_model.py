"""CarSegModel end to end on real photos: predict, save/load, errors. Runs against every model variant."""

from __future__ import annotations

import io
import json

import h5py
import numpy as np
import pytest
from PIL import Image

from carseg_model import (
    CarSegConfig,
    CarSegModel,
    ConfigError,
    ImageTooLargeError,
    InvalidImageError,
    ModelFolderError,
)

VARIANTS = {
    "batchnorm-64": CarSegConfig(input_size=(64, 64), encoder_weights=None),
    "separable-decoder-64x96": CarSegConfig(input_size=(64, 96), decoder_block="separable", encoder_weights=None),
    "instancenorm-dropout-96x64-alpha0.35": CarSegConfig(
        input_size=(96, 64), alpha=0.35, norm_type="instancenorm", decoder_dropout=True, encoder_weights=None
    ),
    "bilinear-01-scaling": CarSegConfig(
        input_size=(64, 96), encoder_weights=None, resize_method="bilinear", input_scale=1 / 255, input_offset=0.0
    ),
}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def variant(request, tmp_path_factory) -> tuple[CarSegModel, object]:
    model = CarSegModel(VARIANTS[request.param])
    folder = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(folder)
    return model, folder


class TestEveryVariant:
    """The same checks for each architecture / preprocessing variant."""

    def test_save_then_load_gives_identical_probabilities(self, variant, car_photo):
        model, folder = variant
        loaded = CarSegModel.from_pretrained(folder)
        assert loaded.config == model.config
        expected = model.predict(car_photo).probabilities
        assert np.array_equal(loaded.predict(car_photo).probabilities, expected)

    def test_folder_is_a_plain_keras_model(self, variant, car_photo):
        import keras

        model, folder = variant
        network = keras.saving.load_model(folder)  # safe_mode=True by default, no custom_objects
        batch = np.random.default_rng(1).uniform(-1, 1, (1, *model.config.input_size, 3)).astype("float32")
        np.testing.assert_allclose(np.asarray(network(batch)), np.asarray(model.network(batch)), atol=1e-6)
        assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
            "README.md",
            "carseg_config.json",
            "config.json",
            "metadata.json",
            "model.weights.h5",
        ]

    def test_model_card_describes_the_decoder(self, variant):
        model, folder = variant
        decoder = {"transpose": "`Conv2DTranspose` decoder", "separable": "depthwise-separable decoder"}
        assert decoder[model.config.decoder_block] in (folder / "README.md").read_text()

    @pytest.mark.parametrize("height, width", [(680, 1024), (333, 500), (500, 333), (17, 5)])
    def test_mask_has_the_photos_size(self, variant, car_photo, height, width):
        model, _ = variant
        photo = np.asarray(Image.open(car_photo).convert("RGB").resize((width, height)))
        result = model.predict(photo)
        assert result.mask.shape == (height, width) and result.mask.dtype == bool
        assert result.probabilities.shape == (height, width) and result.probabilities.dtype == np.float32
        assert 0.0 <= result.probabilities.min() <= result.probabilities.max() <= 1.0


def test_every_input_kind_gives_the_same_mask(tiny_model, car_photo):
    photo = np.asarray(Image.open(car_photo).convert("RGB"))
    expected = tiny_model.predict(car_photo).probabilities
    for source in (str(car_photo), car_photo.read_bytes(), Image.open(car_photo), photo):
        assert np.array_equal(tiny_model.predict(source).probabilities, expected)
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    assert np.array_equal(tiny_model.predict(rgba).probabilities, expected)
    gray = tiny_model.predict(photo[:, :, 1])
    assert gray.mask.shape == photo.shape[:2]


def test_exif_rotated_photo_gives_a_rotated_mask(tiny_model, car_photo):
    photo = Image.open(car_photo).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; viewers rotate it 90° clockwise
    plain, rotated = io.BytesIO(), io.BytesIO()
    photo.save(plain, "JPEG", quality=95)
    photo.save(rotated, "JPEG", quality=95, exif=exif)
    upright = tiny_model.predict(plain.getvalue())
    turned = tiny_model.predict(rotated.getvalue())
    assert turned.mask.shape == (photo.width, photo.height)
    assert np.array_equal(turned.image, np.rot90(upright.image, k=-1))
    assert np.array_equal(turned.mask, tiny_model.predict(np.rot90(upright.image, k=-1)).mask)


def test_predict_batch_matches_single_predictions_without_retracing(tiny_model, car_photo):
    photo = np.asarray(Image.open(car_photo).convert("RGB"))
    photos = [photo, photo[::2, ::3], photo[:300], np.ascontiguousarray(photo[:, ::-1]), photo[100:, 200:]]
    batched = tiny_model.predict_batch(photos, batch_size=2)
    assert len(batched) == len(photos)
    for result, source in zip(batched, photos):
        np.testing.assert_allclose(result.probabilities, tiny_model.predict(source).probabilities, atol=1e-5)
    assert tiny_model._backend._call.experimental_get_tracing_count() == 1


def test_threshold_default_and_override(tiny_model, car_photo):
    default = tiny_model.predict(car_photo)
    assert default.threshold == tiny_model.config.threshold
    high = tiny_model.predict(car_photo, threshold=0.9)
    assert np.array_equal(high.mask, default.probabilities > 0.9)
    with pytest.raises(ValueError, match="threshold"):
        tiny_model.predict(car_photo, threshold=-0.1)


def test_bad_inputs_raise_value_errors(tiny_model, tmp_path, car_photo):
    truncated = car_photo.read_bytes()[:20_000]
    for source in (b"not an image", truncated, np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 5), np.uint8)):
        with pytest.raises(InvalidImageError):
            tiny_model.predict(source)
    small_limit = CarSegModel(
        CarSegConfig(input_size=(64, 64), encoder_weights=None, max_pixels=1000), tiny_model.network
    )
    with pytest.raises(ImageTooLargeError, match="above the limit"):
        small_limit.predict(car_photo)
    with pytest.raises(ValueError, match="batch_size"):
        tiny_model.predict_batch([car_photo], batch_size=0)


def test_saved_weights_have_no_optimizer_state(tmp_path, car_photo):
    from carseg_model.losses import dice_loss

    model = CarSegModel(CarSegConfig(input_size=(64, 64), encoder_weights=None))
    model.network.compile(optimizer="adam", loss=dice_loss)
    model.network.fit(np.zeros((2, 64, 64, 3), "float32"), np.ones((2, 64, 64, 1), "float32"), verbose=0)
    model.save_pretrained(tmp_path)
    with h5py.File(tmp_path / "model.weights.h5") as weights:
        assert "optimizer" not in weights
    assert not json.loads((tmp_path / "config.json").read_text()).get("compile_config")
    assert np.array_equal(
        CarSegModel.from_pretrained(tmp_path).predict(car_photo).probabilities, model.predict(car_photo).probabilities
    )


def test_loading_errors_say_what_is_missing(tmp_path, tiny_model_folder):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        CarSegModel.from_pretrained(tmp_path / "does-not-exist")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        CarSegModel.from_pretrained("./models/carseg")
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "carseg_config.json").write_text((tiny_model_folder / "carseg_config.json").read_text())
    with pytest.raises(ModelFolderError, match="missing config.json, metadata.json, model.weights.h5"):
        CarSegModel.from_pretrained(incomplete)
    newer = tmp_path / "newer"
    newer.mkdir()
    for file in tiny_model_folder.iterdir():
        if file.is_file():
            (newer / file.name).write_bytes(file.read_bytes())
    config = json.loads((newer / "carseg_config.json").read_text())
    (newer / "carseg_config.json").write_text(json.dumps(config | {"format_version": 2}))
    with pytest.raises(ConfigError, match="format_version"):
        CarSegModel.from_pretrained(newer)


def test_model_card_is_rendered_from_the_template(tmp_path):
    card = {
        "model_name": "carseg-test",
        "repo_id": "me/carseg-test",
        "license": "cc-by-nc-4.0",
        "datasets": [{"name": "roboflow_car_seg", "train_images": 150, "val_images": 38, "car_values": "8", "license": "CC BY 4.0"}],
        "evaluation_method": "Measured on the validation split at original resolution.",
        "metrics": [{"dataset": "roboflow_car_seg", "split": "validation", "images": 38, "dice": 0.9812, "iou": 0.9633}],
        "license_notes": ["CamVid is CC BY-NC 4.0: non-commercial use only."],
    }
    model = CarSegModel(CarSegConfig(input_size=(64, 64), encoder_weights=None, card=card))
    model.save_pretrained(tmp_path)
    text = (tmp_path / "README.md").read_text()
    from huggingface_hub import ModelCard

    data = ModelCard(text).data
    assert data.library_name == "keras" and data.pipeline_tag == "image-segmentation"
    assert data.license == "cc-by-nc-4.0" and data.datasets == ["roboflow_car_seg"]
    results = {r.metric_type: r.metric_value for r in data.eval_results}
    assert results == {"dice": 0.9812, "iou": 0.9633}
    assert "| roboflow_car_seg | validation | 38 | 0.9812 | 0.9633 |" in text
    assert "me/carseg-test" in text and "non-commercial" in text
    assert "no measured metrics" not in text


def test_test_time_flip_averages_the_mirrored_prediction(tiny_model, car_photo):
    from dataclasses import replace

    flipping = CarSegModel(replace(tiny_model.config, test_time_flip=True), tiny_model.network)
    photo = np.asarray(Image.open(car_photo).convert("RGB"))
    plain = tiny_model.predict(photo).probabilities
    mirrored = tiny_model.predict(np.ascontiguousarray(photo[:, ::-1])).probabilities[:, ::-1]
    np.testing.assert_allclose(flipping.predict(photo).probabilities, (plain + mirrored) / 2, atol=1e-5)
