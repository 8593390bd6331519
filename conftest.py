"""Fixtures shared by the unit tests beside the modules (``carseg_model/*_test.py``) and the end-to-end tests
(``tests/``): a real photo, and every model variant built, saved and exported at most once per session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from carseg_model.config import CarSegConfig

REPO_ROOT = Path(__file__).resolve().parent
CAR_PHOTO = REPO_ROOT / "space" / "examples" / "node-opencv_car1.jpg"
"""A real 1024x680 car photo (node-opencv's car1.jpg, MIT)."""

VARIANTS = {
    "transpose-64x64": CarSegConfig(input_size=(64, 64), encoder_weights=None),
    "separable-64x96-bilinear-01": CarSegConfig(
        input_size=(64, 96),
        decoder_block="separable",
        resize_method="bilinear",
        input_scale=1 / 255,
        input_offset=0.0,
        encoder_weights=None,
    ),
    "transpose-96x64-instancenorm-dropout-alpha0.35": CarSegConfig(
        input_size=(96, 64), alpha=0.35, norm_type="instancenorm", decoder_dropout=True, encoder_weights=None
    ),
}
"""Every architecture and preprocessing option, at the smallest sizes (random encoder weights)."""


@dataclass(frozen=True)
class Variant:
    """One model variant: the model in memory and the folder `save_pretrained` wrote it to."""

    name: str
    model: object  # CarSegModel (imported lazily: TensorFlow loads only when a test needs a model)
    folder: Path


class VariantCache:
    """Builds, saves and exports each variant on first use and hands out the same objects afterwards."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._variants: dict[str, Variant] = {}
        self._exported: set[tuple[str, str, str | None]] = set()

    def get(self, name: str) -> Variant:
        """The variant ``name`` of `VARIANTS`, saved with save_pretrained.

        Its mask head is scaled so probabilities span ~0.05..0.97: an untrained network sits
        at 0.5 +- 0.01, where thresholds and export errors would show nothing.
        """
        if name not in self._variants:
            from carseg_model import CarSegModel

            model = CarSegModel(VARIANTS[name])
            head = model.network.get_layer("mask_head")
            kernel, bias = head.get_weights()
            head.set_weights([kernel * 200, bias])
            folder = self._root / "saved" / name
            model.save_pretrained(folder)
            self._variants[name] = Variant(name, model, folder)
        return self._variants[name]

    def exported(self, name: str, format: str, quantize: str | None = None) -> Path:
        """The folder holding the variant's exports (and its ``carseg_config.json``), with this one written."""
        folder = self._root / "exported" / name
        if (name, format, quantize) not in self._exported:
            self.get(name).model.export(folder, format=format, quantize=quantize)
            self._exported.add((name, format, quantize))
        return folder


@pytest.fixture(scope="session")
def car_photo() -> Path:
    """A real 1024x680 car photo (node-opencv's car1.jpg, MIT)."""
    return CAR_PHOTO


@pytest.fixture(scope="session")
def variants(tmp_path_factory: pytest.TempPathFactory) -> VariantCache:
    return VariantCache(tmp_path_factory.mktemp("variants"))


@pytest.fixture(scope="session", params=list(VARIANTS))
def variant(request: pytest.FixtureRequest, variants: VariantCache) -> Variant:
    """Each model variant in turn (tests using it run once per variant)."""
    return variants.get(request.param)
