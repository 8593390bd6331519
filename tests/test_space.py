"""The Gradio Space (space/app.py) end to end: a real server, real HTTP clients and a real browser.

The server runs ``python space/app.py`` in a subprocess around a small untrained model
built here (random masks are fine: these tests check plumbing, not accuracy), with
Gradio's temp and cache folders inside the test's tmp dir.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import io
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from tests.conftest import untrained_model

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
def space_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served Space's folder: its model, log and Gradio's temp folder (``gradio_tmp``)."""
    return tmp_path_factory.mktemp("space")


@pytest.fixture(scope="module")
def space_url(space_root: Path) -> Iterator[str]:
    """URL of ``python space/app.py`` serving a small untrained model on a free loopback port."""
    root = space_root
    model_dir = root / "model"
    untrained_model(128).save_pretrained(model_dir)
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
        car, alpha = np.asarray(mask_image) == 255, np.asarray(cutout_image)[:, :, 3]
    assert (alpha[car] > 0).all()  # soft edges: the car is opaque or blending, never cut
    assert (alpha[~car] < 255).all()  # outside the mask: transparent, or the soft border


def _files(space_root: Path) -> set[Path]:
    return {path for path in (space_root / "gradio_tmp").rglob("*") if path.is_file()}


def test_segment_leaves_only_the_files_it_returns(connect: Callable[[], Client], space_root: Path) -> None:
    files = functools.partial(_files, space_root)
    client = connect()
    photo = EXAMPLES / "opencv-doc_scenetext01.jpg"
    before = files()
    outputs = _segment(client, photo, threshold=0.3)[:3]
    new = files() - before
    served = {Path(path).name for path in outputs}
    assert {path.name for path in new} <= served | {photo.name}  # the upload, and what was sent back


def test_a_new_threshold_reuses_the_prediction(connect: Callable[[], Client]) -> None:
    client = connect()
    photo = EXAMPLES / "darknet_dog.jpg"
    *_, low_mask, _, low_info = _segment(client, photo, threshold=0.05)
    *_, high_mask, _, high_info = _segment(client, photo, threshold=0.95)
    assert "threshold 0.05" in low_info and "threshold 0.95" in high_info
    assert "reused" in high_info  # the cached prediction, not a new network run
    with Image.open(low_mask) as low, Image.open(high_mask) as high:
        assert (np.asarray(low) >= np.asarray(high)).all()  # a lower threshold marks a superset


def test_bad_style_values_are_clear_errors(connect: Callable[[], Client], space_root: Path) -> None:
    client = connect()
    before = _files(space_root)
    with pytest.raises(AppError, match="not a colour"):
        client.predict(handle_file(str(CAR_PHOTO)), 0.5, "chartreuse-ish", 0.5, api_name="/segment")
    with pytest.raises(AppError, match="opacity must be in"):
        client.predict(handle_file(str(CAR_PHOTO)), 0.5, "#ff2878", 3.0, api_name="/segment")
    assert {path.name for path in _files(space_root) - before} <= {CAR_PHOTO.name}  # the mask and cut-out drawn
    # beside the failed overlay were never written
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
    assert result.stderr == f"space/app.py: error: port {port} is in use; pass --port N to use another port\n"
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


def test_the_space_refuses_huge_photos_and_keeps_only_small_arrays(
    app_module, tiny_model_folder: Path, tmp_path: Path
) -> None:
    space = app_module.CarSegSpace(app_module.load_model(str(tiny_model_folder)))
    assert space.model.config.max_pixels == app_module.MAX_PIXELS
    photo = tmp_path / "phone.jpg"
    Image.fromarray(np.full((3000, 4000, 3), 90, np.uint8)).save(photo, quality=80)  # 12 MP
    result, prediction, reused = space.predict(str(photo))  # for full-size images: no preview made
    assert not reused and result.size == (3000, 4000) and prediction.preview is None
    result, prediction, reused = space.predict(str(photo), preview=True)  # the page: the network is not rerun
    assert reused and prediction.preview.shape == (960, 1280, 3)  # display size
    kept = sum(value.nbytes for value in vars(prediction).values() if isinstance(value, np.ndarray))
    assert kept < 5_000_000  # no full-size array is kept (the photo alone is 36 MB)
    assert space.predictions.get(app_module.file_hash(str(photo))).preview is prediction.preview  # kept
    huge = tmp_path / "huge.png"
    huge.write_bytes(_huge_png())
    with pytest.raises(app_module.gr.Error, match="up to 25 megapixels"):
        space.predict(str(huge))


