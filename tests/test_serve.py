"""``carseg serve`` over real HTTP: every output, the JSON's RLE, refusals, auth, a full queue, a deadline,
and a TensorFlow-free server. Servers run as ``carseg serve`` subprocesses, or uvicorn in a thread."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from carseg_model.rle import decode_rle

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "space" / "examples"
PHOTO = (EXAMPLES / "node-opencv_car1.jpg").read_bytes()
OTHER_PHOTO = (EXAMPLES / "node-opencv_car2.jpg").read_bytes()
KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SERVE = """
import atexit, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl+C stops it even when pytest runs in the background
atexit.register(lambda: print("imported tensorflow:", "tensorflow" in sys.modules, file=sys.stderr, flush=True))
from carseg_model.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""``carseg serve ARGS`` that says, as it exits, whether TensorFlow was ever imported."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def carseg_serve(args: list[str], log: Path, api_key: str | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``carseg serve ARGS`` on a free port until ``/readyz`` is 200; stop it with Ctrl+C (SIGINT) afterwards."""
    port = free_port()
    env = {**os.environ, "CARSEG_API_KEY": api_key or ""}
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE, "serve", *args, "--port", str(port)], env=env, stderr=stderr
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while not _ready(url):
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the server was not ready within 180 s"
            time.sleep(0.2)
        yield url, process
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def segment(url: str, query: str = "", photo: bytes = PHOTO, headers: dict = AUTH, **files) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/segment?{query}", files={"file": ("car.jpg", photo), **files}, headers=headers, timeout=60
    )


