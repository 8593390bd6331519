import argparse

import pytest

from carseg_model.cli.options import color, output_kinds, positive_int, probability, scales


@pytest.mark.parametrize(
    "parse, text, value",
    [
        (positive_int, "3", 3),
        (probability, "0.25", 0.25),
        (probability, "1", 1.0),
        (color, "255,40,120", (255, 40, 120)),
        (color, "#00c853", (0, 200, 83)),
        (color, "red", (255, 0, 0)),
        (output_kinds, "mask, overlay,mask", ("mask", "overlay")),
        (scales, "1,1.25", (1.0, 1.25)),
        (scales, "1.5", (1.5,)),
    ],
)
def test_argument_types_read_what_they_document(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize(
    "parse, text, message",
    [
        (positive_int, "0", "positive integer"),
        (positive_int, "2.5", "positive integer"),
        (probability, "1.5", "from 0 to 1"),
        (probability, "high", "from 0 to 1"),
        (color, "255,40", "not a colour"),
        (color, "300,0,0", "not a colour"),
        (output_kinds, "mask,depth", "mask,cutout,overlay"),
        (output_kinds, ",", "mask,cutout,overlay"),
        (scales, "1,0", "positive numbers separated by commas"),
        (scales, "1;1.25", "positive numbers separated by commas"),
        (scales, "nan", "positive numbers separated by commas"),
    ],
)
def test_argument_types_refuse_with_what_is_accepted(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        parse(text)
