"""The trained models that ship with carseg: load offline by name and find the cars in the example photos."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carseg_model import DEFAULT_MODEL, CarSegModel, bundled_models
from carseg_model.evaluation import mask_scores
from tests.conftest import EXAMPLES, REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures"
BUNDLED_DIR = Path(DEFAULT_MODEL).parent


def test_default_model_is_bundled_and_loads_by_name():
    assert Path(DEFAULT_MODEL).name in bundled_models()
    assert CarSegModel.from_pretrained(Path(DEFAULT_MODEL).name).config == CarSegModel.from_pretrained().config


@pytest.fixture(scope="module", params=bundled_models())
def bundled(request) -> CarSegModel:
    return CarSegModel.from_pretrained(request.param)


@pytest.mark.parametrize("photo", ["node-opencv_car1", "node-opencv_car2"])
def test_mask_matches_the_reference_checked_by_eye(bundled, photo):
    result = bundled.predict(EXAMPLES / f"{photo}.jpg")
    reference = np.asarray(Image.open(FIXTURES / f"{photo}_mask.png")) > 127
    dice, _ = mask_scores(reference, result.mask)
    assert result.mask.shape == reference.shape
    assert dice >= 0.95, f"Dice {dice:.4f} against the reference mask"


def test_photo_without_a_car_gets_almost_no_car(bundled):
    assert bundled.predict(EXAMPLES / "opencv-doc_fruits.jpg").car_fraction < 0.02


def test_bundled_folder_is_what_the_hub_gets(bundled):
    folder = BUNDLED_DIR / bundled.config.card["model_name"]
    files = sorted(p.name for p in folder.iterdir())
    keras_files = ["README.md", "carseg_config.json", "config.json", "metadata.json", "model.weights.h5"]
    assert files in (keras_files, sorted([*keras_files, "model.onnx"]))  # the default model ships its ONNX export
    assert sum((folder / name).stat().st_size for name in keras_files) < 30_000_000
    card = (folder / "README.md").read_text()
    assert "non-commercial" in card.lower() and "model-index" in card
    assert bundled.config.card["metrics"], "the bundled model's card must carry measured metrics"


def test_readme_usage_example_runs_as_written(tmp_path):
    readme = (REPO_ROOT / "README.md").read_text()
    code = re.search(r"## Use the model from Python\n\n```python\n(.*?)```", readme, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code.replace('"space/', f'"{REPO_ROOT}/space/'))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "car" in done.stdout
    for name in ("overlay.jpg", "cutout.png", "mask.png"):
        assert Image.open(tmp_path / name).size == (1024, 680)
    with Image.open(tmp_path / "cutout.png") as cutout:
        assert cutout.mode == "RGBA"


@pytest.mark.parametrize(
    ("photo", "most_car"),
    [("opencv-doc_scenetext01", 0.09), ("darknet_dog", 0.03)],  # carseg 0.1 marked 12.8 % and 15.1 %
)
def test_default_model_marks_the_car_and_not_people_dogs_bicycles_or_walls(photo, most_car):
    """References checked by eye on full-size overlays: the parked car and the pickup are marked; the two
    pedestrians, the dog, the bicycle, the porch wall and the street are not."""
    result = CarSegModel.from_pretrained().predict(EXAMPLES / f"{photo}.jpg")
    reference = np.asarray(Image.open(FIXTURES / f"{photo}_mask.png")) > 127
    dice, _ = mask_scores(reference, result.mask)
    assert dice >= 0.95, f"Dice {dice:.4f} against the reference mask"
    assert 0.005 < result.car_fraction < most_car


def test_the_bundled_onnx_export_is_the_same_network():
    """The CLI runs the bundled model's model.onnx by default: it must be exported from these very weights."""
    keras_model = CarSegModel.from_pretrained()
    onnx_model = CarSegModel.from_pretrained(backend="onnx")
    for photo in sorted(EXAMPLES.glob("*.jpg")):
        expected = keras_model.predict(photo).network_probabilities
        assert np.abs(onnx_model.predict(photo).network_probabilities - expected).max() < 1e-3, photo.name


def test_the_cli_runs_the_bundled_model_without_tensorflow(tmp_path):
    script = (
        "import sys\nfrom carseg_model.cli import main\n"
        f"code = main(['predict', {str(EXAMPLES / 'node-opencv_car1.jpg')!r}, '--out', {str(tmp_path)!r}])\n"
        "assert code == 0 and 'tensorflow' not in sys.modules, code\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "node-opencv_car1_mask.png").is_file()
