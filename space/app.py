"""carseg Gradio Space: drop a photo of a car, get it cut out, on a new background, as files.

Run ``python space/app.py`` (see ``--help``). The model comes from ``--model`` or the
``CARSEG_MODEL`` environment variable (a Hub repo id or a folder), else the bundled one.
``build_demo(model)`` returns the page as ``gr.Blocks`` (a server can mount it).

How a request flows: the network runs once per distinct photo; its network-size probabilities
and a display-size copy of the photo go into a small LRU cache keyed by the photo's hash, so
moving a control redraws display-size previews in milliseconds. The full-size files for the
downloads are written in a second step from the photo file, and no full-size array outlives
its request. Every file written is one Gradio returns, so Gradio deletes it (`DELETE_CACHE`).
Python API (gradio_client): ``/segment`` and ``/segment_url`` (see space/README.md).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import http.client
import io
import ipaddress
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
from gradio.route_utils import delete_files_created_by_app
from gradio.utils import get_upload_folder
from huggingface_hub import ModelCard

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
from carseg_model.defaults import OVERLAY_COLOR, OVERLAY_OPACITY  # noqa: E402
from carseg_model.encoding import encode_image  # noqa: E402
from carseg_model.files import atomic_write  # noqa: E402
from carseg_model.heap import share_heaps_between_threads  # noqa: E402
from carseg_model.hub import BUNDLED_DIR, looks_like_path, resolve_model_folder  # noqa: E402
from carseg_model.image_io import Photo, open_photo  # noqa: E402
from carseg_model.model import bundled_model_backend  # noqa: E402
from carseg_model.ports import port_problem  # noqa: E402

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
MAX_PIXELS = 25_000_000
"""Largest photo the Space accepts: a 24 MP camera photo."""
PREVIEW_LONG_SIDE = 1280
"""Long side of the page's previews, in pixels (the downloads keep the photo's size)."""
PREDICTIONS_KEPT = 8
"""Recent predictions kept (LRU, all sessions together): at most ~4 MB each, so ~35 MB in all."""
DELETE_CACHE = (300, 900)
"""Gradio deletes the files it served every 5 minutes once they are 15 minutes old, and at shutdown."""
BATCH_MAX_PHOTOS = 20
URL_MAX_BYTES = 25 * 1024 * 1024
URL_TIMEOUT_S = 10.0
URL_MAX_REDIRECTS = 3
DEFAULT_COLOR = "#{:02x}{:02x}{:02x}".format(*OVERLAY_COLOR)
QUEUE_SIZE = 32
CONCURRENCY = 2  # requests running at once (the free Space has 2 CPU cores)
CODE_REPOSITORY = "https://github.com/carseg/carseg"

BACKGROUNDS = {  # the page's choice -> the background `SegmentationResult.composite` takes
    "Transparent": "transparent",
    "White": "#ffffff",
    "Colour": None,  # the colour picker's value
    "Blurred photo": "blur",
    "Your image": None,  # the uploaded background image
}
DESCRIPTION = """
# carseg: cut the car out of a photo
**Drop a photo** (file, clipboard, webcam or a web address) **or click an example.** Drag the slider to
compare; pick a background, keep only the main car, crop to it; download the full-size PNGs.
"""
EMPTY_INFO = "Upload a photo or click an example: the cut-out appears here."
CHECKER_SQUARE = 16


# ---------------------------------------------------------------- predictions
@dataclass(frozen=True)
class Prediction:
    """The network's answer for one photo: what redrawing the page needs, and nothing full-size."""

    network_probabilities: np.ndarray
    preview: np.ndarray | None  # the photo at display size, (h, w, 3) uint8 RGB; None until the page shows it
    size: tuple[int, int]  # (height, width) of the photo
    seconds: float  # the prediction's time


