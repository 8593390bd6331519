"""`WorkGate`: run blocking jobs in a fixed thread pool, with a bounded queue and a deadline per request."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class QueueFullError(Exception):
    """Every worker is busy and the queue is full; ``retry_after`` is a guess in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the server is busy (every worker busy and the queue full); retry in {retry_after} s")
        self.retry_after = retry_after


class DeadlineError(Exception):
    """The request ran past its time limit (waiting for a worker included)."""


class WorkGate:
    """At most ``concurrency`` jobs run at once, in threads; at most ``queue_size`` more wait; the rest are refused.

    A job that runs past its request's deadline keeps its worker until it ends (a thread cannot be
    stopped), so a slow photo never lets more jobs run than there are workers. Used from one event loop.
    """

    def __init__(self, concurrency: int, queue_size: int) -> None:
        self.concurrency = concurrency
        self.capacity = concurrency + queue_size
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="carseg-worker")
        self._workers = asyncio.Semaphore(concurrency)
        self._admitted = 0
        self._mean_seconds = 0.1  # running mean of a job's time, for Retry-After

    async def run(self, job: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run ``job(*args)`` in a worker within ``timeout`` seconds, waiting included.

        Raises `QueueFullError` at once when the queue is full, `DeadlineError` when time runs out.
        """
        if self._admitted >= self.capacity:
            raise QueueFullError(self.retry_after())
        self._admitted += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        acquired = False
        try:
            acquired = await asyncio.wait_for(self._workers.acquire(), timeout)
        except asyncio.TimeoutError:
            raise DeadlineError from None
        finally:
            if not acquired:  # timed out, or the request was cancelled while it waited
                self._admitted -= 1
        start = time.perf_counter()
        future = loop.run_in_executor(self._executor, job, *args)
        future.add_done_callback(lambda _: self._release(time.perf_counter() - start))
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            raise DeadlineError from None

    def retry_after(self) -> int:
        """Seconds until a full queue has likely room again (at least 1)."""
        return max(1, math.ceil(self._mean_seconds * self.capacity / self.concurrency))

    def close(self) -> None:
        """Stop the workers once their jobs end; queued jobs are dropped."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _release(self, seconds: float) -> None:
        self._mean_seconds += 0.1 * (seconds - self._mean_seconds)
        self._admitted -= 1
        self._workers.release()
