"""The model card: licence rules, evaluation rows and rendering (no network needed)."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard

from carseg_model.card import metric_rows, model_license, render_model_card
from carseg_model.config import CarSegConfig

CAMVID = {"name": "camvid_cars", "license": "CC BY-NC 4.0 (non-commercial)"}
ROBOFLOW = {"name": "roboflow_car_seg", "license": "CC BY 4.0"}


@pytest.mark.parametrize(
    ("licenses", "expected"),
    [
        (["CC BY 4.0", "Apache-2.0"], "apache-2.0"),
        (["CC BY 4.0", "unknown"], "other"),
        (["research use with citation"], "other"),
        (["CC BY 4.0", "CC BY-NC 4.0 (non-commercial)", "unknown"], "cc-by-nc-4.0"),
        (["cc-by-nc-4.0"], "cc-by-nc-4.0"),
    ],
)
def test_licence_from_the_data(licenses: list[str], expected: str) -> None:
    assert model_license(licenses)[0] == expected


def test_a_fine_tuned_model_keeps_the_restrictions_of_its_base() -> None:
    """The bundled model is CC BY-NC 4.0 (CamVid): fine-tuning it on open data does not lift that."""
    license, notes = model_license(["CC BY 4.0"], {"license": "cc-by-nc-4.0", "datasets": [ROBOFLOW, CAMVID]})
    assert license == "cc-by-nc-4.0"
    assert any("no commercial use" in note for note in notes)
    assert any("camvid_cars (CC BY-NC 4.0 (non-commercial))" in note for note in notes)

    # the base's licence counts even when its card lists no datasets
    assert model_license(["CC BY 4.0"], {"license": "cc-by-nc-4.0"})[0] == "cc-by-nc-4.0"
    assert model_license(["CC BY 4.0"], {"license": "other"})[0] == "other"
    assert model_license(["CC BY 4.0"], {"license": "mit"}) == (
        "other",
        ["Fine-tuned from a model released under mit, so it keeps that licence's terms."],
    )
    # and a more restrictive licence of the new data still wins
    assert model_license(["CC BY-NC 4.0"], {"license": "apache-2.0"})[0] == "cc-by-nc-4.0"
    assert model_license(["CC BY 4.0"], {})[0] == "apache-2.0"  # a card without a licence: the default


def test_metric_rows_leave_out_the_overall_row() -> None:
    summary = {"a": {"images": 2, "dice": 0.9, "iou": 0.8}, "overall": {"images": 2, "dice": 0.9, "iou": 0.8}}
    assert metric_rows(summary) == [{"dataset": "a", "split": "validation", "images": 2, "dice": 0.9, "iou": 0.8}]


def test_rendered_card() -> None:
    card = {
        "model_name": "my-carseg",
        "license": "cc-by-nc-4.0",
        "datasets": [{**CAMVID, "train_images": 3, "val_images": 1, "car_values": "8"}],
        "metrics": [{"dataset": "camvid_cars", "split": "validation", "images": 1, "dice": 0.91234, "iou": 0.8}],
        "evaluation_method": "Measured on one photo.",
        "initialised_from": "the carseg model some/base",
        "license_notes": ["No commercial use."],
    }
    text = render_model_card(CarSegConfig(card=card), parameters=1234)
    parsed = ModelCard(text)
    assert parsed.data.license == "cc-by-nc-4.0" and parsed.data.datasets == ["camvid_cars"]
    assert parsed.data.eval_results[0].metric_value == 0.9123
    assert "initialised from the carseg model some/base" in text and "ImageNet" not in text
    assert "| camvid_cars | 3 / 1 | 8 | CC BY-NC 4.0 (non-commercial) |" in text and "1,234" in text
    assert "- No commercial use." in text and "no measured metrics" not in text

    untrained = render_model_card(CarSegConfig(), parameters=1)
    assert "license: apache-2.0" in untrained and "initialised from ImageNet" in untrained
    assert "no measured metrics" in untrained and "<user>/carseg-unet-mobilenetv2" in untrained
