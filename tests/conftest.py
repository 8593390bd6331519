"""Shared fixtures: real photos shipped with the project and small models built once per session."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest

from tests.hub_fixtures import hf_offline, hub, no_internet  # noqa: F401  (fixtures)

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "space" / "examples"
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def car_photo() -> Path:
    """A real 1024x680 car photo (node-opencv's car1.jpg, MIT)."""
    return EXAMPLES / "node-opencv_car1.jpg"


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained carseg model (64x64 input, random encoder) saved with save_pretrained."""
    from carseg_model import CarSegConfig, CarSegModel

    folder = tmp_path_factory.mktemp("tiny_model")
    CarSegModel(CarSegConfig(input_size=(64, 64), encoder_weights=None)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_model_folder: Path):
    from carseg_model import CarSegModel

    return CarSegModel.from_pretrained(tiny_model_folder)
