"""carseg Gradio Space: upload a photo, see the car highlighted, download its mask and cut-out.

Run ``python space/app.py`` (see ``--help``). The model comes from ``--model`` or the
``CARSEG_MODEL`` environment variable (a Hub repo id or a folder), else the bundled one.
Python API (gradio_client): ``/segment`` is stateless; ``/restyle`` is what the page calls
and reuses the session's cached prediction when only the style changes.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import io
import os
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.utils import get_upload_folder
from PIL import Image

try:
    import carseg_model  # noqa: F401  (a Space installs it from requirements.txt)
except ModuleNotFoundError:  # running from a checkout of the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carseg_model import (  # noqa: E402
    DEFAULT_MODEL,
    CarSegModel,
    ImageTooLargeError,
    InvalidImageError,
    SegmentationResult,
)
from carseg_model.colors import parse_color  # noqa: E402
from carseg_model.defaults import JPEG_QUALITY, OVERLAY_COLOR, OVERLAY_OPACITY  # noqa: E402
from carseg_model.files import atomic_write  # noqa: E402

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_PIXELS = 25_000_000
"""Largest photo the Space accepts: a 24 MP camera photo; keeps one request under ~0.5 GB."""
DEFAULT_COLOR = "#{:02x}{:02x}{:02x}".format(*OVERLAY_COLOR)
QUEUE_SIZE = 16
CONCURRENCY = 2  # requests running at once (the free Space has 2 CPU cores)

DESCRIPTION = """
# carseg: find the car in a photo
**Upload a photo** (drop a file, paste from the clipboard or use the webcam) **or click an example below.**
The car is tinted and outlined. Drag the sliders to restyle the result without re-running the network,
and download the black-and-white **mask** or the transparent **cut-out** (PNG, at your photo's full size).
"""
EMPTY_INFO = "Upload a photo or click an example to see the car highlighted here."


@dataclass(frozen=True)
class Prediction:
    """The network's answer for one photo, kept in the session so restyling does not re-run it."""

    source: str  # path of the uploaded file: the cache key
    result: SegmentationResult
    seconds: float


@dataclass(frozen=True)
class Rendering:
    """What the visitor sees and downloads for one prediction in one style."""

    photo: str  # the photo as the network saw it (EXIF-upright RGB): the "before" image
    overlay: str
    mask_png: str
    cutout_png: str
    info: str


class CarSegSpace:
    """The Space's event functions around one loaded model."""

    def __init__(self, model: CarSegModel) -> None:
        self.model = model

    def predict(self, photo: str | None, progress: gr.Progress) -> Prediction:
        """Run the network on the photo at ``photo``; bad files become a `gr.Error` that says why.

        The model's ``config.max_pixels`` (`MAX_PIXELS` for the Space: see `load_model`) refuses
        huge photos after reading only the file's header.
        """
        if photo is None:
            raise _error("No photo was sent: upload a photo or click an example.")
        name = Path(photo).name
        progress(0.2, desc="Finding the car")
        start = time.perf_counter()
        try:
            result = self.model.predict(photo)
        except ImageTooLargeError as error:  # the library's advice (raise max_pixels) is not the visitor's
            size = str(error).split(";")[0].replace(photo, name)
            megapixels = self.model.config.max_pixels / 1e6
            raise _error(
                f"{size}; this demo takes photos up to {megapixels:.0f} megapixels; please downscale it and try again."
            ) from error
        except InvalidImageError as error:
            raise _error(f"{str(error).replace(photo, name)}. Please try another photo.") from error
        return Prediction(photo, result, time.perf_counter() - start)

    def segment(
        self,
        photo: dict | None,
        threshold: float,
        color: str,
        opacity: float,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's idiom: it injects a tracker)
    ) -> tuple[str, str, str, str]:
        """API ``/segment``: photo and style -> overlay, mask PNG, cut-out PNG, info (no session state)."""
        rendering = render(self.predict(_photo_path(photo), progress), threshold, color, opacity)
        return rendering.overlay, rendering.mask_png, rendering.cutout_png, rendering.info

    def restyle(
        self,
        photo: dict | None,
        cached: Prediction | None,
        threshold: float,
        color: str,
        opacity: float,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's idiom: it injects a tracker)
    ) -> tuple[Prediction | None, str | None, tuple[str, str] | None, str | None, str | None, str]:
        """The page's function (API ``/restyle``): like /segment, plus the before/after pair.

        Reuses the session's cached prediction when the photo is the one it was made for,
        so moving a slider only redraws. A cleared photo clears the outputs.
        """
        path = _photo_path(photo)
        if path is None:
            return None, None, None, None, None, EMPTY_INFO
        reuse = cached is not None and cached.source == path
        prediction = cached if reuse else self.predict(path, progress)
        rendering = render(prediction, threshold, color, opacity, reused=reuse)
        before_after = (rendering.photo, rendering.overlay)
        return prediction, rendering.overlay, before_after, rendering.mask_png, rendering.cutout_png, rendering.info

    def example(self, photo: dict) -> tuple:
        """An example photo in the default style (cached by Gradio after its first use)."""
        _, *outputs = self.restyle(
            photo, None, self.model.config.threshold, DEFAULT_COLOR, OVERLAY_OPACITY, gr.Progress()
        )
        return tuple(outputs)


def render(prediction: Prediction, threshold: float, color: str, opacity: float, reused: bool = False) -> Rendering:
    """Draw the overlay and write it, the mask and the cut-out as files for one style (no network run).

    ``reused`` says that ``prediction`` was made for an earlier request (the info line says so).
    """
    try:
        result = prediction.result.with_threshold(threshold)
        overlay = result.overlay(color=parse_color(color), opacity=opacity)
    except (TypeError, ValueError) as error:
        raise _error(f"Cannot draw the result: {error}") from error
    stem = Path(prediction.source).stem
    return Rendering(
        photo=save_to_cache(result.image, f"{stem}.jpg"),
        overlay=save_to_cache(overlay, f"{stem}_overlay.jpg"),
        mask_png=save_to_cache(result.mask_image(), f"{stem}_mask.png"),
        cutout_png=save_to_cache(result.cutout(), f"{stem}_cutout.png"),
        info=describe(prediction, result, reused),
    )


_CACHE_LOCK = threading.Lock()


def save_to_cache(image: np.ndarray, name: str) -> str:
    """Write ``image`` as ``name`` (``.png`` lossless, ``.jpg`` for display) into Gradio's cache; return its path.

    Like Gradio's own cache, the folder is named by the content's hash, so identical results
    share a file, written once (`atomic_write`: a concurrent request never serves a
    half-written file; the lock keeps two requests from writing the same file at once).
    Readable names make the downloads readable (``car_mask.png``), and the PNGs are exactly
    the photo's size.
    """
    image_format = Image.registered_extensions()[Path(name).suffix]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, image_format, quality=JPEG_QUALITY)
    data = buffer.getvalue()
    path = Path(get_upload_folder()) / hashlib.sha256(data).hexdigest() / name
    with _CACHE_LOCK:
        if not path.exists():
            with atomic_write(path) as temporary:
                temporary.write_bytes(data)
    return str(path)


