"""The command line, `TrainingOptions` and ``run_config.json`` (no TensorFlow, no training)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from carseg_model.datasets import DatasetError, DatasetSource
from carseg_model.teachers import TEACHER_FILES
from carseg_model.training.options import (
    RUN_CONFIG,
    Augmentations,
    RunConfig,
    TrainingOptions,
    build_parser,
    parse_input_size,
    parse_run,
    redacted_command,
)


def new_run(tmp_path: Path, *extra: str) -> RunConfig:
    return parse_run(["--data", "d", "--output", str(tmp_path / "run"), *extra])


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as raised:
        parse_run(argv)
    assert raised.value.code == 2
    return capsys.readouterr().err


def test_parser_defaults_are_the_dataclass_defaults() -> None:
    parsed = TrainingOptions.from_dict(vars(build_parser().parse_args([])))
    assert parsed == TrainingOptions()
    assert {f.name for f in fields(TrainingOptions)} == set(vars(build_parser().parse_args([]))) - {"resume"}


def test_a_new_run(tmp_path: Path) -> None:
    run = new_run(
        tmp_path,
        "--data",
        "e",
        "--car-values",
        "8",
        "--car-values",
        "any",
        "--seed",
        "3",
        "--input-size",
        "256x384",
        "--augment",
        "flip,color",
    )
    assert run.options.data == ("d", "e") and run.options.car_values == ("8", "any")
    assert run.seed == 3 and not run.resumed and run.folder == tmp_path / "run"
    assert run.options.network_input_size == (256, 384)
    assert run.options.augmentations == Augmentations(flip=True, scale=False, color=True, copy_paste=False)
    assert run.command.endswith(
        f"--data d --output {tmp_path / 'run'} --data e --car-values 8 --car-values any "
        "--seed 3 --input-size 256x384 --augment flip,color"
    )
    assert 0 <= new_run(tmp_path).seed < 2**31  # drawn when not given


def test_sources_pair_the_data_options(tmp_path: Path) -> None:
    options = new_run(tmp_path, "--car-values", "7,8", "--val-data", "v", "--val-data-license", "mine").options
    assert options.sources() == (
        [DatasetSource(Path("d"), (7, 8), "unknown")],
        [DatasetSource(Path("v"), None, "mine")],
    )
    unpaired = TrainingOptions(data=("a", "b"), val_data=("v",), val_car_values=("1", "2"))
    with pytest.raises(DatasetError, match="give one --val-car-values per --val-data"):
        unpaired.sources()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "d"], "--output and --data are required"),
        (["--data", "d", "--output", "o", "--epochs", "0"], "--epochs must be at least 1"),
        (["--data", "d", "--output", "o", "--learning-rate", "0"], "--learning-rate and --finetune-learning-rate"),
        (["--data", "d", "--output", "o", "--val-fraction", "1"], "--val-fraction must be between 0 and 1"),
        (["--data", "d", "--output", "o", "--input-size", "100"], "--input-size must be N or HxW with multiples of 32"),
        (["--data", "d", "--output", "o", "--augment", "blur"], "unknown augmentation(s) ['blur']"),
        (["--data", "d", "--output", "o", "--strategy", "multiworker"], "--strategy multiworker needs --seed N"),
        (
            ["--data", "d", "--output", "o", "--encoder-weights", "/no/such.h5"],
            "--encoder-weights /no/such.h5: no such file",
        ),
    ],
)
def test_bad_options_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert message in usage_error(argv, capsys)


def test_an_existing_run_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / RUN_CONFIG).write_text("{}")
    assert f"already holds a run; continue it with --resume {tmp_path / 'run'}" in usage_error(
        ["--data", "d", "--output", str(tmp_path / "run")], capsys
    )


def test_run_config_round_trip(tmp_path: Path) -> None:
    run = new_run(tmp_path, "--data-license", "CC BY 4.0", "--no-augment")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / RUN_CONFIG).write_text(run.to_json())
    resumed = parse_run(["--resume", str(tmp_path / "run")])
    assert resumed == run and resumed.resumed and resumed.folder == tmp_path / "run"


def test_resume_fills_options_added_since_with_defaults(tmp_path: Path) -> None:
    """A run_config.json of an older carseg: argparse's Namespace, ``resume`` included, without newer options."""
    arguments = {**asdict(TrainingOptions(data=("d",), output="elsewhere", seed=None)), "resume": None}
    del arguments["decoder_block"], arguments["finetune_learning_rate"]
    arguments["data"] = ["d"]
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"arguments": arguments, "seed": 11, "command": "python train.py"}))
    run = RunConfig.load(tmp_path)
    assert run.options == TrainingOptions(data=("d",), output=str(tmp_path))
    assert run.seed == 11 and run.options.seed is None  # the drawn seed is kept, ops stay non-deterministic