def decoded(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def assert_refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert words in response.json()["error"], response.json()


# ------------------------------------------------------------------------------ a Keras server with a key
@pytest.fixture(scope="module")
def keras_server(variants, tmp_path_factory) -> Iterator[tuple[str, object]]:
    """``carseg serve`` on a small Keras model with the demo, an API key and small limits; and the same model."""
    variant = variants.get("transpose-64x64")
    args = ["--model", str(variant.folder), "--max-upload-mb", "1", "--max-pixels", "1500000", "--host", "127.0.0.1"]
    args += ["--concurrency", "2", "--queue-size", "8", "--timeout", "120"]
    with carseg_serve(args, tmp_path_factory.mktemp("serve") / "stderr.txt", api_key=KEY) as (url, _):
        yield url, variant.model


def median_threshold(model, photo: bytes) -> float:
    """A threshold that marks about half the photo: the untrained model's masks are neither empty nor full."""
    return round(float(np.median(model.predict(photo).network_probabilities)), 3)


def test_mask_png_and_json_rle_match_model_predict(keras_server):
    url, model = keras_server
    threshold = median_threshold(model, PHOTO)
    expected = model.predict(PHOTO, threshold=threshold)
    assert 0.02 < expected.car_fraction < 0.98  # neither empty nor full
    response = segment(url, f"threshold={threshold}")
    assert response.headers["content-type"] == "image/png"
    assert np.array_equal(decoded(response), expected.mask_image())
    answer = segment(url, f"output=json&threshold={threshold}").json()
    assert (answer["width"], answer["height"]) == (1024, 680)
    assert answer["car_fraction"] == pytest.approx(expected.car_fraction)
    assert answer["box"] == list(expected.box) and answer["threshold"] == threshold
    assert np.array_equal(decode_rle(answer["mask"]), expected.mask)
    default = segment(url, "output=json").json()
    assert default["threshold"] == model.config.threshold
    assert np.array_equal(decode_rle(default["mask"]), model.predict(PHOTO).mask)
    webp = segment(url, "format=webp")
    assert webp.headers["content-type"] == "image/webp" and decoded(webp).shape[:2] == (680, 1024)


def test_cutout_overlay_and_backgrounds_match_the_library(keras_server):
    url, model = keras_server
    threshold = median_threshold(model, PHOTO)
    result = model.predict(PHOTO, threshold=threshold)
    cut = f"output=cutout&threshold={threshold}"
    assert np.array_equal(decoded(segment(url, cut)), result.composite())
    white = segment(url, f"{cut}&background=white&shadow=true")
    assert white.headers["content-type"] == "image/jpeg"  # opaque: JPEG unless format says otherwise
    exact = decoded(segment(url, f"{cut}&background=255,255,255&shadow=true&format=png"))
    assert np.array_equal(exact, result.composite((255, 255, 255), shadow=True))
    assert decoded(segment(url, f"{cut}&background=blur")).shape == (680, 1024, 3)
    backdrop = np.full((100, 150, 3), (20, 90, 200), np.uint8)
    with_image = segment(url, f"{cut}&format=png", background_image=("back.png", png(backdrop)))
    assert np.array_equal(decoded(with_image), result.composite(backdrop))
    overlay = segment(url, f"output=overlay&threshold={threshold}")
    assert overlay.headers["content-type"] == "image/jpeg"
    styled = decoded(segment(url, f"output=overlay&threshold={threshold}&color=red&opacity=0.3&outline=0&format=png"))
    assert np.array_equal(styled, result.overlay("red", 0.3, 0))


def test_main_car_and_crop_shape_every_output(keras_server):
    url, model = keras_server
    threshold = median_threshold(model, OTHER_PHOTO)
    result = model.predict(OTHER_PHOTO, threshold=threshold)
    expected = result.main_car().crop(0.1)
    query = f"output=json&threshold={threshold}&main_car=true&crop=true&margin=0.1"
    answer = segment(url, query, photo=OTHER_PHOTO).json()
    assert (answer["height"], answer["width"]) == expected.size
    assert np.array_equal(decode_rle(answer["mask"]), expected.mask)
    mask = decoded(segment(url, f"threshold={threshold}&main_car=true", photo=OTHER_PHOTO))
    assert np.array_equal(mask, result.main_car().mask_image())


def test_bad_input_is_refused_with_a_json_error(keras_server):
    url, _ = keras_server
    assert_refused(segment(url, photo=b""), 400, "empty")
    assert_refused(segment(url, photo=b"not a photo"), 415, "not an image format")
    assert_refused(segment(url, photo=png(np.zeros((1200, 1300, 3), np.uint8))), 413, "1300x1200")
    assert_refused(segment(url, photo=os.urandom(1_100_000)), 413, "larger than this server's limit")
    assert_refused(segment(url, "threshold=2"), 422, "threshold")
    assert_refused(segment(url, "output=mask&color=nope"), 422, "'nope' is not a colour")
    assert_refused(segment(url, "output=cutout&background=/etc/passwd"), 422, "neither transparent")
    assert_refused(segment(url, "output=svg"), 422, "output")
    assert_refused(segment(url, "thresold=0.5"), 422, "thresold")
    assert_refused(segment(url, "output=cutout&format=jpg"), 422, "JPEG has no transparency")
    assert_refused(segment(url, background_image=("b.png", b"junk")), 415, "background_image")
    assert_refused(httpx.post(f"{url}/v1/segment", headers=AUTH), 422, "file")


def test_api_key_guards_the_api_and_the_demo_but_not_health(keras_server):
    url, _ = keras_server
    assert_refused(segment(url, headers={}), 401, "API key")
    assert_refused(segment(url, headers={"Authorization": "Bearer wrong"}), 401, "API key")
    assert_refused(httpx.get(f"{url}/v1/models"), 401, "API key")
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/").status_code == 401
    page = httpx.get(f"{url}/", headers=AUTH)
    assert page.status_code == 200 and "gradio" in page.text.lower()
    models = httpx.get(f"{url}/v1/models", headers=AUTH).json()["models"]
    assert models[0]["backend"] == "keras" and models[0]["ready"] and models[0]["max_pixels"] == 1_500_000
    assert "/v1/segment" in httpx.get(f"{url}/openapi.json").json()["paths"]
    assert httpx.get(f"{url}/docs").status_code == 200


# ------------------------------------------------------------------------------ a full queue and a deadline
class HeldModel:
    """A model whose predictions wait until ``release`` is set (once ``hold`` is set); ``entered`` counts them."""

    def __init__(self, model) -> None:
        self.model, self.config = model, model.config
        self.hold, self.release = threading.Event(), threading.Event()
        self.entered = threading.Semaphore(0)

    def predict(self, photo, threshold=None):
        if self.hold.is_set():
            self.entered.release()
            self.release.wait(30)
        return self.model.predict(photo, threshold=threshold)


@contextmanager
def uvicorn_server(model, **settings) -> Iterator[str]:
    import uvicorn

    from carseg_model.serving import ServerSettings, create_app

    app = create_app(model, ServerSettings(demo=False, **settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.config.port}"
        while not _ready(url):
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def test_a_full_queue_answers_503_with_retry_after(variants):
    model = HeldModel(variants.get("transpose-64x64").model)
    with uvicorn_server(model, concurrency=1, queue_size=1) as url, ThreadPoolExecutor(4) as pool:
        model.hold.set()
        running = pool.submit(segment, url)
        assert model.entered.acquire(timeout=30)  # the only worker is busy
        others = [pool.submit(segment, url) for _ in range(3)]  # one fits in the queue, two are refused at once
        deadline = time.monotonic() + 30
        while sum(other.done() for other in others) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        model.release.set()
        answers = [future.result() for future in (running, *others)]
    assert sorted(answer.status_code for answer in answers) == [200, 200, 503, 503]
    for refused in (answer for answer in answers if answer.status_code == 503):
        assert_refused(refused, 503, "busy")
        assert int(refused.headers["Retry-After"]) >= 1


def test_a_slow_request_answers_504(variants):
    model = HeldModel(variants.get("transpose-64x64").model)
    with uvicorn_server(model, timeout=3) as url:  # wide enough for a normal request on a busy machine
        model.hold.set()
        assert_refused(segment(url), 504, "longer than this server's limit of 3 s")
        model.release.set()
        assert segment(url).status_code == 200  # its worker is free again


# ------------------------------------------------------------------------------ a TensorFlow-free server
def test_an_onnx_server_never_imports_tensorflow(variants, tmp_path):
    folder = variants.exported("transpose-64x64", "onnx")
    log = tmp_path / "stderr.txt"
    with carseg_serve(["--model", str(folder), "--backend", "onnx", "--no-demo"], log) as (url, process):
        assert np.array_equal(
            decode_rle(segment(url, "output=json", headers={}).json()["mask"]), decoded(segment(url)) > 0
        )
        assert decoded(segment(url, "output=cutout")).shape == (680, 1024, 4)
        assert httpx.get(f"{url}/v1/models").json()["models"][0]["backend"] == "onnx"
        assert httpx.get(f"{url}/").status_code == 404  # --no-demo
    assert process.returncode == 130  # interrupted, after a graceful shutdown
    assert "imported tensorflow: False" in log.read_text()


def test_the_bundled_model_serves_on_its_onnx_export_without_tensorflow(tmp_path):
    log = tmp_path / "stderr.txt"
    with carseg_serve(["--no-demo"], log) as (url, process):
        assert httpx.get(f"{url}/v1/models").json()["models"][0]["backend"] == "onnx"
        assert decoded(segment(url)).shape == (680, 1024)
    assert "imported tensorflow: False" in log.read_text()


def test_bench_server_quick_runs_against_an_onnx_server(variants, tmp_path):
    folder = variants.exported("transpose-64x64", "onnx")
    command = [
        sys.executable,
        str(REPO / "bench" / "bench_server.py"),
        "--quick",
        "--serve",
        f"--model {folder / 'model.onnx'} --no-demo",
        "--json",
        str(tmp_path / "figures.json"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "| 2 x 10 |" in result.stdout and "statuses: {'200': 20}" in result.stdout
