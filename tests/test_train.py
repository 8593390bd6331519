"""Tests of `carseg_model.datasets` and `train.py` on tiny datasets made here (a training run takes seconds).

Two datasets of 96x72 photos, random backgrounds with a red ellipse "car":

* ``carvana/``: Kaggle layout, ``train/<car id>_<NN>.jpg`` + ``train_masks/<car id>_<NN>_mask.gif`` (car = 1);
* ``street/``: ``images/`` + ``masks/`` with CamVid-style names ``<sequence>_<frame>.png`` and label masks
  (car = 8, sky = 1, road = 3, a "building" = 9).

Runs use ``--encoder-weights none --input-size 64``.
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

import cv2
import numpy as np
import pytest
from PIL import Image

from carseg_model import CarSegConfig, datasets
from carseg_model.datasets import DatasetError, DatasetSource, GroupKey

ROOT = Path(__file__).resolve().parents[1]
TRAIN_SCRIPT = ROOT / "train.py"
PHOTO_SIZE = (72, 96)  # height, width
CAR_COLOR = (220, 30, 30)
CAR_LABEL = 8
CAR_IDS = ("0a1b2c3d4e5f", "11aa22bb33cc", "abcdef012345", "fedcba987654")
STREET_NAMES = [f"0001TP_{6690 + 150 * k:06d}" for k in range(8)] + [f"0016E5_{4350 + 150 * k:05d}" for k in range(8)]
TINY_RUN = ["--input-size", "64", "--encoder-weights", "none", "--batch-size", "8", "--seed", "7"]
FROZEN = ["--freeze-encoder-epochs", "2"]  # epochs 1-2 train the decoder only, later ones the whole network
RUN_TIMEOUT_S = 600


# ------------------------------------------------------------------------------------------------ data
def make_photo(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A photo (uint8 RGB) with a red ellipse on a random background, and the ellipse's bool mask."""
    height, width = PHOTO_SIZE
    background = rng.integers(0, 160, size=3)
    photo = np.clip(background + rng.normal(0, 12, size=(height, width, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    center = (int(rng.integers(30, width - 30)), int(rng.integers(25, height - 25)))
    axes = (int(rng.integers(15, 28)), int(rng.integers(10, 20)))
    cv2.ellipse(mask, center, axes, 0, 0, 360, 1, thickness=-1)
    photo[mask.astype(bool)] = CAR_COLOR
    return photo, mask.astype(bool)


def make_carvana(root: Path, rng: np.random.Generator) -> None:
    (root / "train").mkdir(parents=True)
    (root / "train_masks").mkdir()
    for car in CAR_IDS:
        for view in range(1, 5):
            photo, mask = make_photo(rng)
            Image.fromarray(photo).save(root / "train" / f"{car}_{view:02d}.jpg", quality=95)
            gif = Image.fromarray(mask.astype(np.uint8), mode="L").convert("P")
            gif.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
            gif.save(root / "train_masks" / f"{car}_{view:02d}_mask.gif")


def make_street(root: Path, rng: np.random.Generator) -> None:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name in STREET_NAMES:
        photo, mask = make_photo(rng)
        labels = np.full(PHOTO_SIZE, 3, np.uint8)
        labels[:10] = 1
        labels[10:30, :12] = 9
        labels[mask] = CAR_LABEL
        Image.fromarray(photo).save(root / "images" / f"{name}.png")
        Image.fromarray(labels).save(root / "masks" / f"{name}.png")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    make_carvana(root / "carvana", rng)
    make_street(root / "street", rng)
    return root


def data_args(data: Path) -> list[str]:
    return ["--data", str(data / "carvana"), "--data", str(data / "street"), "--car-values", "any",
            "--car-values", str(CAR_LABEL)]


@pytest.fixture
def bad_street(data: Path, tmp_path: Path) -> Path:
    """The street dataset plus a photo without mask, a mask without photo, a corrupt photo and a truncated one."""
    root = shutil.copytree(data / "street", tmp_path / "bad_street")
    shutil.copy(root / "images" / f"{STREET_NAMES[0]}.png", root / "images" / "lonely_photo.png")
    shutil.copy(root / "masks" / f"{STREET_NAMES[0]}.png", root / "masks" / "lonely_mask.png")
    (root / "images" / "corrupt.png").write_bytes(b"this is not a png")
    shutil.copy(root / "masks" / f"{STREET_NAMES[0]}.png", root / "masks" / "corrupt.png")
    whole = (root / "images" / f"{STREET_NAMES[1]}.png").read_bytes()
    (root / "images" / "truncated.png").write_bytes(whole[: len(whole) // 2])
    shutil.copy(root / "masks" / f"{STREET_NAMES[1]}.png", root / "masks" / "truncated.png")
    return root


# ------------------------------------------------------------------------------------------------ training runs
def run_train(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TRAIN_SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)


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


# ------------------------------------------------------------------------------------------------ discovery
def test_each_layout_is_detected(data: Path) -> None:
    assert datasets.detect_layout(data / "carvana")[0] == "carvana"
    assert datasets.detect_layout(data / "street")[0] == "images+masks"
    carvana, _ = datasets.find_samples(DatasetSource(data / "carvana"))
    street, _ = datasets.find_samples(DatasetSource(data / "street", (CAR_LABEL,)))
    assert len(carvana) == 16 and len(street) == 16
    assert carvana[0].mask_path.name == carvana[0].image_path.stem + "_mask.gif"
    with pytest.raises(DatasetError, match="train/ \\+ train_masks/"):
        datasets.detect_layout(data)


def test_car_values_select_the_car_label(data: Path) -> None:
    sample = datasets.find_samples(DatasetSource(data / "street", (CAR_LABEL,)))[0][0]
    car = datasets.load_mask(sample)
    photo = np.asarray(Image.open(sample.image_path))
    assert car.shape == PHOTO_SIZE and car.any()
    assert (photo[car] == CAR_COLOR).all()
    assert datasets.load_mask(datasets.Sample(sample.image_path, sample.mask_path, "street", None)).all()


def test_group_keys() -> None:
    assert datasets.group_key("0a1b2c3d4e5f_07") == GroupKey("", "0a1b2c3d4e5f")
    assert datasets.group_key("0001TP_006690") == GroupKey("0001TP", "0001TP/22")
    assert datasets.group_key("0001TP_006930") == GroupKey("0001TP", "0001TP/23")
    assert datasets.group_key("0016E5_04350") == GroupKey("0016E5", "0016E5/14")
    assert datasets.group_key("red-car_png.rf.2ccb926c61334b28b1367e4bfdbc679b") == GroupKey("", "red-car_png")
    assert datasets.group_key("car10") == GroupKey("", "car10")


def test_group_split_has_no_overlap(data: Path) -> None:
    samples = (datasets.find_samples(DatasetSource(data / "carvana"))[0]
               + datasets.find_samples(DatasetSource(data / "street", (CAR_LABEL,)))[0])
    train, val = datasets.split_by_group(samples, 0.2, seed=3)
    assert len(train) + len(val) == len(samples) and val
    assert not {s.group for s in train} & {s.group for s in val}
    assert {s.image_path.stem[:12] for s in train if s.dataset == "carvana"}.isdisjoint(
        s.image_path.stem[:12] for s in val if s.dataset == "carvana")
    for sequence in ("0001TP", "0016E5"):  # each sequence on both sides, in whole blocks
        assert any(s.group.stratum == sequence for s in train) and any(s.group.stratum == sequence for s in val)
    assert datasets.split_by_group(samples, 0.2, seed=3) == (train, val)


# ------------------------------------------------------------------------------------------------ bad files
def test_bad_pairs_are_listed_in_one_error(bad_street: Path) -> None:
    source = DatasetSource(bad_street, (CAR_LABEL,))
    with pytest.raises(DatasetError) as raised:
        datasets.find_samples(source)
    message = str(raised.value)
    for name in ("lonely_photo.png: no mask", "lonely_mask.png: no photo", "corrupt.png: cannot be opened"):
        assert name in message
    assert "--skip-bad" in message and len(raised.value.problems) == 3

    samples, skipped = datasets.find_samples(source, skip_bad=True)
    assert len(skipped) == 3 and len(samples) == 17  # the truncated photo's header still reads
    config = CarSegConfig(input_size=(64, 64), encoder_weights=None)
    with pytest.raises(DatasetError, match="truncated.png"):
        datasets.load_cache(samples, config)
    assert len(datasets.load_cache(samples, config, skip_bad=True)) == 16


def test_train_stops_with_the_list_of_bad_files(bad_street: Path, tmp_path: Path) -> None:
    result = run_train("--data", str(bad_street), *TINY_RUN, "--output", str(tmp_path / "run"))
    assert result.returncode != 0
    assert "lonely_photo.png: no mask" in result.stderr and "--skip-bad" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------------ training
def test_training_run_writes_every_output(data: Path, trained_run: Path) -> None:
    from carseg_model import CarSegModel

    log = training_log(trained_run)
    assert [row["epoch"] for row in log] == [0, 1]
    assert log[-1]["loss"] < log[0]["loss"]
    assert {"dice_coef", "iou_coef", "val_loss", "val_dice_coef", "val_iou_coef"} <= log[0].keys()
    checkpoints = sorted(p.name for p in (trained_run / "checkpoints").iterdir())
    assert len(checkpoints) == 2 and checkpoints[0].startswith("best_epoch_") and checkpoints[1] == "epoch_002.weights.h5"
    assert sorted(p.name for p in (trained_run / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert (trained_run / "training_curves.png").stat().st_size > 0

    metrics = json.loads((trained_run / "metrics.json").read_text())
    summary = metrics["summary"]
    assert set(summary) == {"carvana", "street", "overall"}
    assert summary["overall"]["images"] == len(metrics["images"]) == summary["carvana"]["images"] + summary["street"]["images"]
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


def test_init_from_a_trained_model_fine_tunes_it(data: Path, trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "finetuned"
    check(run_train(*data_args(data), "--init-from", str(trained_run / "model"), "--epochs", "1",
                    "--batch-size", "8", "--seed", "1", "--output", str(run)))
    base = json.loads((trained_run / "model" / "carseg_config.json").read_text())
    tuned = json.loads((run / "model" / "carseg_config.json").read_text())
    assert tuned["input_size"] == base["input_size"]
    # the fine-tune starts where the trained model ended, not from scratch
    assert training_log(run)[0]["loss"] < training_log(trained_run)[0]["loss"]
    assert "the carseg model" in (run / "model" / "README.md").read_text()


def test_killed_run_resumes_where_it_stopped(data: Path, trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "killed"
    command = [sys.executable, str(TRAIN_SCRIPT), *data_args(data), *TINY_RUN, "--epochs", "3", *FROZEN,
               "--output", str(run)]
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


def test_resume_takes_no_other_options(tmp_path: Path) -> None:
    result = run_train("--resume", str(tmp_path), "--epochs", "3")
    assert result.returncode == 2 and "--resume takes no other options" in result.stderr


def test_mirrored_strategy_on_two_cpu_replicas_skipping_bad_files(bad_street: Path, tmp_path: Path) -> None:
    run = tmp_path / "mirrored"
    result = check(run_train("--data", str(bad_street), "--car-values", str(CAR_LABEL), *TINY_RUN, "--epochs", "1",
                             "--strategy", "mirrored", "--skip-bad", "--output", str(run)))
    assert "2 replica(s)" in result.stdout
    assert "lonely_photo.png" in result.stderr and "Skipping them" in result.stderr
    assert len(training_log(run)) == 1 and (run / "model" / "README.md").exists()


def test_command_line_secrets_are_redacted() -> None:
    import train

    command = train.redacted_command(["--data", "d", "--hub-token", "abc", "--api-key=xyz", "--note", "hf_abcdefgh123"])
    assert "abc" not in command.replace("--data", "") and "xyz" not in command and "hf_abcdefgh123" not in command
    assert "--data d" in command


def test_push_to_hub(data: Path, tmp_path: Path, hub) -> None:  # noqa: ANN001 - the `hub` fixture's HubServer
    from tests.hub_fixtures import FAKE_TOKEN

    run = tmp_path / "pushed"
    result = check(run_train(*data_args(data), *TINY_RUN, "--epochs", "1", "--output", str(run),
                             "--push-to-hub", "user/carseg-tiny", env=dict(os.environ)))
    files = hub.repo_files("user/carseg-tiny")
    assert {"README.md", "model.weights.h5", "carseg_config.json", "config.json"} <= files.keys()
    readme = files["README.md"].decode()
    dice = json.loads((run / "metrics.json").read_text())["summary"]["street"]["dice"]
    assert f"{dice:.4f}" in readme and 'CarSegModel.from_pretrained("user/carseg-tiny")' in readme
    for text in (result.stdout, result.stderr, readme, (run / "run_config.json").read_text()):
        assert FAKE_TOKEN not in text