class PredictionCache:
    """A bounded LRU of recent predictions keyed by the photo file's SHA-256, shared by all sessions.

    Chosen over ``gr.State``: its memory is bounded by `PREDICTIONS_KEPT`, whatever the number of
    sessions, and it also serves the API and repeated examples. A visitor can only hit an entry by
    sending the very same bytes.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Prediction] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Prediction | None:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            return self._entries.get(key)

    def put(self, key: str, prediction: Prediction) -> None:
        with self._lock:
            self._entries[key] = prediction
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


@dataclass(frozen=True)
class Style:
    """Everything the visitor chose besides the photo."""

    threshold: float = 0.5
    main_car: bool = False
    crop: bool = False
    background: str = "Transparent"
    background_color: str = "#ffffff"
    background_image: str | None = None
    shadow: bool = False
    overlay_color: str = DEFAULT_COLOR
    overlay_opacity: float = OVERLAY_OPACITY

    def apply(self, result: SegmentationResult) -> SegmentationResult:
        """The result cut at the threshold, restricted to the main car and cropped, as chosen."""
        result = result.with_threshold(self.threshold)
        if self.main_car:
            result = result.main_car()
        if self.crop and result.box is not None:
            result = result.crop()
        return result

    def composite_background(self) -> str:
        """The background for `SegmentationResult.composite`."""
        if self.background not in BACKGROUNDS:
            raise _error(f"Unknown background {self.background!r}; choose one of {', '.join(BACKGROUNDS)}.")
        if self.background == "Colour":
            return "#{:02x}{:02x}{:02x}".format(*parse_color(self.background_color))
        if self.background == "Your image":
            if not self.background_image:
                raise _error("Choose a background image first (the 'Your image' box under the backgrounds).")
            return self.background_image
        return BACKGROUNDS[self.background]

    def composite(self, result: SegmentationResult, checkered: bool = False) -> np.ndarray:
        """The car on the chosen background: RGB, or RGBA for the transparent background
        (RGB on a checkerboard with ``checkered``, as image editors show transparency)."""
        background = self.composite_background()
        if checkered and isinstance(background, str) and background == "transparent":
            background = checkerboard(*result.size)
        return result.composite(background=background, shadow=self.shadow)

    def overlay(self, result: SegmentationResult) -> np.ndarray:
        return result.overlay(color=parse_color(self.overlay_color), opacity=self.overlay_opacity)


@dataclass(frozen=True)
class PagePreviews:
    """What the page shows for one photo in one style (display size)."""

    before_after: tuple[str, str]
    overlay: str
    mask: str
    info: str


class CarSegSpace:
    """The Space's event functions around one loaded model."""

    def __init__(self, model: CarSegModel) -> None:
        self.model = model
        self.predictions = PredictionCache(PREDICTIONS_KEPT)

    # ------------------------------------------------------------ predicting
    def predict(self, photo: str, preview: bool = False) -> tuple[SegmentationResult, Prediction, bool]:
        """The full-size result for the photo file at ``photo``, its cached `Prediction`, and whether it was reused.

        With ``preview`` (the page's display-size previews come next) the prediction gets the photo at
        display size, made once and kept; it is decoded in a background thread beside the network.
        Without (full-size images come next), the photo's full-size pixels start decoding in a
        background thread once the network has run (beside it, the two would only share the cores:
        measured no faster). Bad files become a `gr.Error` that says why, in the visitor's words.
        """
        key = file_hash(photo)
        try:
            opened = open_photo(photo, self.model.config.max_pixels)
            prediction = self.predictions.get(key)
            reused = prediction is not None
            shown = None
            if preview and (not reused or prediction.preview is None):
                shown = _CODECS.submit(preview_pixels, opened)
            if not reused:
                start = time.perf_counter()
                source = opened.pixels() if opened.decoded else photo  # a JPEG is decoded (reduced) for the network
                probabilities = self.model.predict(source).network_probabilities
                prediction = Prediction(probabilities, None, opened.size, time.perf_counter() - start)
            if shown is not None:
                prediction = replace(prediction, preview=shown.result())
            elif not preview:
                _CODECS.submit(opened.pixels)
            result = SegmentationResult(
                opened, prediction.network_probabilities, self.model.config.threshold, self.model.config.refine_edges
            )
        except ImageTooLargeError as error:  # the library's advice (raise max_pixels) is not the visitor's
            size = str(error).split(";")[0].replace(photo, Path(photo).name)
            raise _error(
                f"{size}; this demo takes photos up to {MAX_PIXELS / 1e6:.0f} megapixels: "
                "please downscale it and try again."
            ) from error
        except InvalidImageError as error:
            raise _error(f"{str(error).replace(photo, Path(photo).name)}. Please try another photo.") from error
        self.predictions.put(key, prediction)
        return result, prediction, reused

    def previews(self, photo: str, style: Style) -> PagePreviews:
        """Display-size before/after, overlay and mask for the page, and the info line."""
        _, prediction, reused = self.predict(photo, preview=True)
        display = SegmentationResult.from_arrays(prediction.preview, prediction.network_probabilities)
        styled = _drawing(style.apply, display)
        stem = Path(photo).stem
        before, after, overlay, mask = cache_images(
            {
                f"{stem}.jpg": lambda: styled.image,
                f"{stem}_result.jpg": lambda: _drawing(functools.partial(style.composite, checkered=True), styled),
                f"{stem}_overlay.jpg": lambda: _drawing(style.overlay, styled),
                f"{stem}_mask.png": styled.mask_image,
            }
        )
        return PagePreviews((before, after), overlay, mask, describe(prediction, styled, style, reused))

    def downloads(self, photo: str, style: Style) -> list[str]:
        """Full-size files: the mask, the transparent cut-out and, with a background, the composite."""
        result, _, _ = self.predict(photo)
        styled = _drawing(style.apply, result)
        stem = Path(photo).stem
        drawings = {
            f"{stem}_mask.png": styled.mask_image,
            f"{stem}_cutout.png": lambda: styled.composite(background="transparent", shadow=style.shadow),
        }
        if style.background != "Transparent":
            drawings[f"{stem}_{slug(style.background)}.jpg"] = lambda: _drawing(style.composite, styled)
        return cache_images(drawings)

    # ------------------------------------------------------------ the page
    def show(self, photo: dict | None, *controls: object) -> tuple:
        """The page's function for a photo and controls: previews, info, and the photo's path for the downloads.

        A visitor's mistake clears the old result and says what went wrong in the info line.
        """
        path = _photo_path(photo)
        if path is None:
            return None, None, None, EMPTY_INFO, None
        try:
            page = self.previews(path, Style(*controls))
        except gr.Error as error:
            gr.Warning(error.message)
            return None, None, None, f"**Could not use this photo.** {error.message}", None
        return page.before_after, page.overlay, page.mask, page.info, path

    def show_url(self, url: str, *controls: object) -> tuple:
        """Fetch the photo at ``url`` into the photo box, then like `show`."""
        try:
            path = self.fetch(url)
        except gr.Error as error:
            gr.Warning(error.message)
            return gr.update(), None, None, None, f"**Could not fetch the photo.** {error.message}", None
        return path, *self.show({"path": path}, *controls)

    def page_downloads(self, path: str | None, *controls: object) -> list[str] | None:
        """The page's second step: full-size downloads for the photo `show` displayed (none after an error)."""
        if path is None:
            return None
        try:
            return self.downloads(path, Style(*controls))
        except gr.Error as error:
            gr.Warning(error.message)
            return None

    def fetch(self, url: str) -> str:
        """Download the image at ``url`` (public addresses only) into Gradio's cache; return its path."""
        try:
            name, data = fetch_image(url)
        except URLError as error:
            raise _error(str(error)) from error
        return cache_bytes(data, name)

    def batch(
        self, files: list[str] | None, main_car: bool, crop: bool, progress: gr.Progress = gr.Progress()
    ) -> tuple:  # noqa: B008
        """Several photos -> one zip of their masks, cut-outs and overlays (built in memory)."""
        paths = [file if isinstance(file, str) else file["path"] for file in files or []]
        if not paths:
            raise _error("Add some photos first.")
        if len(paths) > BATCH_MAX_PHOTOS:
            raise _error(f"{len(paths)} photos: this demo does up to {BATCH_MAX_PHOTOS} at once.")
        style = Style(threshold=self.model.config.threshold, main_car=main_car, crop=crop)
        archive, problems = io.BytesIO(), []
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zipped:  # PNG and JPEG are compressed already
            for path in progress.tqdm(paths, desc="Cutting out"):
                try:
                    result, _, _ = self.predict(path)
                except gr.Error as error:
                    problems.append(f"- {Path(path).name}: {error.message}")
                    continue
                styled = style.apply(result)
                stem = Path(path).stem
                for name, image in (
                    (f"{stem}_mask.png", styled.mask_image()),
                    (f"{stem}_cutout.png", styled.composite(background="transparent")),
                    (f"{stem}_overlay.jpg", style.overlay(styled)),
                ):
                    zipped.writestr(name, encode_image(image, Path(name).suffix))
        done = len(paths) - len(problems)
        if done == 0:
            raise _error("None of the photos could be used:\n" + "\n".join(problems))
        summary = f"**{done} of {len(paths)} photos cut out.**" + (
            "\n\nSkipped:\n" + "\n".join(problems) if problems else ""
        )
        return cache_bytes(archive.getvalue(), "carseg_cutouts.zip"), summary

    # ------------------------------------------------------------ the API
    def segment(self, photo: dict | None, threshold: float, color: str, opacity: float) -> tuple[str, str, str, str]:
        """API ``/segment``: photo and style -> full-size overlay JPEG, mask PNG, cut-out PNG, info."""
        path = _photo_path(photo)
        if path is None:
            raise _error("No photo was sent: send a photo file.")
        return self.segment_file(path, Style(threshold=threshold, overlay_color=color, overlay_opacity=opacity))

    def segment_url(self, url: str, threshold: float, color: str, opacity: float) -> tuple[str, str, str, str]:
        """API ``/segment_url``: like ``/segment`` for the image at a public web address."""
        return self.segment_file(
            self.fetch(url), Style(threshold=threshold, overlay_color=color, overlay_opacity=opacity)
        )

    def segment_file(self, path: str, style: Style) -> tuple[str, str, str, str]:
        result, prediction, reused = self.predict(path)
        styled = _drawing(style.apply, result)
        stem = Path(path).stem
        overlay, mask, cutout = cache_images(
            {
                f"{stem}_overlay.jpg": lambda: _drawing(style.overlay, styled),
                f"{stem}_mask.png": styled.mask_image,
                f"{stem}_cutout.png": styled.cutout,
            }
        )
        return overlay, mask, cutout, describe(prediction, styled, style, reused)


