"""How `carseg` commands start and stop: help without TensorFlow, ``carseg train``, no runtime start-up
noise, and one-line errors for broken model folders and an unreachable Hub."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from carseg_model import CarSegModel
from carseg_model.cli import main
from tests.conftest import REPO_ROOT
from tests.support.hub_fixtures import FAKE_TOKEN
from tests.test_cli import COMMANDS, run, write_photo


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small photo, car.jpg."""
    return write_photo(tmp_path / "car.jpg")


def carseg(*argv: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m carseg_model ARGV`` in a subprocess (stdout and stderr as text)."""
    return subprocess.run(
        [sys.executable, "-m", "carseg_model", *map(str, argv)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env or os.environ,
    )


def test_help_never_imports_tensorflow():
    script = (
        "import sys\nfrom carseg_model.cli import main\n"
        f"for command in ([], *([name] for name in {COMMANDS!r})):\n"
        "    try:\n        main([*command, '--help'])\n    except SystemExit:\n        pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert result.returncode == 0, result.stderr
    assert "usage: carseg train" in result.stdout and "--epochs" in result.stdout  # train.py's own options


def test_python_m_carseg_model_runs_without_importing_tensorflow():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "carseg_model", "predict", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )
    assert result.returncode == 0 and "usage: carseg predict" in result.stdout
    assert not re.search(r"\|\s+(tensorflow|keras)(\.|$)", result.stderr, re.MULTILINE)


def test_train_runs_the_training_entry_point_as_carseg_train(monkeypatch):
    from carseg_model.training import run as training

    calls = []
    monkeypatch.setattr(training, "main", lambda argv, prog=None: calls.append((argv, prog)) or 7)
    assert main(["train", "--data", "cars", "--epochs", "2"]) == 7
    assert calls == [(["--data", "cars", "--epochs", "2"], "carseg train")]
    assert main(["train", "--epochs", "many"]) == 2 and not calls[1:]  # bad options never reach training


def test_commands_print_no_runtime_start_up_noise(photo, tiny_model_folder, tmp_path):
    exported = CarSegModel.from_pretrained(tiny_model_folder).export(tmp_path / "deploy")  # model.tflite
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    for model in (tiny_model_folder, exported):
        result = carseg("predict", photo, "--out", tmp_path / model.name, "--model", model, env=env)
        assert (result.returncode, result.stderr) == (0, ""), result.stderr  # no TensorFlow / LiteRT log lines


def broken_model_folder(source: Path, destination: Path, how: str) -> Path:
    """A copy of the model folder ``source`` with a mistyped config value or truncated weights."""
    shutil.copytree(source, destination)
    if how == "config":
        config = destination / "carseg_config.json"
        config.write_text(re.sub(r'"threshold": [\d.]+', '"threshold": "high"', config.read_text()))
    else:
        weights = destination / "model.weights.h5"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return destination


@pytest.mark.parametrize("how, file", [("config", "carseg_config.json"), ("weights", "model.weights.h5")])
def test_a_broken_model_folder_is_one_line_and_exit_2(how, file, photo, tiny_model_folder, tmp_path, capsys):
    model = broken_model_folder(tiny_model_folder, tmp_path / "broken", how)
    code, _, stderr = run(capsys, "predict", photo, "--out", tmp_path / "out", "--model", model)
    assert code == 2 and stderr.count("\n") == 1 and "Traceback" not in stderr
    assert stderr.startswith("carseg predict: error: ") and file in stderr


def test_push_to_an_unreachable_hub_is_one_line_and_exit_1(tiny_model_folder, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_TOKEN": FAKE_TOKEN,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    env.pop("HF_HUB_OFFLINE", None)
    result = carseg("push", tiny_model_folder, "user/carseg-cli", env=env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"cannot reach the Hugging Face Hub at {endpoint}" in result.stderr and "HF_ENDPOINT" in result.stderr
