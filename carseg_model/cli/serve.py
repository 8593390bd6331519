"""``carseg serve``: the REST API (and the Gradio demo at ``/``) in one process, with uvicorn."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from carseg_model.cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from carseg_model.cli.models import load_model, runtime_backend
from carseg_model.cli.options import add_model_options, new_command, positive_int
from carseg_model.ports import port_problem


def add_parser(commands: Any) -> None:
    """Register ``carseg serve``."""
    parser = new_command(
        commands,
        "serve",
        "Serve the model over HTTP: a REST API, its OpenAPI docs and the Gradio demo.",
        "POST /v1/segment (multipart field `file`; ?output=mask|cutout|overlay|json, ...), GET /v1/models,\n"
        "GET /healthz, GET /readyz, the docs at /docs and the demo page at /. With CARSEG_API_KEY set,\n"
        "/v1/* and the demo need the header `Authorization: Bearer <key>`.\n"
        "An exported model (--model model.onnx, or --backend onnx|tflite) serves without TensorFlow, and so\n"
        "does the bundled model (its ONNX export) when ONNX Runtime is installed; --backend keras runs Keras.\n\n"
        "  carseg serve --port 8000\n"
        "  curl -F file=@car.jpg 'http://127.0.0.1:8000/v1/segment?output=cutout' -o car.png\n"
        "  carseg serve --model deploy/model.onnx --no-demo --concurrency 4",
    )
    server = parser.add_argument_group("server")
    server.add_argument("--host", default="127.0.0.1", help="interface to listen on; 0.0.0.0 for every interface")
    server.add_argument("--port", type=positive_int, default=8000, help="port to listen on")
    server.add_argument(
        "--concurrency", type=positive_int, default=2, metavar="N", help="photos segmented at once (worker threads)"
    )
    server.add_argument(
        "--queue-size",
        type=int,
        default=16,
        metavar="N",
        help="requests that may wait for a worker; more are refused with 503 and Retry-After",
    )
    server.add_argument(
        "--max-upload-mb", type=float, default=20.0, metavar="MB", help="largest upload; larger ones get 413"
    )
    server.add_argument(
        "--timeout", type=float, default=60.0, metavar="SECONDS", help="longest a request may take (504 after)"
    )
    server.add_argument(
        "--no-demo", dest="demo", action="store_false", help="do not mount the Gradio demo at / (default: mounted)"
    )
    add_model_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, then serve until interrupted (Ctrl+C or SIGTERM)."""
    import uvicorn

    from carseg_model import DEFAULT_MODEL
    from carseg_model.formats import format_of
    from carseg_model.heap import share_heaps_between_threads
    from carseg_model.serving import ServerSettings, create_app
    from carseg_model.serving.demo import DemoUnavailableError
    from carseg_model.serving.settings import api_key_from_environment

    try:
        settings = ServerSettings(
            concurrency=args.concurrency,
            queue_size=args.queue_size,
            max_upload_bytes=round(args.max_upload_mb * 2**20),
            timeout=args.timeout,
            api_key=api_key_from_environment(),
            demo=args.demo,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    problem = port_problem(args.host, args.port)  # before the model loads: say it at once
    if problem:
        raise UsageError(problem)
    share_heaps_between_threads()  # before the thread pools start: RSS stays flat over many requests
    name = args.model or DEFAULT_MODEL
    path = Path(name).expanduser()
    backend = runtime_backend(args)
    model = load_model(
        name, backend=backend, quantize=args.model_quantize, num_threads=args.threads, max_pixels=args.max_pixels
    )
    try:
        app = create_app(
            model,
            settings,
            model_id=args.model or Path(DEFAULT_MODEL).name,
            backend=format_of(path) if path.is_file() else backend or "keras",
        )
    except DemoUnavailableError as error:
        raise UsageError(str(error)) from error
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port))
    server.run()
    return EXIT_OK if server.started else EXIT_FAILED