def test_drawings_are_written_only_when_all_of_them_succeed(
    app_module, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drawing that fails (e.g. a control's bad value) leaves no file of the others in Gradio's cache."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    image = np.full((30, 40, 3), 120, np.uint8)

    def broken() -> np.ndarray:
        time.sleep(0.2)  # the other drawings are done by now
        raise app_module.gr.Error("Choose a background image first")

    with pytest.raises(app_module.gr.Error, match="background image"):
        app_module.cache_images({"a.jpg": lambda: image, "b.png": lambda: image, "c.jpg": broken})
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]
    written = app_module.cache_images({"a.jpg": lambda: image, "b.png": lambda: image})
    assert [Path(path).name for path in written] == ["a.jpg", "b.png"] and all(map(os.path.isfile, written))


def test_the_space_serves_the_bundled_model_without_tensorflow() -> None:
    """The bundled model runs on its ONNX export (when ONNX Runtime is installed): no TensorFlow in the server."""
    photo = REPO / "space" / "examples" / "node-opencv_car1.jpg"
    script = (
        f"import importlib.util, sys\nspec = importlib.util.spec_from_file_location('space_app', {str(APP)!r})\n"
        "app = importlib.util.module_from_spec(spec); sys.modules['space_app'] = app; spec.loader.exec_module(app)\n"
        f"result = app.load_model(app.DEFAULT_MODEL).predict({str(photo)!r})\n"
        "assert result.car_fraction > 0.1 and 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_page_names_the_bundled_model_and_its_non_commercial_licence(app_module) -> None:
    facts = app_module.ModelFacts.of(app_module.DEFAULT_MODEL)
    assert (facts.name, facts.license) == ("carseg-unet-mobilenetv2", "cc-by-nc-4.0")
    assert facts.card_url.endswith("carseg_model/pretrained/carseg-unet-mobilenetv2/README.md")
    assert "CC-BY-NC-4.0** (non-commercial use only)" in facts.markdown()
    readme = (APP.parent / "README.md").read_text()
    assert "\nlicense: cc-by-nc-4.0\n" in readme  # the Space ships the model: its licence


def test_the_prediction_cache_is_a_bounded_lru(app_module) -> None:
    cache = app_module.PredictionCache(capacity=2)
    for key in "abc":
        cache.put(key, key.upper())
        cache.get("a")  # "a" stays recent
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")


# -------------------------------------------------------------- web addresses
@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server on 127.0.0.1 serving ``tmp_path`` (a car photo as ``car.jpg``); its base URL."""
    shutil.copyfile(CAR_PHOTO, tmp_path / "car.jpg")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_space_refuses_to_fetch_loopback_addresses(connect: Callable[[], Client], image_server: str) -> None:
    client = connect()
    with pytest.raises(AppError, match="private, loopback or link-local"):
        client.predict(image_server + "car.jpg", 0.5, "#ff2878", 0.5, api_name="/segment_url")
    with pytest.raises(AppError, match="not a web address"):
        client.predict("file:///etc/passwd", 0.5, "#ff2878", 0.5, api_name="/segment_url")


def test_fetch_image_with_a_resolver_and_limits(app_module, image_server: str) -> None:
    port = int(image_server.rsplit(":", 1)[1].strip("/"))

    def resolve_to(address: str) -> Callable[..., list]:
        return lambda host, port, **_: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def everything(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return True

    url = f"http://photos.example:{port}/car.jpg"
    name, data = app_module.fetch_image(url, resolve=resolve_to("127.0.0.1"), allowed=everything)
    assert (name, data) == ("car.jpg", CAR_PHOTO.read_bytes())
    with pytest.raises(app_module.URLError, match="up to 0 MB"):
        app_module.fetch_image(url, resolve=resolve_to("127.0.0.1"), allowed=everything, max_bytes=1000)
    with pytest.raises(app_module.URLError, match="404"):
        app_module.fetch_image(url + ".missing", resolve=resolve_to("127.0.0.1"), allowed=everything)
    for private in ("10.1.2.3", "169.254.169.254", "192.168.0.7", "::1", "::ffff:127.0.0.1", "fe80::1"):
        with pytest.raises(app_module.URLError, match="private, loopback or link-local"):
            app_module.fetch_image(url, resolve=resolve_to(private))
    assert app_module.is_public_address(ipaddress.ip_address("93.184.215.14"))


# -------------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's), via Playwright."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"],
        )
        try:
            yield browser
        finally:
            browser.close()


def test_browser_example_controls_upload_and_errors(space_url: str, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(space_url)
    expect(page.locator("#about")).to_contain_text("Model: model (U-Net")  # the served folder, and its card's licence
    expect(page.locator("#about")).to_contain_text("licence APACHE-2.0")
    page.locator(".gallery-item").first.click()  # first example: a car
    _wait_for_result(page)
    expect(page.locator("#info")).to_contain_text("of the photo", timeout=60_000)
    expect(page.locator("#downloads a[href$='node-opencv_car1_cutout.png']")).to_have_count(1, timeout=60_000)

    page.locator("#main-car input").check()
    page.locator("#crop input").check()
    page.get_by_label("White").check()
    expect(page.locator("#info")).to_contain_text("cropped to it", timeout=60_000)
    expect(page.locator("#info")).to_contain_text("main car only")
    expect(page.locator("#downloads a[href$='node-opencv_car1_white.jpg']")).to_have_count(1, timeout=60_000)

    page.locator("#photo input[type=file]").set_input_files(str(EXAMPLES / "node-opencv_car2.jpg"))
    expect(page.locator("#info")).to_contain_text("1500×938", timeout=60_000)
    _wait_for_result(page)
    page.screenshot(path=str(tmp_path / "space.png"), full_page=True)

    page.get_by_role("tab", name="Mask").click()
    page.locator("#threshold input[type=number]").fill("0.9")  # restyle: no new network run
    page.locator("#threshold input[type=number]").press("Enter")
    expect(page.locator("#info")).to_contain_text("threshold 0.90", timeout=60_000)
    expect(page.locator("#info")).to_contain_text("reused")

    page.locator("#url textarea, #url input").first.fill("http://127.0.0.1:9/car.jpg")
    page.locator("#fetch").click()  # a loopback address: refused, and the old result is cleared
    expect(page.locator("#info")).to_contain_text("Could not fetch the photo", timeout=60_000)
    expect(page.locator("#info")).not_to_contain_text("1500×938")
    expect(page.locator("#before-after img")).to_have_count(0)
    page.close()
    assert (tmp_path / "space.png").stat().st_size > 10_000
    shutil.copyfile(tmp_path / "space.png", SCREENSHOT_COPY)


def test_browser_batch_tab_gives_a_zip(space_url: str, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    notes = tmp_path / "notes.jpg"
    notes.write_text("not a photo")
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(space_url)
    page.get_by_role("tab", name="Several photos (zip)").click()
    photos = [EXAMPLES / "node-opencv_car1.jpg", EXAMPLES / "darknet_dog.jpg", notes]
    page.locator("#batch-photos input[type=file]").set_input_files([str(path) for path in photos])
    page.locator("#batch-run").click()
    expect(page.locator("#batch-info")).to_contain_text("2 of 3 photos cut out", timeout=120_000)
    expect(page.locator("#batch-info")).to_contain_text("notes.jpg")
    link = page.locator("#batch-zip a").first.get_attribute("href")
    page.close()
    with urllib.request.urlopen(urllib.parse.urljoin(space_url, link), timeout=30) as response:
        names = zipfile.ZipFile(io.BytesIO(response.read())).namelist()
    assert sorted(names) == sorted(
        f"{stem}_{kind}"
        for stem in ("node-opencv_car1", "darknet_dog")
        for kind in ("mask.png", "cutout.png", "overlay.jpg")
    )


def test_browser_phone_width_shows_the_examples_near_the_top(space_url: str, browser, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(space_url)
    examples = page.locator(".gallery-item").first
    examples.wait_for()
    assert examples.evaluate("e => e.getBoundingClientRect().top + window.scrollY") < 900
    examples.click()
    _wait_for_result(page)
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    width = page.locator("#before-after img").first.evaluate("e => e.getBoundingClientRect().width")
    assert width > 300  # the before/after fills the phone's width
    page.close()


def _wait_for_result(page: Page) -> None:
    """Wait until the before/after slider shows two loaded images."""
    page.wait_for_function(
        """() => { const images = [...document.querySelectorAll('#before-after img')];
                   return images.length >= 2 && images.every(i => i.complete && i.naturalWidth > 0); }""",
        timeout=60_000,
    )


def test_bench_demo_speaks_the_page_http_protocol_with_distinct_photos(space_url: str, tmp_path: Path) -> None:
    """bench/bench_demo.py's client: /show and /segment over plain HTTP, each photo new to the server."""
    spec = importlib.util.spec_from_file_location("bench_demo", REPO / "bench" / "bench_demo.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    photos = bench.DistinctPhotos(_photo(), tmp_path, "car")
    paths = [photos.next() for _ in range(12)]
    assert len({Path(path).read_bytes() for path in paths}) == 12  # one changed pixel often was not
    with bench.PageClient(space_url) as page:
        shown = page.call("show", paths[0], *bench.PAGE_CONTROLS)
        segmented = page.call("segment", paths[1], *bench.SEGMENT_CONTROLS)
    assert len(bench._file_urls(shown)) == 4  # before, after, overlay, mask previews
    assert len(bench._file_urls(segmented)) == 3  # full-size overlay, mask, cut-out
    for outputs in (shown, segmented):
        assert "(reused" not in bench.info_line(outputs) and bench.network_seconds(bench.info_line(outputs)) > 0


def test_bench_demo_times_the_server_side_of_a_checkout() -> None:
    """``bench/bench_demo.py --server-side`` times this checkout's space/app.py in one process, without HTTP."""
    command = [sys.executable, str(REPO / "bench" / "bench_demo.py"), "--server-side", str(REPO), "--repeats", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 1") and line.endswith(" s |")]
    assert len(rows) == 4  # /show and /segment at 1.5 MP and 12 MP
    assert all(float(row.split("|")[2].strip().removesuffix(" s")) > 0 for row in rows)
