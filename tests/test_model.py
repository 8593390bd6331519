"""CarSegModel end to end: real photo files of every kind, a trained model saved, its model card.

The checks over every model variant and the API's edges are beside the module (``carseg_model/model_test.py``).
"""

from __future__ import annotations

import io
import json

import h5py
import numpy as np
from PIL import Image

from carseg_model import CarSegConfig, CarSegModel


def test_every_input_kind_gives_the_same_mask(tiny_model, car_photo):
    photo = np.asarray(Image.open(car_photo).convert("RGB"))
    encoded = tiny_model.predict(car_photo).probabilities  # a JPEG is decoded at reduced size for the network
    assert np.array_equal(tiny_model.predict(str(car_photo)).probabilities, encoded)
    assert np.array_equal(tiny_model.predict(car_photo.read_bytes()).probabilities, encoded)
    decoded = tiny_model.predict(photo).probabilities
    assert np.abs(decoded - encoded).mean() < 0.01  # reduced JPEG decoding and area resizing agree
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    for source in (Image.open(car_photo), rgba):
        assert np.array_equal(tiny_model.predict(source).probabilities, decoded)
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
    rotated = np.rot90(upright.network_probabilities, k=-1)
    assert turned.network_probabilities.shape == rotated.shape
    assert np.abs(turned.network_probabilities - rotated).mean() < 0.01


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


def test_model_card_is_rendered_from_the_template(tmp_path):
    card = {
        "model_name": "carseg-test",
        "repo_id": "me/carseg-test",
        "license": "cc-by-nc-4.0",
        "datasets": [
            {
                "name": "roboflow_car_seg",
                "train_images": 150,
                "val_images": 38,
                "car_values": "8",
                "license": "CC BY 4.0",
            }
        ],
        "evaluation_method": "Measured on the validation split at original resolution.",
        "metrics": [
            {"dataset": "roboflow_car_seg", "split": "validation", "images": 38, "dice": 0.9812, "iou": 0.9633}
        ],
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
