import json

import numpy as np
import pytest

from carseg_model.config import CONFIG_FILENAME, FORMAT_VERSION, CarSegConfig, check_threshold
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
        ({"input_shape": "keep_aspect", "test_time_scales": ()}, "test_time_scales must be one or more positive"),
        ({"input_shape": "keep_aspect", "test_time_scales": (1.0, 0)}, "test_time_scales"),
        ({"input_shape": "keep_aspect", "test_time_scales": "1.25"}, "test_time_scales"),
        ({"test_time_scales": (1.0, 1.25)}, "test_time_scales needs input_shape='keep_aspect'"),
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


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("threshold", "high", "threshold must be a number in"),
        ("threshold", "0.5", "threshold must be a number in"),
        ("input_size", "288x384", r"input_size must be \(height, width\)"),
        ("input_size", [288], r"input_size must be \(height, width\)"),
        ("test_time_flip", "false", "test_time_flip must be true or false"),
        ("decoder_dropout", 0, "decoder_dropout must be true or false"),
        ("max_pixels", 2.5, "max_pixels must be a positive whole number"),
        ("max_pixels", True, "max_pixels must be a positive whole number"),
        ("alpha", None, "alpha must be a positive number"),
        ("decoder_filters", "512,256", "decoder_filters must be 4 values"),
        ("card", [], "card must be a JSON object"),
    ],
)
def test_mistyped_config_file_names_the_file_and_the_field(tmp_path, field, value, message):
    (tmp_path / CONFIG_FILENAME).write_text(json.dumps(CarSegConfig().to_dict() | {field: value}))
    with pytest.raises(ConfigError, match=f"{CONFIG_FILENAME}: {message}") as raised:
        CarSegConfig.load(tmp_path)
    assert str(tmp_path) in str(raised.value) and "\n" not in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_a_config_file_that_is_not_an_object_is_refused(tmp_path):
    (tmp_path / CONFIG_FILENAME).write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        CarSegConfig.load(tmp_path)


def test_numpy_numbers_are_stored_as_plain_json_values(tmp_path):
    config = CarSegConfig(threshold=np.float32(0.25), max_pixels=np.int64(1000), input_size=np.array([64, 96]))
    assert type(config.threshold) is float and type(config.max_pixels) is int and config.input_size == (64, 96)
    config.save(tmp_path)
    assert CarSegConfig.load(tmp_path) == config


def test_replace_gives_a_checked_copy():
    config = CarSegConfig()
    raised = config.replace(max_pixels=200_000_000)
    assert raised.max_pixels == 200_000_000 and config.max_pixels == 50_000_000
    with pytest.raises(ConfigError, match="max_pixels"):
        config.replace(max_pixels=-1)


@pytest.mark.parametrize("value", ["0.5", None, 1.5, -0.1, float("nan"), True])
def test_check_threshold_accepts_real_numbers_in_0_1_only(value):
    with pytest.raises(ValueError, match="threshold must be a number in"):
        check_threshold(value)


def test_check_threshold_returns_a_float():
    assert check_threshold(1) == 1.0 and type(check_threshold(np.float32(0.5))) is float


def test_network_input_size_keeps_the_aspect_ratio_at_the_pixel_budget():
    from carseg_model.config import network_input_size

    stretch = CarSegConfig(input_size=(288, 384), encoder_weights=None)
    assert network_input_size((680, 1024), stretch) == (288, 384)
    aspect = stretch.replace(input_size=(320, 384), input_shape="keep_aspect")
    assert network_input_size((680, 1024), aspect) == (288, 416)
    assert network_input_size((1080, 1920), aspect) == (256, 480)  # 16:9 is not squashed
    assert network_input_size((1024, 680), aspect) == (416, 288)  # portrait
    assert network_input_size((31, 47), aspect) == (288, 416)  # small photos are enlarged to the budget
    assert network_input_size((10, 4000), aspect)[0] == 32  # a thin strip keeps at least 32 rows


def test_test_time_scales_are_saved_as_numbers_and_scale_the_pixel_budget(tmp_path):
    from carseg_model.config import network_input_size

    config = CarSegConfig(input_size=(320, 384), input_shape="keep_aspect", test_time_scales=[1, np.float32(1.25)])
    assert config.test_time_scales == (1.0, 1.25)
    config.save(tmp_path)
    assert CarSegConfig.load(tmp_path) == config
    assert json.loads((tmp_path / CONFIG_FILENAME).read_text())["test_time_scales"] == [1.0, 1.25]
    assert network_input_size((680, 1024), config, 1.25) == (352, 544)  # 1.5625x the (288, 416) budget


def test_old_configs_without_input_shape_stretch_as_before():
    data = CarSegConfig(encoder_weights=None).to_dict()
    del data["input_shape"]
    assert CarSegConfig.from_dict(data).input_shape == "stretch"
