"""`create_app`: the carseg REST API (FastAPI) around one loaded model, with the Gradio demo at ``/``.

Routes: ``POST /v1/segment``, ``GET /v1/models``, ``GET /healthz`` (liveness), ``GET /readyz``
(ready once the model has answered its warm-up photo), ``/docs`` and ``/openapi.json``.
Every refusal is JSON ``{"error": "..."}``; predictions run in `WorkGate`'s worker threads.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from carseg_model.serving.demo import mount_demo
from carseg_model.serving.errors import ApiError
from carseg_model.serving.gate import DeadlineError, QueueFullError, WorkGate
from carseg_model.serving.limits import BodyLimit
from carseg_model.serving.options import SegmentOptions
from carseg_model.serving.segment import EncodedImage, segment_photo
from carseg_model.serving.settings import ServerSettings
from carseg_model.version import __version__

if TYPE_CHECKING:
    from carseg_model import CarSegModel

LOGGER = logging.getLogger("carseg.serve")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"application/json": {"example": {"error": "..."}}}}
    for status, description in {
        400: "empty upload",
        401: "missing or wrong API key",
        413: "upload or photo too large",
        415: "not an image carseg can read",
        422: "bad option",
        503: "queue full (see Retry-After)",
        504: "took longer than the server's time limit",
    }.items()
}


def create_app(
    model: CarSegModel,
    settings: ServerSettings = ServerSettings(),
    model_id: str = "carseg",
    backend: str = "keras",
) -> FastAPI:
    """The server's app for ``model`` (``model_id`` and ``backend`` are what ``/v1/models`` reports)."""
    gate = WorkGate(settings.concurrency, settings.queue_size)
    ready = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        def warm_up() -> None:  # the first call builds the runtime (Keras traces its graph): not on a visitor
            try:
                model.predict(np.zeros((64, 64, 3), np.uint8))
            except Exception:
                LOGGER.exception("the model failed on its warm-up photo; /readyz stays 503")
                return
            ready.set()

        warming = asyncio.get_running_loop().run_in_executor(None, warm_up)
        yield
        await warming
        gate.close()

    app = FastAPI(
        title="carseg",
        version=__version__,
        summary="Car segmentation: a photo in; its mask, cut-out or overlay, or JSON with the mask as COCO RLE, out.",
        lifespan=lifespan,
    )

    def authorized(request: Request) -> bool:
        if settings.api_key is None:
            return True
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(key.strip().encode(), settings.api_key.encode())

    def require_key(request: Request) -> None:
        if not authorized(request):
            raise ApiError(
                401,
                "missing or wrong API key: send the header Authorization: Bearer <key>",
                {"WWW-Authenticate": "Bearer"},
            )

    @app.exception_handler(ApiError)
    async def refused(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.message}, error.status, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "; ".join(map(_describe_problem, error.errors()))}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, error.status_code, error.headers)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: ERROR_RESPONSES[503]})
    async def readyz() -> JSONResponse:
        """Readiness: the model is loaded and has answered its warm-up photo."""
        if not ready.is_set():
            return JSONResponse({"error": "the model is warming up"}, 503, {"Retry-After": "1"})
        return JSONResponse({"status": "ready"})

    @app.get("/v1/models", tags=["segment"], dependencies=[Depends(require_key)])
    async def models() -> dict[str, Any]:
        """The model this server runs and its prediction settings."""
        config = model.config
        return {
            "models": [
                {
                    "id": model_id,
                    "backend": backend,
                    "ready": ready.is_set(),
                    "threshold": config.threshold,
                    "input_size": list(config.input_size),
                    "input_shape": config.input_shape,
                    "max_pixels": config.max_pixels,
                }
            ]
        }

    @app.post(
        "/v1/segment",
        tags=["segment"],
        dependencies=[Depends(require_key)],
        responses={
            200: {
                "description": "the image (png / jpeg / webp), or with output=json: width, height, car_fraction, "
                "box [left, top, right, bottom] (right and bottom exclusive; null without a car), threshold, "
                'and mask as uncompressed COCO RLE {"size": [height, width], "counts": [...]} (column-major, '
                "background run first)",
                "content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}, "application/json": {}},
            },
            **ERROR_RESPONSES,
        },
        response_model=None,
    )
    async def segment(
        options: Annotated[SegmentOptions, Query()],
        file: Annotated[UploadFile, File(description="the photo (JPEG, PNG, WebP, ...)")],
        background_image: Annotated[
            UploadFile | None, File(description="cutout: an image to put the car on, scaled to cover the photo")
        ] = None,
    ) -> Response:
        """Segment one photo: ``curl -F file=@car.jpg 'http://HOST/v1/segment?output=cutout' -o car.png``."""
        photo = await _read(file, "file")
        background = None if background_image is None else await _read(background_image, "background_image")
        try:
            answer = await gate.run(segment_photo, model, photo, options, background, timeout=settings.timeout)
        except QueueFullError as error:
            raise ApiError(503, str(error), {"Retry-After": str(error.retry_after)}) from error
        except DeadlineError as error:
            raise ApiError(
                504, f"the photo took longer than this server's limit of {settings.timeout:g} s; try a smaller photo"
            ) from error
        if isinstance(answer, EncodedImage):
            return Response(answer.content, media_type=answer.media_type)
        return JSONResponse(answer)

    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    if settings.demo:
        mount_demo(app, model, settings.max_upload_bytes, authorized if settings.api_key else None)
    return app


async def _read(upload: UploadFile, field: str) -> bytes:
    data = await upload.read()
    if not data:
        raise ApiError(400, f"{field}: the uploaded file is empty; send a photo")
    return data


def _describe_problem(problem: dict[str, Any]) -> str:
    """One validation problem as ``field: what is wrong`` (``loc`` is e.g. ``("query", "threshold")``)."""
    field = ".".join(map(str, problem["loc"][1:])) or problem["loc"][0]
    return f"{field}: {problem['msg'].removeprefix('Value error, ')}"
