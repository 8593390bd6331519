"""End-to-end tests of `train.py` on the tiny datasets of `tests.support.tiny_datasets` (a training run takes seconds).

Runs use ``--encoder-weights none --input-size 64``. The pieces have unit tests beside them
(``carseg_model/datasets_test.py``, ``carseg_model/training/*_test.py``).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carseg_model.teachers import TEACHER_FILES
from tests.conftest import SHARED
from tests.support.tiny_datasets import CAR_LABEL, PHOTO_SIZE, STREET_NAMES, make_bad_street, make_datasets
from tests.support.tiny_negatives import make_negatives

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "train.py"
TINY_RUN = ["--input-size", "64", "--encoder-weights", "none", "--batch-size", "8", "--seed", "7"]
FROZEN = ["--freeze-encoder-epochs", "2"]  # epochs 1-2 train the decoder only, later ones the whole network
RUN_TIMEOUT_S = 600
TEACHERS = SHARED / "teachers"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_datasets(tmp_path_factory.mktemp("data"))


def data_args(data: Path) -> list[str]:
    return [
        "--data",
        str(data / "carvana"),
        "--data",
        str(data / "street"),
        "--car-values",
        "any",
        "--car-values",
        str(CAR_LABEL),
    ]


@pytest.fixture
def bad_street(data: Path, tmp_path: Path) -> Path:
    return make_bad_street(data / "street", tmp_path / "bad_street")


# ------------------------------------------------------------------------------------------------ training runs
def run_train(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TRAIN_SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )


def check(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"train.py failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def training_log(run: Path) -> list[dict[str, float]]:
    with open(run / "training_log.csv", newline="") as file:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]


@pytest.fixture(scope="module")
def trained_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs with the encoder frozen (the reference for the seed and resume tests) on both datasets."""
    run = tmp_path_factory.mktemp("runs") / "trained"
    check(run_train(*data_args(data), *TINY_RUN, "--epochs", "2", *FROZEN, "--output", str(run)))
    return run


# ------------------------------------------------------------------------------------------------ bad data
def test_a_run_stopped_by_bad_files_can_be_run_again(bad_street: Path, tmp_path: Path) -> None:
    """The bad files are listed, and the failed run leaves no run_config.json: the same --output then works."""
    run = tmp_path / "run"
    result = run_train(
        "--data", str(bad_street), "--car-values", str(CAR_LABEL), *TINY_RUN, "--epochs", "1", "--output", str(run)
    )
    assert not (run / "run_config.json").exists()
    assert result.returncode == 2
    assert "lonely_photo.png: no mask" in result.stderr and "--skip-bad" in result.stderr
    assert "Traceback" not in result.stderr
    resumed = run_train("--resume", str(run))
    assert resumed.returncode == 2 and "run_config.json does not exist" in resumed.stderr

    # the same command with --skip-bad (and two CPU replicas, to exercise the mirrored strategy)
    result = check(
        run_train(
            "--data",
            str(bad_street),
            "--car-values",
            str(CAR_LABEL),
            *TINY_RUN,
            "--epochs",
            "1",
            "--strategy",
            "mirrored",
            "--skip-bad",
            "--output",
            str(run),
        )
    )
    assert "2 replica(s)" in result.stdout
    assert "lonely_photo.png" in result.stderr and "Skipping them" in result.stderr
    assert len(training_log(run)) == 1 and (run / "model" / "README.md").exists()


def test_missing_imagenet_weights_name_the_option(data: Path, tmp_path: Path) -> None:
    """No internet and no cached ImageNet weights: one error line that names --encoder-weights, nothing left behind."""
    offline = dict(
        os.environ,
        KERAS_HOME=str(tmp_path / "keras"),
        HTTPS_PROXY="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        HTTP_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
    )
    run = tmp_path / "run"
    result = run_train(*data_args(data), "--input-size", "64", "--epochs", "1", "--output", str(run), env=offline)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "could not get the ImageNet MobileNetV2 weights" in result.stderr and "--encoder-weights" in result.stderr
    assert not (run / "run_config.json").exists()


