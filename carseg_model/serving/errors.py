"""`ApiError`: a refusal the server answers with its status and ``{"error": message}``."""

from __future__ import annotations


class ApiError(Exception):
    """A request the server refuses: ``status`` (4xx / 503 / 504) and a one-line ``message`` saying what to do."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
