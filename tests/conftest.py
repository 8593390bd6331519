"""Fixtures of the end-to-end tests: the loopback Hub, and a small untrained model built once per session.

The real photo (`car_photo`) and every model variant (`variant`, `variants`) come from the repository's
top-level ``conftest.py``, shared with the unit tests beside the modules.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest

from tests.support.hub_fixtures import hf_offline, hub, no_internet  # noqa: F401  (fixtures)

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "space" / "examples"
SHARED = REPO_ROOT.parent / "shared"


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