def describe(prediction: Prediction, result: SegmentationResult, reused: bool) -> str:
    """One Markdown line: the car's share of the photo, the prediction time and the photo's size."""
    height, width = result.mask.shape
    timing = f"prediction took {prediction.seconds:.2f} s" + (" (reused, not re-run)" if reused else "")
    return (
        f"**Car: {result.car_fraction:.1%} of the photo** · {timing} · "
        f"{width}×{height} px · threshold {result.threshold:.2f}"
    )


def _photo_path(photo: dict | None) -> str | None:
    """The uploaded photo's path on the server, from the upload's data as Gradio sends it.

    The events take their inputs unprocessed (``preprocess=False``): gr.Image's preprocessing
    opens uploads with PIL and fails with a generic error on files that are not images, while
    carseg's own loader handles EXIF rotation and odd pixel formats and says what is wrong.
    Gradio has already checked that the file is one of its uploads.
    """
    if photo is None:
        return None
    if not photo.get("path"):
        raise _error("The photo did not arrive as a file; please upload it again.")
    return photo["path"]


def _error(message: str) -> gr.Error:
    """A `gr.Error` for a visitor's mistake (no server-side traceback)."""
    return gr.Error(message, print_exception=False)


def example_photos() -> list[str]:
    """The example photos shipped in ``space/examples``, cars first."""
    return [str(path) for path in sorted(EXAMPLES_DIR.glob("*.jpg"), key=lambda p: ("car" not in p.name, p.name))]


def png_download(label: str, elem_id: str) -> gr.Image:
    """A small read-only PNG output with a download button (lossless: masks must stay 0/255)."""
    return gr.Image(
        label=label, format="png", interactive=False, height=160, buttons=["download", "fullscreen"], elem_id=elem_id
    )


