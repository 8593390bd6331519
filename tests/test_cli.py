"""The `carseg` command line on small photos, videos and datasets made here, with the tiny model.

Commands run in-process through `carseg_model.cli.main`; a subprocess only where the process
itself matters (the kill-and-resume test and ``python -m carseg_model``).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi
from PIL import Image

from carseg_model import CarSegModel
from carseg_model.cli import main
from tests.conftest import REPO_ROOT
from tests.support.hub_fixtures import FAKE_TOKEN

COMMANDS = ["predict", "video", "evaluate", "export", "push", "train"]


def write_photo(path: Path, size: tuple[int, int] = (96, 64), seed: int = 0) -> Path:
    """A ``size`` (width, height) photo: a red 'car' box on a noisy background."""
    width, height = size
    image = np.random.default_rng(seed).integers(0, 90, (height, width, 3), dtype=np.uint8)
    image[height // 4 : 3 * height // 4, width // 5 : 4 * width // 5] = (200, 30, 30)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def run(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str, str]:
    """``carseg ARGV`` in-process: (exit code, stdout, stderr)."""
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def visible_files(folder: Path) -> list[str]:
    """Files below ``folder`` (relative, sorted), without hidden ones."""
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """photos/a.jpg, photos/sub/b.png, photos/sub/deeper/c.jpeg, plus a text file and a hidden folder."""
    folder = tmp_path / "photos"
    write_photo(folder / "a.jpg", (96, 64))
    write_photo(folder / "sub" / "b.png", (80, 48), seed=1)
    write_photo(folder / "sub" / "deeper" / "c.jpeg", (64, 96), seed=2)
    (folder / "notes.txt").write_text("not a photo")
    write_photo(folder / ".thumbs" / "hidden.jpg")
    return folder


# ---------------------------------------------------------------------------------------------- help
def test_every_command_has_help(capsys):
    for command in ([], *([name] for name in COMMANDS)):
        assert main([*command, "--help"]) == 0
        assert capsys.readouterr().out.startswith(" ".join(["usage: carseg", *command]))


# ------------------------------------------------------------------------------------------- predict
def test_predict_mirrors_the_folder_tree_and_skips_finished_outputs(photos, tiny_model_folder, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["predict", photos, "--out", out, "--save", "mask,cutout,overlay", "--model", tiny_model_folder]
    code, stdout, stderr = run(capsys, *argv)
    assert code == 0, stderr
    sizes = {"a": (96, 64), "sub/b": (80, 48), "sub/deeper/c": (64, 96)}
    assert visible_files(out) == sorted(
        f"{stem}{suffix}" for stem in sizes for suffix in ("_mask.png", "_cutout.png", "_overlay.jpg")
    )
    assert not list(out.rglob(".*"))  # no temporary files left
    for stem, size in sizes.items():
        mask, cutout, overlay = (Image.open(out / f"{stem}{s}") for s in ("_mask.png", "_cutout.png", "_overlay.jpg"))
        assert (mask.size, mask.mode, cutout.size, cutout.mode) == (size, "L", size, "RGBA")
        assert (overlay.size, overlay.format) == (size, "JPEG")
        assert set(np.unique(np.asarray(mask))) <= {0, 255}
    mtimes = {path: path.stat().st_mtime_ns for path in out.rglob("*")}

    code, stdout, _ = run(capsys, *argv)
    assert code == 0 and "0 to do, 3 already done" in stdout
    (out / "a_overlay.jpg").unlink()
    code, stdout, _ = run(capsys, *argv)
    assert code == 0 and "1 to do, 2 already done" in stdout
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*") if path.name != "a_overlay.jpg"} == {
        path: mtime for path, mtime in mtimes.items() if path.name != "a_overlay.jpg"
    }
    assert (out / "a_overlay.jpg").is_file()


def test_predict_files_and_globs_with_a_threshold(photos, tiny_model_folder, tmp_path, capsys):
    out = tmp_path / "files"
    code, _, stderr = run(
        capsys,
        "predict",
        photos / "a.jpg",
        photos / "sub" / "b.png",
        "--out",
        out,
        "--threshold",
        0,
        "--model",
        tiny_model_folder,
    )
    assert code == 0, stderr
    assert visible_files(out) == ["a_mask.png", "b_mask.png"]  # file arguments go straight into --out
    assert (np.asarray(Image.open(out / "b_mask.png")) == 255).all()  # every probability is above 0

    out = tmp_path / "glob"
    code, _, stderr = run(
        capsys,
        "predict",
        f"{photos}/**/*.png",
        "--out",
        out,
        "--threshold",
        1,
        "--batch-size",
        1,
        "--model",
        tiny_model_folder,
    )
    assert code == 0, stderr
    assert visible_files(out) == ["sub/b_mask.png"]  # relative to the glob's fixed folder
    assert (np.asarray(Image.open(out / "sub" / "b_mask.png")) == 0).all()


def test_unreadable_photos_are_reported_skipped_and_counted(photos, tiny_model_folder, tmp_path, capsys):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (photos / "sub" / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    code, stdout, stderr = run(capsys, "predict", photos, "--out", out, "--batch-size", 2, "--model", tiny_model_folder)
    assert code == 1
    assert "broken.jpg" in stderr and "empty.png" in stderr
    assert "3 photo(s) in" in stdout and "2 failed" in stdout
    assert visible_files(out) == ["a_mask.png", "sub/b_mask.png", "sub/deeper/c_mask.png"]


def test_max_pixels_refuses_larger_photos_and_each_photo_is_decoded_once(
    photos, tiny_model_folder, tmp_path, monkeypatch, capsys
):
    from carseg_model import image_io, model

    decoded, open_photo = [], image_io.open_photo
    for module in (image_io, model):  # wherever a photo could be opened
        monkeypatch.setattr(
            module, "open_photo", lambda source, max_pixels: decoded.append(source) or open_photo(source, max_pixels)
        )
    # a.jpg is 96x64 = 6144 pixels, b.png 80x48 = 3840, c.jpeg 64x96 = 6144
    code, stdout, stderr = run(
        capsys, "predict", photos, "--out", tmp_path / "out", "--max-pixels", 5000, "--model", tiny_model_folder
    )
    assert code == 1 and "2 failed" in stdout
    assert "a.jpg" in stderr and "c.jpeg" in stderr and "--max-pixels" in stderr
    assert visible_files(tmp_path / "out") == ["sub/b_mask.png"]
    assert len(decoded) == 3  # once each, by the model: the command does not decode photos itself

    code, _, stderr = run(
        capsys, "predict", photos, "--out", tmp_path / "out", "--max-pixels", 6144, "--model", tiny_model_folder
    )
    assert code == 0, stderr


def test_killed_predict_resumes_without_redoing_finished_photos(tiny_model_folder, tmp_path, capsys):
    folder, out = tmp_path / "many", tmp_path / "out"
    for index in range(80):
        write_photo(folder / f"{index:03d}.jpg", (160, 120), seed=index)
    argv = ["predict", folder, "--out", out, "--save", "mask,overlay", "--batch-size", 1, "--model", tiny_model_folder]
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "carseg_model", *map(str, argv), "--threads", "1"],
            cwd=REPO_ROOT,
            env=os.environ,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        deadline = time.monotonic() + 240
        while process.poll() is None and len(list(out.glob("*_overlay.jpg"))) < 5:
            assert time.monotonic() < deadline, "no outputs after 4 minutes"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()[-2000:]

    before = {path: path.stat().st_mtime_ns for path in out.iterdir() if not path.name.startswith(".")}
    for path in before:
        Image.open(path).load()  # written atomically: every visible output is complete
    done = {path.name.removesuffix("_overlay.jpg") for path in before if path.name.endswith("_overlay.jpg")}
    assert 5 <= len(done) < 80

    code, stdout, stderr = run(capsys, *argv)
    assert code == 0, stderr
    assert f"{80 - len(done)} to do, {len(done)} already done" in stdout
    assert {path: path.stat().st_mtime_ns for path in before} == before
    assert len(visible_files(out)) == 160 and not list(out.glob(".*"))  # resuming used up the temporary names


def test_output_inside_the_input_folder_is_refused_unless_allowed(photos, tiny_model_folder, tmp_path, capsys):
    inside = photos / "masks"
    code, _, stderr = run(capsys, "predict", photos, "--out", inside, "--model", tiny_model_folder)
    assert code == 2 and "--allow-inside" in stderr and not inside.exists()
    for _ in range(2):  # the second run must not take the first run's outputs for photos
        code, stdout, stderr = run(
            capsys,
            "predict",
            photos,
            "--out",
            inside,
            "--allow-inside",
            "--save",
            "mask,overlay",
            "--model",
            tiny_model_folder,
        )
        assert code == 0, stderr
    assert "3 photo(s): 0 to do, 3 already done" in stdout
    assert len(visible_files(inside)) == 6

    flat = tmp_path / "flat"  # an output that would replace a photo is refused in any case
    write_photo(flat / "car.jpg")
    write_photo(flat / "car_mask.png")
    code, _, stderr = run(
        capsys, "predict", flat / "car.jpg", flat / "car_mask.png", "--out", flat, "--model", tiny_model_folder
    )
    assert code == 2 and "would overwrite an input photo" in stderr


def test_predict_with_test_time_scales_writes_the_mask_of_the_averaged_runs(tmp_path, capsys):
    from carseg_model.model import bundled_model_backend

    photo = REPO_ROOT / "space" / "examples" / "node-opencv_car1.jpg"
    code, _, stderr = run(capsys, "predict", photo, "--out", tmp_path, "--test-time-scales", "1,1.25")
    assert code == 0, stderr
    model = CarSegModel.from_pretrained(backend=bundled_model_backend(), test_time_scales=(1.0, 1.25))
    expected = model.predict(photo)
    assert expected.network_probabilities.shape == (352, 544)  # the 1.25 run's (1.56x the pixels of 288x416)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "node-opencv_car1_mask.png")), expected.mask_image())


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "required: COMMAND"),
        (["predict", "nowhere/", "--out", "o"], "no such file or folder"),
        (["predict", "PHOTOS", "--out", "o", "--threshold", "1.5"], "from 0 to 1"),
        (["predict", "PHOTOS", "--out", "o", "--save", "mask,depth"], "mask,cutout,overlay"),
        (["predict", "PHOTOS", "--out", "o", "--test-time-scales", "1,0"], "positive numbers separated by commas"),
        (["predict", "PHOTOS", "--out", "o", "--model", "./no/such/model"], "cannot load the model"),
        (["video", "missing.mp4", "--out", "x.mp4"], "no such video file"),
        (["evaluate", "--data", "a", "--data", "b", "--car-values", "8"], "one --car-values per --data"),
        (["export", "--out", "m.onnx", "--quantize", "int8"], "TFLite-only"),
        (["push", "PHOTOS", "user/carseg"], "not a carseg model folder"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(argv, message, photos, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run(capsys, *[str(photos) if arg == "PHOTOS" else arg for arg in argv])
    assert code == 2 and message in stderr
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------ evaluate
def write_dataset(root: Path, car_values: tuple[int, ...] | None) -> dict[Path, tuple[float, float]]:
    """images/ + masks/ with a value-8 box and a value-3 corner; return each photo's (Dice, IoU) for a
    prediction of all car (threshold 0), with ``car_values`` (None: any non-zero value) counting as car."""
    expected = {}
    (root / "masks").mkdir(parents=True)
    for index in range(3):
        photo = write_photo(root / "images" / f"car{index}.jpg", seed=index)
        mask = np.zeros((64, 96), np.uint8)
        mask[0:4, 0:4] = 3
        mask[10 : 20 + 10 * index, 20:60] = 8
        Image.fromarray(mask).save(root / "masks" / f"car{index}.png")
        car = int((np.isin(mask, car_values) if car_values else mask > 0).sum())
        expected[photo.resolve()] = (2 * car / (car + mask.size), car / mask.size)
    return expected


def test_evaluate_prints_dice_and_iou_per_dataset_and_writes_a_csv(tiny_model_folder, tmp_path, monkeypatch, capsys):
    expected = {**write_dataset(tmp_path / "cars8", (8,)), **write_dataset(tmp_path / "anycar", None)}
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run(
        capsys,
        "evaluate",
        "--data",
        "cars8",
        "--car-values",
        "8",
        "--data",
        "anycar",
        "--car-values",
        "any",
        "--threshold",
        0,
        "--model",
        tiny_model_folder,
    )
    assert code == 0, stderr
    assert re.search(r"dataset +photos +mean Dice +mean IoU", stdout)
    rows = [line.split()[:2] for line in stdout.splitlines() if line.startswith(("cars8", "anycar", "overall"))]
    assert rows == [["cars8", "3"], ["anycar", "3"], ["overall", "6"]]
    with open(tmp_path / "evaluation.csv", newline="") as file:
        scores = {Path(row["image"]).resolve(): (float(row["dice"]), float(row["iou"])) for row in csv.DictReader(file)}
    assert scores.keys() == expected.keys()
    for photo, (dice, iou) in expected.items():
        assert scores[photo] == pytest.approx((dice, iou), abs=1e-6)


def test_evaluate_bad_files_stop_it_or_are_skipped_and_counted(tiny_model_folder, tmp_path, capsys):
    write_dataset(tmp_path / "cars", (8,))
    (tmp_path / "cars" / "images" / "broken.jpg").write_bytes(b"not a JPEG")
    (tmp_path / "cars" / "masks" / "broken.png").write_bytes(b"not a PNG")
    argv = ["evaluate", "--data", tmp_path / "cars", "--csv", tmp_path / "scores.csv", "--model", tiny_model_folder]
    code, _, stderr = run(capsys, *argv)
    assert code == 2 and "broken.jpg" in stderr and "--skip-bad" in stderr and not (tmp_path / "scores.csv").exists()
    code, stdout, _ = run(capsys, *argv, "--skip-bad")
    assert code == 1 and "scored 3 photo(s); 2 problem(s) skipped" in stdout
    assert len((tmp_path / "scores.csv").read_text().splitlines()) == 4


# -------------------------------------------------------------------------------------- export, push
def test_export_writes_a_file_that_loads_and_predicts(photos, tiny_model_folder, tmp_path, capsys):
    target = tmp_path / "deploy" / "carseg_int8.tflite"
    argv = [
        "export",
        "--format",
        "tflite",
        "--quantize",
        "int8",
        "--out",
        target,
        "--representative",
        photos,
        "--model",
        tiny_model_folder,
    ]
    code, stdout, stderr = run(capsys, *argv)
    assert code == 0, stderr
    assert sorted(p.name for p in target.parent.iterdir()) == ["carseg_config.json", "carseg_int8.tflite"]
    assert CarSegModel.from_pretrained(target).predict(photos / "a.jpg").mask.shape == (64, 96)
    code, _, stderr = run(capsys, *argv)
    assert code == 2 and "--overwrite" in stderr
    code, _, stderr = run(capsys, "predict", photos / "a.jpg", "--out", tmp_path / "int8", "--model", target)
    assert code == 0, stderr
    assert Image.open(tmp_path / "int8" / "a_mask.png").size == (96, 64)


def test_push_uploads_the_model_folder_of_a_training_run(hub, tiny_model_folder, tmp_path, capsys):
    run_folder = tmp_path / "runs" / "v1"
    shutil.copytree(tiny_model_folder, run_folder / "model")
    (run_folder / "training_log.csv").write_text("epoch,loss\n")
    (run_folder / "model" / ".README.tmp.md").write_text("left by a killed run")
    code, stdout, stderr = run(capsys, "push", run_folder, "user/carseg-cli", "--private")
    assert code == 0, stderr
    files = hub.repo_files("user/carseg-cli")
    assert {"config.json", "metadata.json", "model.weights.h5", "carseg_config.json", "README.md"} <= set(files)
    assert "training_log.csv" not in files and ".README.tmp.md" not in files
    assert HfApi().model_info("user/carseg-cli").private
    assert FAKE_TOKEN not in stdout + stderr


def test_push_without_a_token_says_how_to_log_in(hub, tiny_model_folder, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN")
    code, _, stderr = run(capsys, "push", tiny_model_folder, "user/carseg-cli")
    assert code == 2 and "hf auth login" in stderr


def test_predict_cutout_options_on_a_real_photo(tmp_path, capsys):
    photos = tmp_path / "in"
    photos.mkdir()
    shutil.copy(REPO_ROOT / "space" / "examples" / "node-opencv_car2.jpg", photos / "car.jpg")
    assert run(capsys, "predict", photos, "--out", tmp_path / "plain", "--save", "mask,cutout")[0] == 0
    with Image.open(tmp_path / "plain" / "car_cutout.png") as cutout:
        assert cutout.mode == "RGBA" and cutout.size == (1500, 938)
        alpha = np.asarray(cutout)[:, :, 3]
        assert 0 < np.mean((alpha > 0) & (alpha < 255)) < 0.05  # soft, refined borders

    styled = ["--main-car", "--crop", "0.1", "--background", "white", "--shadow"]
    code, _, _ = run(capsys, "predict", photos, "--out", tmp_path / "styled", "--save", "mask,cutout,overlay", *styled)
    assert code == 0
    with (
        Image.open(tmp_path / "styled" / "car_cutout.png") as cutout,
        Image.open(tmp_path / "styled" / "car_mask.png") as mask,
    ):
        assert cutout.mode == "RGB" and cutout.size == mask.size and cutout.width < 1500
        pixels = np.asarray(cutout)
        assert (pixels[0, 0] == 255).all()  # the crop's margin is the white background
    with Image.open(tmp_path / "styled" / "car_overlay.jpg") as overlay:
        assert overlay.size == mask.size

    assert run(capsys, "predict", photos, "--out", tmp_path / "plain_edges", "--no-refine-edges")[0] == 0
    refined = np.asarray(Image.open(tmp_path / "plain" / "car_mask.png")) > 0
    upsampled = np.asarray(Image.open(tmp_path / "plain_edges" / "car_mask.png")) > 0
    assert 0 < np.mean(refined != upsampled) < 0.02  # the same car, its borders moved


def test_predict_refuses_a_background_that_is_neither_colour_nor_file(tmp_path, capsys):
    code, _, stderr = run(capsys, "predict", tmp_path, "--out", tmp_path / "o", "--background", "nonsense")
    assert code == 2 and "neither transparent, blur, a colour" in stderr
