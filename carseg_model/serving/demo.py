"""Mount the Gradio demo (``space/app.py`` of a checkout) at ``/`` of the REST server."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request

if TYPE_CHECKING:
    from carseg_model import CarSegModel

SPACE_APP = Path(__file__).resolve().parents[2] / "space" / "app.py"
"""The demo's module: beside the package in a checkout (an installed wheel does not ship it)."""


class DemoUnavailableError(RuntimeError):
    """The demo cannot be served (no ``space/app.py`` beside the package, or no Gradio)."""


def mount_demo(
    app: FastAPI, model: CarSegModel, max_upload_bytes: int, authorized: Callable[[Request], bool] | None = None
) -> None:
    """Mount ``space/app.py``'s ``build_demo(model)`` at ``/``; with ``authorized``, requests it refuses get 401."""
    if not SPACE_APP.is_file():
        raise DemoUnavailableError(
            f"the demo page needs {SPACE_APP} (run from a checkout of carseg), or pass --no-demo"
        )
    try:
        import gradio as gr
    except ImportError as error:
        raise DemoUnavailableError(
            f"the demo page needs Gradio: pip install 'carseg[space]', or pass --no-demo ({error})"
        ) from error
    spec = importlib.util.spec_from_file_location("carseg_space_app", SPACE_APP)
    space = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    spec.loader.exec_module(space)
    auth_dependency = None if authorized is None else (lambda request: "api-key" if authorized(request) else None)
    gr.mount_gradio_app(
        app,
        space.build_demo(model),
        path="/",
        auth_dependency=auth_dependency,
        max_file_size=max_upload_bytes,
        theme=gr.themes.Soft(),
    )
