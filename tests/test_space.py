"""The Gradio Space (space/app.py) end to end: a real server, real HTTP clients and a real browser.

The server runs ``python space/app.py`` in a subprocess around a small untrained model
built here (random masks are fine: these tests check plumbing, not accuracy), with
Gradio's temp and cache folders inside the test's tmp dir.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

if TYPE_CHECKING:
    from playwright.sync_api import Page

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "space" / "app.py"
EXAMPLES = REPO / "space" / "examples"
CAR_PHOTO = EXAMPLES / "node-opencv_car1.jpg"  # 1024x680
CAR_SIZE = (1024, 680)
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_COPY = Path("/tmp/space_screenshot.png")
STARTUP_TIMEOUT_S = 180


# ------------------------------------------------------------------ fixtures
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    """Poll ``url`` until the page answers; fail with the server's log if it exits or hangs."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"space/app.py exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"space/app.py did not serve {url} within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def space_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of ``python space/app.py`` serving a small untrained model on a free loopback port."""
    from carseg_model import CarSegConfig, CarSegModel

    root = tmp_path_factory.mktemp("space")
    model_dir = root / "model"
    CarSegModel(CarSegConfig(input_size=(128, 128), encoder_weights=None)).save_pretrained(model_dir)
    port = _free_port()
    env = {
        **os.environ,
        "CARSEG_MODEL": str(model_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(root / "gradio_tmp"),
        "GRADIO_EXAMPLES_CACHE": str(root / "examples_cache"),
        "HF_HUB_OFFLINE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log = root / "server.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(APP), "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_serving(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def connect(space_url: str, tmp_path: Path) -> Callable[[], Client]:
    """Make gradio_client Clients of the Space that download into this test's tmp dir."""

    def make() -> Client:
        return Client(space_url, analytics_enabled=False, verbose=False, download_files=str(tmp_path / "downloads"))

    return make


def _segment(client: Client, photo: Path, threshold: float = 0.5) -> tuple[str, str, str, str]:
    return client.predict(handle_file(str(photo)), threshold, "#00c853", 0.6, api_name="/segment")


def _assert_outputs(overlay: str, mask: str, cutout: str, size: tuple[int, int]) -> None:
    """Overlay RGB, mask 0/255 PNG and RGBA cut-out PNG, all ``size`` (width, height)."""
    with Image.open(overlay) as image:
        assert (image.size, image.mode) == (size, "RGB")
    with Image.open(mask) as image:
        assert (image.format, image.size, image.mode) == ("PNG", size, "L")
        assert set(np.unique(np.asarray(image))) <= {0, 255}
    with Image.open(cutout) as image:
        assert (image.format, image.size, image.mode) == ("PNG", size, "RGBA")


# -------------------------------------------------------------------- the API
def test_segment_returns_overlay_and_full_size_pngs(connect: Callable[[], Client]) -> None:
    overlay, mask, cutout, info = _segment(connect(), CAR_PHOTO)
    _assert_outputs(overlay, mask, cutout, CAR_SIZE)
    assert Path(mask).name == "node-opencv_car1_mask.png"
    assert Path(cutout).name == "node-opencv_car1_cutout.png"
    assert "Car:" in info and "% of the photo" in info and "1024×680" in info and "s ·" in info
    with Image.open(mask) as mask_image, Image.open(cutout) as cutout_image:
        assert np.array_equal(np.asarray(cutout_image)[:, :, 3], np.asarray(mask_image))


def test_restyle_gives_before_after_and_reuses_the_prediction_for_new_thresholds(connect: Callable[[], Client]) -> None:
    client = connect()
    photo = handle_file(str(CAR_PHOTO))
    overlay, (before, after), mask, cutout, info = client.predict(photo, 0.5, "#ff2878", 0.5, api_name="/restyle")
    _assert_outputs(overlay, mask, cutout, CAR_SIZE)
    for path in (before, after):
        with Image.open(path) as image:
            assert image.size == CAR_SIZE
    assert "threshold 0.50" in info and "reused" not in info
    *_, low_mask, _, low_info = client.predict(photo, 0.05, "#ff2878", 0.5, api_name="/restyle")
    *_, high_mask, _, high_info = client.predict(photo, 0.95, "#ff2878", 0.5, api_name="/restyle")
    assert "threshold 0.05" in low_info and "threshold 0.95" in high_info
    assert "reused" in low_info and "reused" in high_info  # the session's prediction, not a new network run
    with Image.open(low_mask) as low, Image.open(high_mask) as high:
        assert (np.asarray(low) >= np.asarray(high)).all()  # a lower threshold marks a superset


def test_bad_style_values_are_clear_errors(connect: Callable[[], Client]) -> None:
    client = connect()
    with pytest.raises(AppError, match="not a colour"):
        client.predict(handle_file(str(CAR_PHOTO)), 0.5, "chartreuse-ish", 0.5, api_name="/segment")
    with pytest.raises(AppError, match="opacity must be in"):
        client.predict(handle_file(str(CAR_PHOTO)), 0.5, "#ff2878", 3.0, api_name="/segment")
    _assert_outputs(*_segment(client, CAR_PHOTO)[:3], CAR_SIZE)


# ---------------------------------------------------------------- bad inputs
def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def _photo(width: int = 320, height: int = 200) -> Image.Image:
    ramp = np.linspace(0, 255, width * height * 3).reshape(height, width, 3).astype(np.uint8)
    return Image.fromarray(ramp)


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (90, 60), color) for color in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def _exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    return _jpeg(_photo(320, 200), exif=exif.tobytes())


def _huge_png() -> bytes:
    return _png(np.zeros((7000, 9000), dtype=np.uint8))  # 63 MP: above the Space's 25 MP limit


# name -> (file name, file bytes, expected (width, height) of a good result or the error's text)
BAD_INPUTS: dict[str, tuple[str, Callable[[], bytes], tuple[int, int] | str]] = {
    "text file named .jpg": ("notes.jpg", lambda: b"this is a text file, not a photo\n", "not an image format"),
    "truncated JPEG": ("cut.jpg", lambda: _jpeg(_photo())[:1500], "truncated or corrupt"),
    "CMYK JPEG": ("cmyk.jpg", lambda: _jpeg(_photo().convert("CMYK")), (320, 200)),
    "16-bit PNG": ("deep.png", lambda: _png(np.full((50, 70), 40000, dtype=np.uint16), "I;16"), (70, 50)),
    "RGBA PNG": ("alpha.png", lambda: _png(np.asarray(_photo().convert("RGBA"))), (320, 200)),
    "grayscale PNG": ("gray.png", lambda: _png(np.asarray(_photo().convert("L"))), (320, 200)),
    "1x1 PNG": ("dot.png", lambda: _png(np.zeros((1, 1, 3), dtype=np.uint8)), (1, 1)),
    "animated GIF": ("anim.gif", _animated_gif, (90, 60)),
    "EXIF-rotated JPEG": ("rotated.jpg", _exif_rotated_jpeg, (200, 320)),
    "9000x7000 PNG": ("huge.png", _huge_png, "up to 25 megapixels"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_clear_error_or_result_and_server_keeps_working(
    case: str, connect: Callable[[], Client], tmp_path: Path
) -> None:
    file_name, make_bytes, expected = BAD_INPUTS[case]
    photo = tmp_path / file_name
    photo.write_bytes(make_bytes())
    client = connect()
    if isinstance(expected, str):
        with pytest.raises(AppError, match=expected) as error:
            _segment(client, photo)
        assert str(tmp_path) not in str(error.value) and "/gradio" not in str(error.value)  # no server paths
    else:
        _assert_outputs(*_segment(client, photo)[:3], expected)
    _assert_outputs(*_segment(client, CAR_PHOTO)[:3], CAR_SIZE)


# ---------------------------------------------------------------- concurrency
def test_eight_concurrent_clients_of_ten_requests_all_succeed(connect: Callable[[], Client]) -> None:
    photo = EXAMPLES / "opencv-doc_fruits.jpg"
    with Image.open(photo) as image:
        size = image.size

    def ten_requests(_: int) -> int:
        client = connect()
        for _ in range(10):
            _assert_outputs(*_segment(client, photo)[:3], size)
        return 10

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(ten_requests, range(8))) == 80


# ------------------------------------------------------------ start-up, size guard
def test_a_busy_port_is_one_line_and_exit_2_before_the_model_loads(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(APP), "--port", str(port), "--model", str(tmp_path / "no_model")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT_S,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == f"space/app.py: error: port {port} is in use (another demo?); pass --port N to use another port\n"
    )
    assert time.monotonic() - start < 60  # no model loaded (the --model given does not even exist)


@pytest.fixture(scope="module")
def app_module() -> Iterator[object]:
    """space/app.py imported as the module ``space_app``."""
    spec = importlib.util.spec_from_file_location("space_app", APP)
    module = importlib.util.module_from_spec(spec)
    sys.modules["space_app"] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["space_app"]


def test_one_size_guard_per_request(app_module, tiny_model_folder: Path, tmp_path: Path, monkeypatch) -> None:
    space = app_module.CarSegSpace(app_module.load_model(str(tiny_model_folder)))
    assert space.model.config.max_pixels == app_module.MAX_PIXELS
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: opened.append(args[0]) or real_open(*args, **kwargs))
    space.predict(str(CAR_PHOTO), progress=lambda *args, **kwargs: None)
    assert opened == [str(CAR_PHOTO)]  # the photo's header is read once: by carseg's loader, which also checks the size


# -------------------------------------------------------------------- browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
def test_browser_example_click_and_upload_show_the_overlay(space_url: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"],
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(space_url)
            page.get_by_text("Upload a photo").first.wait_for()
            page.locator(".gallery-item").first.click()  # first example: a car
            _wait_for_overlay(page)
            sync_api.expect(page.locator("#info")).to_contain_text("of the photo", timeout=60_000)

            page.locator("#photo input[type=file]").set_input_files(str(EXAMPLES / "node-opencv_car2.jpg"))
            sync_api.expect(page.locator("#info")).to_contain_text("1500×938", timeout=60_000)
            _wait_for_overlay(page)
            screenshot = tmp_path / "space.png"
            page.screenshot(path=str(screenshot), full_page=True)

            page.locator("#threshold input[type=number]").fill("0.9")  # restyle: no new network run
            page.locator("#threshold input[type=number]").press("Enter")
            sync_api.expect(page.locator("#info")).to_contain_text("threshold 0.90", timeout=60_000)
            sync_api.expect(page.locator("#info")).to_contain_text("reused")
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    shutil.copyfile(screenshot, SCREENSHOT_COPY)


def _wait_for_overlay(page: Page) -> None:
    """Wait until the overlay output shows a loaded image."""
    image = page.locator("#overlay img").first
    image.wait_for(state="visible", timeout=60_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('#overlay img'); return i && i.complete && i.naturalWidth > 0; }",
        timeout=60_000,
    )
