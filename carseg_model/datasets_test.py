"""Discovery, pairing of the --data options, split and decoding on the tiny datasets of `tests.support.tiny_datasets`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from carseg_model import CarSegConfig, datasets
from carseg_model.datasets import DatasetError, DatasetSource, GroupKey, dataset_sources
from tests.support.tiny_datasets import CAR_COLOR, CAR_LABEL, PHOTO_SIZE, make_bad_street, make_datasets


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_datasets(tmp_path_factory.mktemp("data"))


@pytest.fixture
def bad_street(data: Path, tmp_path: Path) -> Path:
    return make_bad_street(data / "street", tmp_path / "bad_street")


def both_datasets(data: Path) -> list[datasets.Sample]:
    return datasets.find_all([DatasetSource(data / "carvana"), DatasetSource(data / "street", (CAR_LABEL,))])


# ------------------------------------------------------------------------------------------------ --data pairing
def test_sources_pair_folders_with_car_values_and_licences(tmp_path: Path) -> None:
    sources = dataset_sources(["a", tmp_path / "camvid_cars"], ["7,8", "any"], None)
    assert [source.car_values for source in sources] == [(7, 8), None]
    assert [source.license for source in sources] == ["unknown", "CC BY-NC 4.0 (non-commercial)"]  # known folder
    assert dataset_sources(["a"], [(8,)], ["mine"]) == [DatasetSource(Path("a"), (8,), "mine")]
    assert dataset_sources(["~/x"])[0].root == Path.home() / "x"
    assert dataset_sources([]) == []


@pytest.mark.parametrize(
    ("option", "car_values", "licenses", "message"),
    [
        ("--data", ["8"], None, "give one --car-values per --data (2), or none; got 1"),
        ("--data", None, ["a", "b", "c"], "give one --data-license per --data (2), or none; got 3"),
        ("--val-data", ["8"], None, "give one --val-car-values per --val-data (2), or none; got 1"),
        ("--val-data", None, ["a"], "give one --val-data-license per --val-data (2), or none; got 1"),
    ],
)
def test_sources_that_do_not_pair_up_are_refused(option, car_values, licenses, message) -> None:
    with pytest.raises(DatasetError) as raised:
        dataset_sources(["a", "b"], car_values, licenses, option=option)
    assert str(raised.value) == message


def test_car_values_text() -> None:
    assert datasets.parse_car_values("8") == (8,) and datasets.parse_car_values(" ANY ") is None
    with pytest.raises(ValueError, match="integers like 8 or 7,8"):
        datasets.parse_car_values("car")


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
    with pytest.raises(DatasetError, match="does not exist"):
        datasets.detect_layout(data / "nowhere")


def test_car_values_select_the_car_label(data: Path) -> None:
    sample = datasets.find_samples(DatasetSource(data / "street", (CAR_LABEL,)))[0][0]
    car = datasets.load_mask(sample)
    photo = np.asarray(Image.open(sample.image_path))
    assert car.shape == PHOTO_SIZE and car.any()
    assert (photo[car] == CAR_COLOR).all()
    assert datasets.load_mask(datasets.Sample(sample.image_path, sample.mask_path, "street", None)).all()


# ------------------------------------------------------------------------------------------------ split
def test_group_keys() -> None:
    assert datasets.group_key("0a1b2c3d4e5f_07") == GroupKey("", "0a1b2c3d4e5f")
    assert datasets.group_key("0001TP_006690") == GroupKey("0001TP", "0001TP/22")
    assert datasets.group_key("0001TP_006930") == GroupKey("0001TP", "0001TP/23")
    assert datasets.group_key("0016E5_04350") == GroupKey("0016E5", "0016E5/14")
    assert datasets.group_key("red-car_png.rf.2ccb926c61334b28b1367e4bfdbc679b") == GroupKey("", "red-car_png")
    assert datasets.group_key("car10") == GroupKey("", "car10")


def test_group_split_has_no_overlap(data: Path) -> None:
    samples = both_datasets(data)
    train, val = datasets.split_by_group(samples, 0.2, seed=3)
    assert len(train) + len(val) == len(samples) and val
    assert not {s.group for s in train} & {s.group for s in val}
    assert {s.image_path.stem[:12] for s in train if s.dataset == "carvana"}.isdisjoint(
        s.image_path.stem[:12] for s in val if s.dataset == "carvana"
    )
    for sequence in ("0001TP", "0016E5"):  # each sequence on both sides, in whole blocks
        assert any(s.group.stratum == sequence for s in train) and any(s.group.stratum == sequence for s in val)
    assert datasets.split_by_group(samples, 0.2, seed=3) == (train, val)


def test_every_nth_thins_the_datasets_named(data: Path) -> None:
    samples = both_datasets(data)
    thinned = datasets.every_nth(samples, {"street": 3})
    street = [s for s in samples if s.dataset == "street"]
    assert [s for s in thinned if s.dataset == "street"] == street[::3]
    assert [s for s in thinned if s.dataset == "carvana"] == [s for s in samples if s.dataset == "carvana"]


def test_find_split_by_group_or_with_separate_validation_data(data: Path) -> None:
    carvana, street = DatasetSource(data / "carvana"), DatasetSource(data / "street", (CAR_LABEL,))
    split = datasets.find_split([carvana, street], [], 0.2, seed=3)
    assert (split.train, split.val) == datasets.split_by_group(both_datasets(data), 0.2, seed=3)
    assert "20% of each dataset's groups (seed 3)" in split.description

    separate = datasets.find_split([carvana], [street], 0.2, seed=3)
    assert len(separate.train) == 16 and {s.dataset for s in separate.val} == {"street"}
    assert separate.description == "the separate validation dataset(s) street"
    assert datasets.count_by_dataset(separate.train + separate.val) == {"carvana": 16, "street": 16}


def test_find_split_refuses_a_dataset_too_small_to_split(tmp_path: Path, data: Path) -> None:
    one = tmp_path / "one"
    for folder in ("images", "masks"):
        (one / folder).mkdir(parents=True)
    for folder in ("images", "masks"):
        first = next((data / "street" / folder).iterdir())
        (one / folder / "car.png").write_bytes(first.read_bytes())
    with pytest.raises(DatasetError, match="the validation set is empty"):
        datasets.find_split([DatasetSource(one)], [], 0.2, seed=0)


# ------------------------------------------------------------------------------------------------ bad files, decoding
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
    cache = datasets.load_cache(samples, config, skip_bad=True)
    assert len(cache) == 16 and cache.images.shape == (16, 64, 64, 3) and cache.masks.shape == (16, 64, 64)
    assert set(np.unique(cache.masks)) <= {0, 1}


def test_no_tensorflow_is_imported() -> None:
    code = "import sys, carseg_model.datasets; print('tensorflow' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
