import json

import pytest

from carseg_model.config import CONFIG_FILENAME, FORMAT_VERSION, CarSegConfig
from carseg_model.errors import ConfigError


def test_round_trip_through_json(tmp_path):
    config = CarSegConfig(input_size=(320, 480), alpha=0.5, norm_type="instancenorm", card={"model_name": "x"})
    config.save(tmp_path)
    assert CarSegConfig.load(tmp_path) == config
    saved = json.loads((tmp_path / CONFIG_FILENAME).read_text())
    assert saved["format_version"] == FORMAT_VERSION
    assert saved["input_size"] == [320, 480]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_size": (250, 256)}, "multiples of 32"),
        ({"decoder_filters": (64, 32)}, "4 values"),
        ({"norm_type": "layernorm"}, "norm_type"),
        ({"decoder_block": "pixelshuffle"}, "decoder_block"),
        ({"resize_method": "nearest"}, "resize_method"),
        ({"threshold": 1.5}, "threshold"),
        ({"max_pixels": 0}, "max_pixels"),
    ],
)
def test_invalid_values_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CarSegConfig(**kwargs)


def test_other_format_version_says_so(tmp_path):
    data = CarSegConfig().to_dict() | {"format_version": 99}
    (tmp_path / CONFIG_FILENAME).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="format_version 1.*99"):
        CarSegConfig.load(tmp_path)


def test_unknown_keys_are_refused(tmp_path):
    (tmp_path / CONFIG_FILENAME).write_text(json.dumps(CarSegConfig().to_dict() | {"colour": "red"}))
    with pytest.raises(ConfigError, match="unknown carseg config keys"):
        CarSegConfig.load(tmp_path)


def test_missing_file_says_which(tmp_path):
    with pytest.raises(ConfigError, match=CONFIG_FILENAME):
        CarSegConfig.load(tmp_path)


def test_configs_saved_before_decoder_block_existed_load_with_the_seed_decoder(tmp_path):
    data = CarSegConfig().to_dict()
    del data["decoder_block"]
    (tmp_path / CONFIG_FILENAME).write_text(json.dumps(data))
    assert CarSegConfig.load(tmp_path).decoder_block == "transpose"
