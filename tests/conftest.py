"""Fixtures of the end-to-end tests: the loopback Hub, and a small untrained model built once per session.

The real photo (`car_photo`) and every model variant (`variant`, `variants`) come from the repository's
top-level ``conftest.py``, shared with the unit tests beside the modules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest

from tests.support.hub_fixtures import hf_offline, hub, no_internet  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from carseg_model import CarSegModel

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "space" / "examples"
SHARED = REPO_ROOT.parent / "shared"


UNTRAINED_SEED = 0
"""Seed of the untrained test models' weights. With it they mark a little (0.1-16 %) of every example
photo; unseeded, one model in a few marks nothing, and the tests that read "Car: x %" fail at random."""


def untrained_model(size: int) -> CarSegModel:
    """An untrained carseg model (``size`` x ``size`` input, random encoder), its weights drawn from `UNTRAINED_SEED`."""
    import keras

    from carseg_model import CarSegConfig, CarSegModel

    keras.utils.set_random_seed(UNTRAINED_SEED)
    return CarSegModel(CarSegConfig(input_size=(size, size), encoder_weights=None))


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained carseg model (64x64 input, random encoder) saved with save_pretrained."""
    folder = tmp_path_factory.mktemp("tiny_model")
    untrained_model(64).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_model_folder: Path):
    from carseg_model import CarSegModel

    return CarSegModel.from_pretrained(tiny_model_folder)
