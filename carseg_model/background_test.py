import threading
import time

import pytest

from carseg_model.background import consume_in_background, prefetch


def test_prefetch_yields_every_item_in_order_from_another_thread() -> None:
    threads = set()

    def items():
        for index in range(20):
            threads.add(threading.current_thread())
            yield index

    assert list(prefetch(items(), depth=3)) == list(range(20))
    assert threading.current_thread() not in threads


def test_prefetch_raises_the_producers_error_after_its_items() -> None:
    def items():
        yield 1
        raise ValueError("damaged frame")

    iterator = prefetch(items(), depth=2)
    assert next(iterator) == 1
    with pytest.raises(ValueError, match="damaged frame"):
        next(iterator)


def test_closing_prefetch_early_stops_the_producer() -> None:
    produced = []

    def items():
        for index in range(1000):
            produced.append(index)
            yield index

    iterator = prefetch(items(), depth=2)
    assert next(iterator) == 0
    iterator.close()  # joins the thread
    assert len(produced) <= 5


def test_consume_in_background_consumes_everything_in_order_before_the_block_ends() -> None:
    consumed = []

    def consume(item: int) -> None:
        time.sleep(0.001)
        consumed.append(item)

    with consume_in_background(consume, depth=2) as put:
        for index in range(20):
            put(index)
    assert consumed == list(range(20))


def test_consume_in_background_raises_the_consumers_error_in_the_caller() -> None:
    def consume(item: int) -> None:
        if item == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with consume_in_background(consume, depth=1) as put:
            for index in range(1000):
                put(index)


def test_an_error_in_the_caller_stops_the_consumer() -> None:
    consumed = []
    with pytest.raises(KeyError):
        with consume_in_background(lambda item: (time.sleep(0.01), consumed.append(item)), depth=50) as put:
            for index in range(50):
                put(index)
            raise KeyError("stop")
    assert len(consumed) < 50
