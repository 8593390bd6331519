"""bench/compare_teachers.py on a tiny run: validation domains, small cars, boundary F and held-out car-free photos."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carseg_model.training.negatives import find_negatives, split_negatives
from tests.test_cli import write_photo

REPO = Path(__file__).resolve().parent.parent
TEACHERS = REPO.parent / "shared" / "teachers"


def load_bench():
    """bench/compare_teachers.py as a module (bench/ is not a package)."""
    if "compare_teachers" not in sys.modules:
        spec = importlib.util.spec_from_file_location("compare_teachers", REPO / "bench" / "compare_teachers.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return sys.modules["compare_teachers"]


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    """A run folder over 6 photos (half held out), with 8 negatives (a quarter held out) and its run_config.json."""
    data = tmp_path / "street"
    (data / "masks").mkdir(parents=True)
    for index in range(6):
        write_photo(data / "images" / f"scene{index}.jpg", seed=index)
        mask = np.zeros((64, 96), np.uint8)
        mask[20 : 22 + 10 * (index % 3), 30 : 34 + 20 * (index % 3)] = 8  # the first of every three: a small car
        Image.fromarray(mask).save(data / "masks" / f"scene{index}.png")
    negatives = tmp_path / "people"
    rows = ["file,cars_visible,objects"]
    for index in range(8):
        write_photo(negatives / "images" / f"photo{index}.jpg", seed=10 + index)
        rows.append(f"images/photo{index}.jpg,{'yes' if index == 7 else 'no'},{'person' if index % 2 else 'tree'}")
    (negatives / "manifest.csv").write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    run.mkdir()
    arguments = {"data": [str(data)], "car_values": ["8"], "val_fraction": 0.5, "negatives": [str(negatives)]}
    (run / "run_config.json").write_text(json.dumps({"arguments": arguments, "seed": 3, "command": "test"}))
    return run


def test_compare_teachers_reports_every_row_for_the_model_and_the_peers(tiny_run, tiny_model_folder, capsys):
    bench = load_bench()
    teachers = TEACHERS if TEACHERS.is_dir() else tiny_run / "no_teachers"
    bench.main(["--run", str(tiny_run), "--model", str(tiny_model_folder), "--teachers", str(teachers), "--seed", "1"])
    out = capsys.readouterr().out
    held = split_negatives(find_negatives(tiny_run.parent / "people"), 0.15, 1)[1]  # the run's fraction, --seed 1
    car_free = [photo for photo in held if photo.cars_visible == "no"]
    assert f"{len(car_free)} held-out car-free photos" in out
    table = [line for line in out.splitlines() if line.startswith("|")]
    columns = 1 + 2 * TEACHERS.is_dir()
    assert all(line.count("|") == 3 + columns for line in table)
    labels = [line.split("|")[1].strip() for line in table[2:]]
    assert car_free  # --seed 1 holds out photo5: the far copies are pasted into it
    assert "3 far-car copies" in out  # of the 3 validation photos, each with a car
    domains = ["street", "street far (1/4)"]
    per_domain = ["mean Dice", "boundary F", "Dice, edges not refined", "boundary F, edges not refined"]
    assert labels[: 4 * len(domains) + 3] == [f"{domain}: {what}" for what in per_domain for domain in domains] + [
        "all validation photos: mean Dice",
        "small cars (under 5% of the photo, far copies included): mean Dice",
        "boundary F (photos with cars)",
    ]
    small_cars = table[2 + labels.index("small cars (under 5% of the photo, far copies included): mean Dice")]
    assert int(small_cars.split("|")[2]) >= 4  # the far copies, and any validation photo of scene0 or scene3
    assert labels[-1] == "seconds per photo (this machine)"
    assert "car-free, all held out: marked share, worst" in labels


def test_compare_teachers_scores_the_model_at_test_time_scales_in_its_own_column(tiny_run, tiny_model_folder, capsys):
    from carseg_model import CarSegConfig, CarSegModel

    aspect = tiny_run.parent / "aspect_model"
    CarSegModel(CarSegConfig(input_size=(64, 64), input_shape="keep_aspect", encoder_weights=None)).save_pretrained(
        aspect
    )
    bench = load_bench()
    common = ["--run", str(tiny_run), "--teachers", str(tiny_run / "no_teachers"), "--test-time-scales", "1,1.5"]
    bench.main([*common, "--model", str(aspect)])
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert table[0].split("|")[3:5] == [" carseg (this model) ", " carseg + test-time scales 1, 1.5 "]
    assert all(line.count("|") == 5 for line in table)  # label, photos, the two carseg columns
    with pytest.raises(SystemExit, match="test_time_scales needs input_shape='keep_aspect'"):
        bench.main([*common, "--model", str(tiny_model_folder)])  # a stretch model


def test_the_table_bolds_the_best_value_of_each_row() -> None:
    bench = load_bench()
    rows = [
        bench.Row("Dice", 3, {"a": 0.9, "b": 0.95}),
        bench.Row("marked", 2, {"a": 0.01, "b": 0.2}, form="{:.2%}", higher_is_better=False),
        bench.Row("small", 0, {"a": None, "b": None}),
    ]
    assert bench.markdown_table(rows, {"a": 0.1, "b": 0.2}).splitlines() == [
        "| | Photos | a | b |",
        "|---|---|---|---|",
        "| Dice | 3 | 0.9000 | **0.9500** |",
        "| marked | 2 | **1.00%** | 20.00% |",
        "| small | 0 | – | – |",
        "| seconds per photo (this machine) | | 0.100 | 0.200 |",
    ]


def test_tune_refinement_scores_every_setting_on_training_photos_and_restores_them(tiny_run, tiny_model_folder, capsys):
    from carseg_model import refinement

    spec = importlib.util.spec_from_file_location("tune_refinement", REPO / "bench" / "tune_refinement.py")
    tune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tune)
    before = refinement.RADIUS_PER_STEP, refinement.GUIDE_EPSILON
    tune.main(["--run", str(tiny_run), "--model", str(tiny_model_folder), "--photos", "2", "--thresholds", "0.4,0.5"])
    assert (refinement.RADIUS_PER_STEP, refinement.GUIDE_EPSILON) == before
    out = capsys.readouterr().out
    assert out.startswith("2 training photos")  # of the 3 the split trains on
    settings, thresholds = (
        [line for line in table.splitlines() if line.startswith("|")][2:]
        for table in out.split("cut at each threshold")
    )
    assert len(settings) == 1 + len(tune.RADII) * len(tune.EPSILONS) and settings[0].startswith("| not refined | – |")
    assert all(line.count("|") == 5 for line in settings)  # radius, epsilon, one dataset's boundary F and Dice
    assert "2 training car-free photos" in out  # --photos of the car-free ones the run trains on
    assert [line.split("|")[1].strip() for line in thresholds] == ["0.4", "0.5"]
    assert all(line.count("|") == 5 and "% / " in line for line in thresholds)  # bF, Dice, marked share
