import pytest

from carseg_model.chunks import batched


def test_batched_keeps_order_and_last_short_chunk() -> None:
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(batched([], 3)) == []


@pytest.mark.parametrize("size", [0, -1, 2.5, "2", True])
def test_batched_refuses_bad_sizes(size: object) -> None:
    with pytest.raises(ValueError, match="positive whole number"):
        list(batched(range(3), size))  # type: ignore[arg-type]