def build_demo(model: CarSegModel) -> gr.Blocks:
    """The Space's page and API around ``model`` (queue configured; call ``.launch()``)."""
    space = CarSegSpace(model)
    with gr.Blocks(title="carseg: find the car in a photo", delete_cache=(3600, 3600), analytics_enabled=False) as demo:
        gr.Markdown(DESCRIPTION)
        cached = gr.State(None, time_to_live=3600)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                photo = gr.Image(
                    label="Your photo",
                    sources=["upload", "clipboard", "webcam"],
                    height=360,
                    elem_id="photo",
                )
                threshold = gr.Slider(
                    0.05,
                    0.95,
                    value=model.config.threshold,
                    step=0.05,
                    label="Car threshold",
                    info="Lower marks more pixels as car, higher fewer.",
                    elem_id="threshold",
                )
                with gr.Row():
                    color = gr.ColorPicker(DEFAULT_COLOR, label="Overlay colour")
                    opacity = gr.Slider(0.0, 1.0, value=OVERLAY_OPACITY, step=0.05, label="Overlay opacity")
            with gr.Column(scale=1):
                info = gr.Markdown(EMPTY_INFO, label="Info", elem_id="info")
                with gr.Tabs():
                    with gr.Tab("Overlay"):
                        overlay = gr.Image(
                            label="Car overlay",
                            interactive=False,
                            height=360,
                            buttons=["download", "fullscreen"],
                            elem_id="overlay",
                        )
                    with gr.Tab("Before / after"):
                        before_after = gr.ImageSlider(
                            label="Photo / overlay (drag the handle)",
                            interactive=False,
                            max_height=360,
                            buttons=["fullscreen"],
                        )
                with gr.Row():
                    mask = png_download("Mask (PNG)", elem_id="mask")
                    cutout = png_download("Cut-out (PNG)", elem_id="cutout")
        examples = gr.Examples(
            example_photos(),
            inputs=[photo],
            outputs=[overlay, before_after, mask, cutout, info],
            fn=space.example,
            cache_examples=True,
            cache_mode="lazy",
            preprocess=False,
            label="Example photos (click one)",
        )
        style = [threshold, color, opacity]
        gr.on(
            [photo.input, threshold.input, color.input, opacity.input],
            space.restyle,
            inputs=[photo, cached, *style],
            outputs=[cached, overlay, before_after, mask, cutout, info],
            api_name="restyle",
            preprocess=False,
            concurrency_id="carseg",
            trigger_mode="always_last",
        )
        # An example shows its cached result in the default style: show the default controls too.
        examples.load_input_event.then(
            lambda: (model.config.threshold, DEFAULT_COLOR, OVERLAY_OPACITY),
            outputs=style,
            api_visibility="private",
            queue=False,
        )
        gr.on(  # no trigger on the page: the stateless API endpoint
            [],
            space.segment,
            inputs=[photo, *style],
            outputs=[overlay, mask, cutout, info],
            api_name="segment",
            preprocess=False,
            concurrency_id="carseg",
        )
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def load_model(name: str) -> CarSegModel:
    """Load the model, refusing photos above `MAX_PIXELS`, and run it once, so the first visitor does not
    wait for TensorFlow's tracing."""
    model = CarSegModel.from_pretrained(name, max_pixels=MAX_PIXELS)
    model.predict(np.zeros((64, 64, 3), dtype=np.uint8))
    return model


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command line, with Gradio's usual environment variables as defaults."""
    parser = argparse.ArgumentParser(description="Serve the carseg car-segmentation demo (Gradio).")
    parser.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="interface to listen on (env GRADIO_SERVER_NAME; default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        help="port (env GRADIO_SERVER_PORT; default 7860)",
    )
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument(
        "--model",
        default=os.environ.get("CARSEG_MODEL", DEFAULT_MODEL),
        help="Hub repo id or model folder (env CARSEG_MODEL; default: the bundled model)",
    )
    return parser.parse_args(argv)


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (bound the way Gradio binds), or None if it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} is in use (another demo?); pass --port N to use another port"
            return f"cannot listen on {host}:{port} ({error.strerror or error}); check --host and --port"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model once and serve the page until interrupted; exit code 2 if it cannot start."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow start-up chatter
    args = parse_args(argv)
    problem = port_problem(args.host, args.port)  # before the model loads: say it at once
    if problem:
        print(f"space/app.py: error: {problem}", file=sys.stderr)
        return 2
    demo = build_demo(load_model(args.model))
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size="100mb",
        theme=gr.themes.Soft(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
