"""`ServerSettings`: the limits and switches of a carseg REST server."""

from __future__ import annotations

import os
from dataclasses import dataclass

API_KEY_VARIABLE = "CARSEG_API_KEY"
"""The environment variable `carseg serve` reads the API key from (unset or empty: no key)."""


@dataclass(frozen=True)
class ServerSettings:
    """How much a server takes on; the model's ``config.max_pixels`` limits each photo's pixels.

    Attributes:
        concurrency: photos segmented at once, each in a worker thread sharing the model.
        queue_size: requests that may wait for a worker; more are refused with 503 and ``Retry-After``.
        max_upload_bytes: largest request body (the multipart upload); larger ones get 413.
        timeout: seconds a request may take, waiting included; slower ones get 504.
        api_key: when set, ``/v1/*`` and the demo need ``Authorization: Bearer <key>`` (401 otherwise).
        demo: mount the Gradio demo (``space/app.py``) at ``/``.
    """

    concurrency: int = 2
    queue_size: int = 16
    max_upload_bytes: int = 20 * 2**20
    timeout: float = 60.0
    api_key: str | None = None
    demo: bool = True

    def __post_init__(self) -> None:
        for name in ("concurrency", "max_upload_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.queue_size < 0 or self.timeout <= 0:
            raise ValueError(f"queue_size must be >= 0 and timeout > 0; got {self.queue_size} and {self.timeout}")


def api_key_from_environment() -> str | None:
    """The API key in ``$CARSEG_API_KEY``, or None when it is unset or empty."""
    return os.environ.get(API_KEY_VARIABLE) or None
