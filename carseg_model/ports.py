"""Checking a host and port before a server starts, so a taken port is one clear line, not a traceback."""

from __future__ import annotations

import errno
import socket


def port_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on ``host:port`` (bound as uvicorn and Gradio bind), or None if it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} is in use; pass --port N to use another port"
            return f"cannot listen on {host}:{port} ({error.strerror or error}); check --host and --port"
    return None
