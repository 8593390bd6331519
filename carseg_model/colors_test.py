import pytest

from carseg_model.colors import parse_color


@pytest.mark.parametrize(
    "text", ["#ff2878", "#FF2878", "rgb(255, 40, 120)", "255,40,120", " 255, 40, 120 ", (255, 40, 120)]
)
def test_parse_color_accepts_the_usual_spellings(text: object) -> None:
    assert parse_color(text) == (255, 40, 120)  # type: ignore[arg-type]


def test_parse_color_names() -> None:
    assert parse_color("red") == (255, 0, 0)


@pytest.mark.parametrize("text", ["", "nope", "256,0,0", "1,2", "-1,0,0", (1, 2), (300, 0, 0)])
def test_parse_color_refuses_with_a_clear_message(text: object) -> None:
    with pytest.raises(ValueError, match="is not a colour"):
        parse_color(text)  # type: ignore[arg-type]
