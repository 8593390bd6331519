"""Pipelining with threads: produce items ahead in one thread, consume them in another, queues bounded.

Decoding, the network and encoding release the GIL for most of their work, so on a few cores
these stages overlap. A worker's error is raised in the thread that uses the stage.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1


class _Stage:
    """A worker thread and the bounded queue it shares with the calling thread."""

    def __init__(self, depth: int) -> None:
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def put(self, item: object, worker: threading.Thread | None = None) -> bool:
        """Queue ``item``, waiting for room; False if the stage stopped (or ``worker`` died) first."""
        while not self.stopped.is_set() and (worker is None or worker.is_alive()):
            try:
                self.queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """Iterate ``items`` in a background thread, up to ``depth`` items ahead of the caller.

    An error raised while producing items is raised here, in order; closing the iterator early
    stops the thread.
    """
    stage = _Stage(depth)

    def produce() -> None:
        try:
            for item in items:
                if not stage.put(item):
                    return
        except BaseException as error:  # noqa: BLE001  (handed to the consumer)
            stage.error = error
        stage.put(_DONE)

    worker = threading.Thread(target=produce, name="carseg-prefetch", daemon=True)
    worker.start()
    try:
        while (item := stage.queue.get()) is not _DONE:
            yield item
        if stage.error is not None:
            raise stage.error
    finally:
        stage.stopped.set()
        worker.join()


@contextmanager
def consume_in_background(consume: Callable[[T], None], depth: int) -> Iterator[Callable[[T], None]]:
    """Yield a ``put(item)`` that hands items to ``consume`` in a background thread, in order.

    At most ``depth`` items wait. Leaving the block waits until every item is consumed; an error
    in ``consume`` is raised by the next ``put`` or on leaving the block.
    """
    stage = _Stage(depth)

    def drain() -> None:
        try:
            while not stage.stopped.is_set():
                try:
                    item = stage.queue.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if item is _DONE:
                    return
                consume(item)
        except BaseException as error:  # noqa: BLE001  (raised in the caller's thread)
            stage.error = error

    worker = threading.Thread(target=drain, name="carseg-consume", daemon=True)
    worker.start()

    def put(item: T) -> None:
        if not stage.put(item, worker) and stage.error is not None:
            raise stage.error

    try:
        yield put
    except BaseException:
        stage.stopped.set()  # the caller failed: drop what waits
        raise
    finally:
        stage.put(_DONE, worker)
        worker.join()
    if stage.error is not None:
        raise stage.error