# ------------------------------------------------------------------------------------------------ training
def test_training_run_writes_every_output(data: Path, trained_run: Path) -> None:
    from carseg_model import CarSegModel

    log = training_log(trained_run)
    assert [row["epoch"] for row in log] == [0, 1]
    assert log[-1]["loss"] < log[0]["loss"]
    assert {"dice_coef", "iou_coef", "val_loss", "val_dice_coef", "val_iou_coef"} <= log[0].keys()
    checkpoints = sorted(p.name for p in (trained_run / "checkpoints").iterdir())
    assert (
        len(checkpoints) == 2 and checkpoints[0].startswith("best_epoch_") and checkpoints[1] == "epoch_002.weights.h5"
    )
    assert sorted(p.name for p in (trained_run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert (trained_run / "training_curves.png").stat().st_size > 0

    metrics = json.loads((trained_run / "metrics.json").read_text())
    summary = metrics["summary"]
    assert set(summary) == {"carvana", "street", "overall"}
    assert (
        summary["overall"]["images"]
        == len(metrics["images"])
        == summary["carvana"]["images"] + summary["street"]["images"]
    )
    assert all(0.0 <= image["dice"] <= 1.0 for image in metrics["images"])

    readme = (trained_run / "model" / "README.md").read_text()
    assert f"{summary['street']['dice']:.4f}" in readme and f"{summary['carvana']['dice']:.4f}" in readme
    assert "--car-values 8" in readme and "license: other" in readme  # unknown licence of `carvana`

    model = CarSegModel.from_pretrained(trained_run / "model")
    assert model.predict(data / "street" / "images" / f"{STREET_NAMES[0]}.png").mask.shape == PHOTO_SIZE


def test_same_seed_gives_the_same_first_epoch(data: Path, trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "again"
    check(run_train(*data_args(data), *TINY_RUN, "--epochs", "1", *FROZEN, "--output", str(run)))
    assert training_log(run)[0]["loss"] == training_log(trained_run)[0]["loss"]
    assert training_log(run)[0]["val_loss"] == training_log(trained_run)[0]["val_loss"]


def test_init_from_a_trained_model_fine_tunes_it_and_keeps_its_licence(
    data: Path, trained_run: Path, tmp_path: Path
) -> None:
    """A fine-tuned model starts from the trained one, and its card carries that model's licence and provenance."""
    base = Path(shutil.copytree(trained_run / "model", tmp_path / "base"))
    config = json.loads((base / "carseg_config.json").read_text())
    config["encoder_weights"] = "imagenet"  # as in the bundled model, trained from ImageNet on CamVid (CC BY-NC)
    config["card"].update(
        license="cc-by-nc-4.0", datasets=[{"name": "camvid_cars", "license": "CC BY-NC 4.0 (non-commercial)"}]
    )
    (base / "carseg_config.json").write_text(json.dumps(config))
    run = tmp_path / "finetuned"
    check(
        run_train(
            *data_args(data),
            "--data-license",
            "CC BY 4.0",
            "--data-license",
            "CC BY 4.0",
            "--init-from",
            str(base),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--seed",
            "1",
            "--output",
            str(run),
        )
    )
    tuned = json.loads((run / "model" / "carseg_config.json").read_text())
    assert tuned["input_size"] == config["input_size"]
    # the fine-tune starts where the trained model ended, not from scratch
    assert training_log(run)[0]["loss"] < training_log(trained_run)[0]["loss"]
    readme = (run / "model" / "README.md").read_text()
    assert "license: cc-by-nc-4.0" in readme and "camvid_cars (CC BY-NC 4.0 (non-commercial))" in readme
    assert f"initialised from the carseg model {base}" in readme and "initialised from ImageNet" not in readme


def test_killed_run_resumes_where_it_stopped(data: Path, trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "killed"
    command = [
        sys.executable,
        str(TRAIN_SCRIPT),
        *data_args(data),
        *TINY_RUN,
        "--epochs",
        "3",
        *FROZEN,
        "--output",
        str(run),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not (run / "checkpoints" / "epoch_001.weights.h5").exists():
            assert process.poll() is None, "train.py ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    resumed = check(run_train("--resume", str(run)))
    assert "Resuming after epoch 1" in resumed.stdout and "Epochs 3-3: training the whole network" in resumed.stdout
    log = training_log(run)
    assert [row["epoch"] for row in log] == [0, 1, 2]
    # Epoch 2 of the resumed run sees the same batches and Adam state as in the uninterrupted run.
    assert log[1]["loss"] == pytest.approx(training_log(trained_run)[1]["loss"], rel=1e-5)
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 3
    assert (run / "model" / "model.weights.h5").exists()


def test_scenes_with_negatives_and_teachers_make_an_aspect_true_model(
    data: Path, trained_run: Path, tmp_path: Path
) -> None:
    """Stage 3 of scripts/train_release.sh in small: the trained model fine-tuned on scenes, car-free photos and
    (where ../shared/teachers exists) the teachers' targets, saved as a keep_aspect model."""
    negatives = make_negatives(tmp_path / "negatives")
    teachers = ["--teachers", str(TEACHERS)] if (TEACHERS / TEACHER_FILES["voc"][0]).is_file() else []
    run = tmp_path / "scenes"
    result = check(
        run_train(
            *data_args(data),
            *("--data-every", "1", "--data-every", "2"),
            *("--init-from", str(trained_run / "model"), "--input-size", "64x96", "--input-shape", "keep_aspect"),
            *("--scenes", "--crop", "64x96", "--negatives", str(negatives / "people"), "--negatives"),
            *(str(negatives / "plain"), "--negatives-license", "CC0", "--negatives-license", "CC0"),
            *teachers,
            *("--epochs", "1", "--batch-size", "8", "--seed", "7", "--lr-schedule", "cosine", "--output", str(run)),
        )
    )
    config = json.loads((run / "model" / "carseg_config.json").read_text())
    assert config["input_shape"] == "keep_aspect" and config["input_size"] == [64, 96]
    people = 8 if teachers else 7  # without teachers, the photo that may show cars is left out
    assert f"training: {12 + people + 3 + 6} photos (carvana 12, people {people}, plain 3, street 6)" in result.stdout
    summary = json.loads((run / "metrics.json").read_text())["summary"]
    assert summary["people"]["car_free_images"] >= 1  # held-out car-free photos are scored
    readme = (run / "model" / "README.md").read_text()
    assert "| people | " in readme and "| plain | 3 / 0 |" in readme and "scenes (--scenes): 64x96 crops" in readme
    assert "cosine decay" in readme and "| street training photos | 1 in 2 (--data-every 2) |" in readme
    if teachers:
        assert (run / "teacher_cache.npz").is_file() and "teachers: " in result.stdout and "distillation" in readme

    from carseg_model import CarSegModel

    model = CarSegModel.from_pretrained(run / "model")
    assert model.predict(data / "street" / "images" / f"{STREET_NAMES[0]}.png").mask.shape == PHOTO_SIZE


def test_a_stretch_model_trains_on_its_input_size_only(data: Path, tmp_path: Path) -> None:
    result = run_train(*data_args(data), *TINY_RUN, "--scenes", "--crop", "64x96", "--output", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--crop 64x96: a stretch model only sees its input size 64x64" in result.stderr


def test_resume_takes_no_other_options(tmp_path: Path) -> None:
    result = run_train("--resume", str(tmp_path), "--epochs", "3")
    assert result.returncode == 2 and "--resume takes no other options" in result.stderr


def test_push_to_hub(data: Path, tmp_path: Path, hub) -> None:  # noqa: ANN001 - the `hub` fixture's HubServer
    from tests.support.hub_fixtures import FAKE_TOKEN

    run = tmp_path / "pushed"
    result = check(
        run_train(
            *data_args(data),
            *TINY_RUN,
            "--epochs",
            "1",
            "--output",
            str(run),
            "--push-to-hub",
            "user/carseg-tiny",
            env=dict(os.environ),
        )
    )
    files = hub.repo_files("user/carseg-tiny")
    assert {"README.md", "model.weights.h5", "carseg_config.json", "config.json"} <= files.keys()
    readme = files["README.md"].decode()
    dice = json.loads((run / "metrics.json").read_text())["summary"]["street"]["dice"]
    assert f"{dice:.4f}" in readme and 'CarSegModel.from_pretrained("user/carseg-tiny")' in readme
    for text in (result.stdout, result.stderr, readme, (run / "run_config.json").read_text()):
        assert FAKE_TOKEN not in text
