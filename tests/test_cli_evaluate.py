"""``carseg evaluate --negatives``: car-free photos scored in the same run and table as the datasets."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.test_cli import run, write_dataset, write_photo


def write_negatives(folder: Path) -> None:
    """people/: three photos and a manifest that marks one of them as showing a car."""
    for name in ("walker", "cyclist", "street"):
        write_photo(folder / "images" / f"{name}.jpg", seed=len(name))
    (folder / "manifest.csv").write_text(
        "file,cars_visible,objects\nimages/walker.jpg,no,person\nimages/cyclist.jpg,no,bicycle\n"
        "images/street.jpg,yes,car;person\n"
    )


def test_evaluate_scores_car_free_folders_in_the_same_table(tiny_model_folder, tmp_path, monkeypatch, capsys):
    write_dataset(tmp_path / "cars8", (8,))
    write_negatives(tmp_path / "people")
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--data", "cars8", "--car-values", "8", "--negatives", "people", "--threshold", 0]
    code, stdout, stderr = run(capsys, *argv, "--model", tiny_model_folder)
    assert code == 0, stderr
    header, *rows = [
        line.split() for line in stdout.splitlines() if line.startswith(("dataset", "cars8", "people", "overall"))
    ]
    assert " ".join(header).startswith("dataset photos mean Dice mean IoU boundary F")
    # threshold 0 marks every pixel: both car-free photos (not the one with a car) are fully marked
    # the tiny model refines edges, so the unrefined Dice and boundary F follow boundary F
    assert rows[1] == ["people", "2", "0.0000", "0.0000", "-", "0.0000", "-", "0", "-", "2", "100.00%", "100.00%", "2"]
    assert rows[0][:2] == ["cars8", "3"] and rows[0][9:] == ["0", "-", "-", "-"]
    assert rows[2][:2] == ["overall", "5"] and rows[2][9:] == ["2", "100.00%", "100.00%", "2"]
    with open(tmp_path / "evaluation.csv", newline="") as file:
        scores = {Path(row["image"]).name: row for row in csv.DictReader(file)}
    assert set(scores) == {"car0.jpg", "car1.jpg", "car2.jpg", "walker.jpg", "cyclist.jpg"}
    assert float(scores["walker.jpg"]["marked_share"]) == 1.0 and float(scores["walker.jpg"]["car_share"]) == 0.0
    assert 0 < float(scores["car0.jpg"]["car_share"]) < 1 and 0 <= float(scores["car0.jpg"]["boundary_f"]) <= 1


def test_evaluate_far_cars_adds_a_small_car_slice(tiny_model_folder, tmp_path, monkeypatch, capsys):
    write_dataset(tmp_path / "cars8", (8,))
    write_negatives(tmp_path / "people")
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--data", "cars8", "--car-values", "8", "--negatives", "people", "--far-cars"]
    code, stdout, stderr = run(capsys, *argv, "--model", tiny_model_folder)
    assert code == 0, stderr
    rows = {line.split("  ")[0].strip(): line.split() for line in stdout.splitlines() if line.startswith("cars8")}
    assert rows["cars8"][1] == "3" and rows["cars8 far (1/4)"][3] == "3"  # each car photo, shrunk
    assert rows["cars8 far (1/4)"][9] == "3"  # every far car is under 5 % of its photo: the small-car slice
    with open(tmp_path / "evaluation.csv", newline="") as file:
        far = [row for row in csv.DictReader(file) if row["dataset"] == "cars8 far (1/4)"]
    assert len(far) == 3 and all(0 < float(row["car_share"]) < 0.05 for row in far)


def test_evaluate_car_free_folders_alone(tiny_model_folder, tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    write_photo(tmp_path / "plain" / "a.png")
    argv = ["evaluate", "--negatives", tmp_path / "plain", "--csv", tmp_path / "s.csv", "--model", tiny_model_folder]
    code, stdout, stderr = run(capsys, *argv)
    assert code == 0, stderr
    assert [line.split()[:2] for line in stdout.splitlines() if line.startswith(("plain", "overall"))] == [
        ["plain", "1"],
        ["overall", "1"],
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate"], "at least one --data or --negatives"),
        (["evaluate", "--negatives", "no/such/folder"], "no/such/folder does not exist"),
        (["evaluate", "--negatives", "EMPTY"], "has no photos"),
        (["evaluate", "--negatives", "CARS"], "marks no photo cars_visible 'no'"),
        (["evaluate", "--negatives", "EMPTY_OK", "--far-cars"], "--far-cars pastes the --data photos"),
    ],
)
def test_evaluate_negatives_usage_errors(argv, message, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    write_photo(tmp_path / "cars" / "images" / "street.jpg")
    (tmp_path / "cars" / "manifest.csv").write_text("file,cars_visible\nimages/street.jpg,yes\n")
    write_photo(tmp_path / "plain" / "a.png")
    folders = {"EMPTY": str(tmp_path / "empty"), "CARS": str(tmp_path / "cars"), "EMPTY_OK": str(tmp_path / "plain")}
    code, _, stderr = run(capsys, *[folders.get(arg, arg) for arg in argv])
    assert code == 2 and message in stderr


def test_evaluate_test_time_scales_score_the_averaged_runs(tmp_path, monkeypatch, capsys):
    from carseg_model import CarSegConfig, CarSegModel

    CarSegModel(CarSegConfig(input_size=(64, 64), input_shape="keep_aspect", encoder_weights=None)).save_pretrained(
        tmp_path / "aspect_model"
    )
    write_dataset(tmp_path / "cars8", (8,))
    shapes = []
    predict_probabilities = CarSegModel.predict_probabilities

    def recorded(self, batch):
        shapes.append(batch.shape[1:3])
        return predict_probabilities(self, batch)

    monkeypatch.setattr(CarSegModel, "predict_probabilities", recorded)
    monkeypatch.chdir(tmp_path)
    argv = ["evaluate", "--data", "cars8", "--car-values", "8", "--test-time-scales", "1,2", "--model", "aspect_model"]
    code, stdout, stderr = run(capsys, *argv)
    assert code == 0, stderr
    assert any(line.startswith("cars8") for line in stdout.splitlines())
    assert sorted(set(shapes)) == [(64, 64), (96, 160)]  # each 96x64 photo at 1x and 2x the input's sides