def test_an_init_from_run_of_an_older_carseg_keeps_the_models_input_size(tmp_path: Path) -> None:
    """Before --input-shape, --init-from ignored --input-size (recorded as its default "256")."""
    arguments = {**asdict(TrainingOptions(data=("d",), init_from="base")), "input_size": "256"}
    del arguments["input_shape"]
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"arguments": arguments, "seed": 1, "command": "python train.py"}))
    assert RunConfig.load(tmp_path).options.input_size is None
    arguments["input_shape"] = None  # written by this carseg: --input-size was given on purpose
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"arguments": arguments, "seed": 1, "command": "python train.py"}))
    assert RunConfig.load(tmp_path).options.input_size == "256"


def test_scene_options(tmp_path: Path) -> None:
    teachers = tmp_path / "teachers"
    teachers.mkdir()
    for name, _ in TEACHER_FILES.values():
        (teachers / name).write_bytes(b"")
    options = new_run(
        tmp_path,
        "--data",
        "e",
        "--data-every",
        "1",
        "--data-every",
        "2",
        "--scenes",
        "--crop",
        "320x384",
        "--input-shape",
        "keep_aspect",
        "--negatives",
        str(tmp_path),
        "--negatives-license",
        "CC0",
        "--teachers",
        str(teachers),
        "--lr-schedule",
        "cosine",
    ).options
    assert options.scenes and options.crop == "320x384" and options.input_shape == "keep_aspect"
    assert options.negatives == (str(tmp_path),) and options.negatives_license == ("CC0",)
    assert (
        options.teachers == str(teachers) and options.teacher_weight == 0.25 and options.val_negatives_fraction == 0.15
    )
    assert options.data_every == (1, 2) and options.data_every_by_dataset() == {"e": 2}
    assert options.lr_schedule == "cosine" and options.input_size is None and options.network_input_size == (256, 256)
    assert TrainingOptions().scenes is False and TrainingOptions().lr_schedule == "plateau"  # old runs: all off


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--negatives", "n"], "--negatives: only with the scene pipeline; add --scenes"),
        (["--crop", "64", "--teachers", "t"], "--crop, --teachers: only with the scene pipeline"),
        (["--scenes", "--crop", "60x64"], "--crop must be N or HxW with multiples of 32"),
        (["--scenes", "--negatives", "/no/such"], "--negatives /no/such: no such folder"),
        (["--scenes", "--teachers", "/no/such"], "deeplabv3_mnv2_pascal_quant.tflite, "),
        (["--scenes", "--teacher-weight", "1.5"], "--teacher-weight must be in [0, 1]"),
        (["--scenes", "--val-negatives-fraction", "1"], "--val-negatives-fraction must be in [0, 1)"),
        (["--negatives-license", "x"], "give one --negatives-license per --negatives (0)"),
        (["--data-every", "2", "--data-every", "2"], "give one --data-every of 1 or more per --data (1)"),
        (["--data-every", "0"], "give one --data-every of 1 or more per --data"),
        (["--input-shape", "square"], "invalid choice: 'square'"),
        (["--lr-schedule", "step"], "invalid choice: 'step'"),
    ],
)
def test_bad_scene_options_are_usage_errors(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert message in usage_error(["--data", "d", "--output", "o", *extra], capsys)


def test_resume_takes_no_other_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "--resume takes no other options (got --epochs)" in usage_error(
        ["--resume", str(tmp_path), "--epochs", "3"], capsys
    )
    assert f"run_config.json does not exist: {tmp_path} is not a run folder" in usage_error(
        ["--resume", str(tmp_path)], capsys
    )


def test_input_size() -> None:
    assert parse_input_size("256") == (256, 256) and parse_input_size("288X384") == (288, 384)
    for text in ("0", "250", "256x", "a"):
        with pytest.raises(ValueError):
            parse_input_size(text)


def test_command_line_secrets_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "s3cr3t-value")
    command = redacted_command(
        ["--data", "d", "--hub-token", "abc", "--api-key=xyz", "--note", "hf_abcdefgh123", "--x", "has-s3cr3t-value"],
        prog="carseg train",
    )
    assert command.startswith("carseg train --data d")
    for secret in ("abc", "xyz", "hf_abcdefgh123", "s3cr3t-value"):
        assert secret not in command.replace("--data", "")


def test_no_tensorflow_is_imported() -> None:
    code = "import sys, carseg_model.training.options; print('tensorflow' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