def _drawing(draw: Callable[[SegmentationResult], object], result: SegmentationResult):
    """``draw(result)``, with the library's complaints about a control's value as a `gr.Error`."""
    try:
        return draw(result)
    except (TypeError, ValueError) as error:
        raise _error(f"Cannot draw the result: {error}") from error


# ---------------------------------------------------------------- pictures and files
def preview_pixels(photo: Photo) -> np.ndarray:
    """The photo with its long side at most `PREVIEW_LONG_SIDE` (a JPEG is decoded at reduced size)."""
    height, width = photo.size
    scale = min(1.0, PREVIEW_LONG_SIDE / max(height, width))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    pixels = photo.reduced(size)
    if pixels.shape[:2] == size:
        return pixels
    return cv2.resize(pixels, size[::-1], interpolation=cv2.INTER_AREA)


@functools.lru_cache(maxsize=8)
def checkerboard(height: int, width: int) -> np.ndarray:
    """A light-grey checkerboard, ``(height, width, 3)`` uint8 RGB (read-only: kept for the next preview)."""
    rows, columns = np.ogrid[:height, :width]
    board = np.where((rows // CHECKER_SQUARE + columns // CHECKER_SQUARE) % 2 == 0, 255, 214).astype(np.uint8)
    board = np.repeat(board[:, :, None], 3, axis=2)
    board.flags.writeable = False
    return board


_CODECS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="carseg-codec")
"""Decoding, drawing and encoding threads (a photo's decode and its three outputs): OpenCV, numpy and the
codecs mostly run without the GIL."""
_CACHE_LOCK = threading.Lock()


def cache_images(drawings: dict[str, Callable[[], np.ndarray]]) -> list[str]:
    """Draw the images and encode each by its name's suffix, all in threads; write them into Gradio's cache
    once all are done (a drawing that fails leaves no file); their paths, in order."""
    futures = [(name, _CODECS.submit(_draw_and_encode, draw, Path(name).suffix)) for name, draw in drawings.items()]
    encoded = [(name, future.result()) for name, future in futures]
    return [cache_bytes(data, name) for name, data in encoded]


def _draw_and_encode(draw: Callable[[], np.ndarray], suffix: str) -> bytes:
    return encode_image(draw(), suffix)


def cache_bytes(data: bytes, name: str) -> str:
    """Write ``data`` as ``name`` into Gradio's cache (a folder named by its hash); return the path.

    Gradio tracks the files an event returns and deletes them (`DELETE_CACHE`), so only files the
    page is sent may be written here. Identical outputs share one file, written atomically once.
    """
    path = Path(get_upload_folder()) / hashlib.sha256(data).hexdigest() / Path(name).name
    with _CACHE_LOCK:
        if not path.exists():
            with atomic_write(path) as temporary:
                temporary.write_bytes(data)
    return str(path)


def file_hash(path: str) -> str:
    """SHA-256 of a file's bytes: the prediction cache's key."""
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as error:
        raise _error(f"Cannot read {Path(path).name}: {error.strerror or error}. Please upload it again.") from error


def slug(text: str) -> str:
    return "_".join(text.lower().split())


def describe(prediction: Prediction, result: SegmentationResult, style: Style, reused: bool) -> str:
    """One Markdown line: the car's share of the photo (or "No car found"), the time, the size and the threshold."""
    height, width = prediction.size
    timing = f"prediction took {prediction.seconds:.2f} s" + (" (reused, not re-run)" if reused else "")
    facts = f"{timing} · {width}×{height} px · threshold {style.threshold:.2f}"
    if result.box is None:
        return f"**No car found in this photo.** Try a lower threshold, or a photo where a car is clearly visible. · {facts}"
    share = result.car_fraction if not style.crop else None
    found = f"**Car: {share:.1%} of the photo**" if share is not None else "**Car found** (cropped to it)"
    return f"{found} · {facts}" + (" · main car only" if style.main_car else "")


# ---------------------------------------------------------------- fetching a web address
class URLError(ValueError):
    """A web address that cannot or may not be fetched; the message says why, for the visitor."""


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for addresses on the public internet: not private, loopback, link-local, multicast or reserved."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def fetch_image(
    url: str,
    *,
    resolve: Callable[..., list] = socket.getaddrinfo,
    allowed: Callable[[ipaddress.IPv4Address | ipaddress.IPv6Address], bool] = is_public_address,
    max_bytes: int = URL_MAX_BYTES,
    timeout: float = URL_TIMEOUT_S,
) -> tuple[str, bytes]:
    """GET ``url`` as the server: ``(file name, bytes)`` of an image of at most ``max_bytes``, within ``timeout`` s.

    Every address the host resolves to must pass ``allowed`` (public addresses by default; tests
    pass their own), and the connection goes to a checked address, so a second DNS answer cannot
    point it elsewhere. Redirects are followed (`URL_MAX_REDIRECTS`) and checked the same way.
    Raises `URLError` saying what was wrong.
    """
    deadline = time.monotonic() + timeout
    for _ in range(URL_MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise URLError(f"{url[:100]!r} is not a web address; paste one that starts with https://")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as error:
            raise URLError(f"the address has a bad port: {error}") from error
        address = _checked_address(parts.hostname, port, resolve, allowed)
        connection = _connect(parts.scheme, parts.hostname, port, address, timeout)
        try:
            target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            connection.request("GET", target, headers={"User-Agent": "carseg-space", "Accept": "image/*"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urllib.parse.urljoin(url, response.getheader("Location"))
                continue
            if response.status != 200:
                raise URLError(f"{parts.hostname} answered {response.status} {response.reason}")
            return Path(parts.path).name or "photo", _read_limited(response, max_bytes, deadline)
        except (OSError, http.client.HTTPException) as error:
            raise URLError(f"cannot fetch {parts.hostname}: {error}") from error
        finally:
            connection.close()
    raise URLError(f"more than {URL_MAX_REDIRECTS} redirects")


def _checked_address(host: str, port: int, resolve: Callable[..., list], allowed: Callable) -> str:
    try:
        answers = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise URLError(f"cannot find the server {host!r}") from error
    addresses = [ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers]
    refused = [address for address in addresses if not allowed(address)]
    if refused or not addresses:
        raise URLError(
            f"{host} is a private, loopback or link-local address ({refused[0] if refused else 'none'}): "
            "only public web addresses are fetched"
        )
    return str(addresses[0])


def _connect(scheme: str, host: str, port: int, address: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to ``host`` made to the checked ``address`` (TLS still verifies ``host``'s certificate)."""
    try:
        sock = socket.create_connection((address, port), timeout=timeout)
    except OSError as error:
        raise URLError(f"cannot connect to {host}: {error.strerror or error}") from error
    if scheme == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        try:
            sock = context.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError) as error:
            sock.close()
            raise URLError(f"no secure connection to {host}: {error}") from error
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    connection.sock = sock
    return connection


def _read_limited(response: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    limit = f"this demo fetches images up to {max_bytes // 2**20} MB"
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise URLError(f"the image is {int(length) / 2**20:.0f} MB; {limit}")
    chunks, size = [], 0
    while chunk := response.read(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise URLError(f"the image is larger than that; {limit}")
        if time.monotonic() > deadline:
            raise URLError("the server took too long to send the image")
    return b"".join(chunks)


# ---------------------------------------------------------------- the page
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


@dataclass(frozen=True)
class ModelFacts:
    """What the page says about the model: its name, licence and model card."""

    name: str
    license: str
    card_url: str | None

    @classmethod
    def of(cls, model_name: str) -> ModelFacts:
        folder = resolve_model_folder(model_name)
        card = folder / "README.md"
        license = ModelCard.load(card).data.license if card.is_file() else None
        if folder.parent == BUNDLED_DIR:
            name, url = folder.name, f"{CODE_REPOSITORY}/blob/main/carseg_model/pretrained/{folder.name}/README.md"
        elif looks_like_path(model_name) or Path(model_name).expanduser().exists():
            name, url = folder.name, None  # a local folder: its card is not online
        else:
            name, url = model_name, f"https://huggingface.co/{model_name}"
        return cls(name, license or "unknown", url)

    def markdown(self) -> str:
        name = f"[{self.name}]({self.card_url})" if self.card_url else f"`{self.name}`"
        terms = " (non-commercial use only)" if "nc" in self.license.lower().split("-") else ""
        return (
            f"Model: {name} (U-Net, MobileNetV2 encoder), licence **{self.license.upper()}**{terms}. "
            f"Code: [carseg]({CODE_REPOSITORY}), Apache-2.0. Photos are processed in memory; "
            "files for you are deleted from the server within 15 minutes."
        )


CSS = """
#before-after img, #overlay img, #mask img { object-fit: contain; }
"""


def build_demo(model: CarSegModel, model_name: str = DEFAULT_MODEL) -> gr.Blocks:
    """The Space's page and API around ``model`` (loaded from ``model_name``), queue configured."""
    space = CarSegSpace(model)
    with gr.Blocks(
        title="carseg: cut the car out of a photo", delete_cache=DELETE_CACHE, analytics_enabled=False
    ) as demo:
        gr.Markdown(DESCRIPTION)
        with gr.Tabs():
            with gr.Tab("One photo", id="one"):
                one_photo_tab(space)
            with gr.Tab("Several photos (zip)", id="batch"):
                batch_tab(space)
        gr.Markdown(ModelFacts.of(model_name).markdown(), elem_id="about")
        api_inputs = [
            gr.Image(visible=False, type="filepath"),
            gr.Number(model.config.threshold, visible=False),
            gr.Textbox(DEFAULT_COLOR, visible=False),
            gr.Number(OVERLAY_OPACITY, visible=False),
        ]
        api_outputs = [
            gr.Image(visible=False),
            gr.Image(visible=False, format="png"),
            gr.Image(visible=False, format="png"),
            gr.Markdown(visible=False),
        ]
        gr.on(
            [],
            space.segment,
            inputs=api_inputs,
            outputs=api_outputs,
            api_name="segment",
            preprocess=False,
            concurrency_id="carseg",
        )
        gr.on(
            [],
            space.segment_url,
            inputs=[gr.Textbox(visible=False), *api_inputs[1:]],
            outputs=api_outputs,
            api_name="segment_url",
            concurrency_id="carseg",
        )
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    return demo


def one_photo_tab(space: CarSegSpace) -> None:
    """Photo in (upload, web address, examples) on the left; before/after, previews and downloads on the right."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            photo = gr.Image(label="Your photo", sources=["upload", "clipboard", "webcam"], height=320, elem_id="photo")
            with gr.Row(equal_height=True):
                url = gr.Textbox(
                    placeholder="…or an image address: https://…",
                    show_label=False,
                    scale=4,
                    min_width=160,
                    elem_id="url",
                )
                fetch = gr.Button("Fetch", scale=1, min_width=70, elem_id="fetch")
            examples = gr.Examples(example_photos(), inputs=[photo], label="Examples (click one)", examples_per_page=8)
        with gr.Column(scale=1, min_width=300):
            info = gr.Markdown(EMPTY_INFO, elem_id="info")
            before_after = gr.ImageSlider(
                show_label=False,
                type="filepath",
                interactive=False,
                max_height=520,
                buttons=["fullscreen"],
                elem_id="before-after",
            )
            with gr.Row():
                main_car = gr.Checkbox(False, label="Main car only", elem_id="main-car")
                crop = gr.Checkbox(False, label="Crop to the car", elem_id="crop")
                shadow = gr.Checkbox(False, label="Contact shadow", elem_id="shadow")
            background = gr.Radio(list(BACKGROUNDS), value="Transparent", label="Background", elem_id="background")
            with gr.Row():
                background_color = gr.ColorPicker("#ffffff", label="Background colour", visible=False)
                background_image = gr.Image(
                    label="Background image", type="filepath", height=160, visible=False, elem_id="background-image"
                )
            downloads = gr.File(
                label="Full-size downloads", file_count="multiple", interactive=False, elem_id="downloads"
            )
            with gr.Tabs():
                with gr.Tab("Overlay"):
                    overlay = gr.Image(
                        show_label=False, interactive=False, height=360, buttons=["fullscreen"], elem_id="overlay"
                    )
                    with gr.Row():
                        color = gr.ColorPicker(DEFAULT_COLOR, label="Overlay colour")
                        opacity = gr.Slider(0.0, 1.0, value=OVERLAY_OPACITY, step=0.05, label="Overlay opacity")
                with gr.Tab("Mask"):
                    mask = gr.Image(
                        show_label=False, interactive=False, height=360, buttons=["fullscreen"], elem_id="mask"
                    )
                    threshold = gr.Slider(
                        0.05,
                        0.95,
                        value=space.model.config.threshold,
                        step=0.05,
                        label="Car threshold",
                        info="Lower marks more pixels as car, higher fewer.",
                        elem_id="threshold",
                    )
    shown = gr.State(None)  # the path of the photo on show, for the downloads step (None after an error)
    controls = [threshold, main_car, crop, background, background_color, background_image, shadow, color, opacity]
    previews = [before_after, overlay, mask, info, shown]
    background.change(
        lambda choice: (gr.update(visible=choice == "Colour"), gr.update(visible=choice == "Your image")),
        inputs=background,
        outputs=[background_color, background_image],
        queue=False,
        api_visibility="private",
    )
    page_event = {"concurrency_id": "carseg", "api_visibility": "undocumented", "trigger_mode": "always_last"}
    show = {"fn": space.show, "inputs": [photo, *controls], "outputs": previews, "preprocess": False, **page_event}
    style_changes = [threshold.input, color.input, opacity.input]
    style_changes += [
        control.input for control in (main_car, crop, shadow, background, background_color, background_image)
    ]
    shown_events = [
        gr.on([photo.input, *style_changes], api_name="show", **show),
        examples.load_input_event.then(**show),
        gr.on(
            [url.submit, fetch.click], space.show_url, inputs=[url, *controls], outputs=[photo, *previews], **page_event
        ),
    ]
    for event in shown_events:
        event.then(space.page_downloads, inputs=[shown, *controls], outputs=downloads, **page_event)


def batch_tab(space: CarSegSpace) -> None:
    """Several photos in, one zip of masks, cut-outs and overlays out."""
    gr.Markdown(f"Drop up to {BATCH_MAX_PHOTOS} photos; you get one zip with each photo's mask, cut-out and overlay.")
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            photos = gr.File(label="Photos", file_count="multiple", file_types=["image"], elem_id="batch-photos")
            with gr.Row():
                main_car = gr.Checkbox(False, label="Main car only")
                crop = gr.Checkbox(False, label="Crop to the car")
            run = gr.Button("Cut them out", variant="primary", elem_id="batch-run")
        with gr.Column(min_width=300):
            archive = gr.File(label="Zip of the results", interactive=False, elem_id="batch-zip")
            summary = gr.Markdown(elem_id="batch-info")
    run.click(
        space.batch,
        inputs=[photos, main_car, crop],
        outputs=[archive, summary],
        concurrency_id="carseg",
        api_visibility="private",
    )


def load_model(name: str) -> CarSegModel:
    """Load the model (the bundled one on ONNX Runtime when installed: `bundled_model_backend`), refusing
    photos above `MAX_PIXELS`, and run it once, so the first visitor does not wait for the runtime's warm-up."""
    backend = bundled_model_backend() if name == DEFAULT_MODEL else None
    model = CarSegModel.from_pretrained(name, backend=backend, max_pixels=MAX_PIXELS)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Load the model once and serve the page until interrupted; exit code 2 if it cannot start."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TensorFlow start-up chatter
    args = parse_args(argv)
    problem = port_problem(args.host, args.port)  # before the model loads: say it at once
    if problem:
        print(f"space/app.py: error: {problem}", file=sys.stderr)
        return 2
    share_heaps_between_threads()  # before the thread pools start: RSS stays flat over many visitors
    demo = build_demo(load_model(args.model), args.model)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C: Gradio deletes its files
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size="100mb",
        theme=gr.themes.Soft(),
        css=CSS,
    )  # returns once stopped
    delete_files_created_by_app(demo, age=None)  # Gradio's own clean-up is cut short while visitors are connected
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
