"""Benchmark the demo (space/app.py) as visitors use it: round trips, memory after many sessions, load.

    python bench/bench_demo.py                      # the full run the README's table comes from
    python bench/bench_demo.py --sessions 10 --clients 2 --requests 5   # a quick look

It serves the bundled model with ``python space/app.py`` on a free port and talks to it over HTTP the
way the page's JavaScript (and ``curl``) does: upload the photo, start the event, read its result from
the event stream, download every file it returns (`PageClient`). It does not use ``gradio_client``,
whose polling loops (50 ms sleeps, helper threads) add time to every call that a browser never
spends.

- round trips for a 1.5 MP photo (``space/examples/node-opencv_car2.jpg``) and a 12 MP one (the same
  scaled to 4032x3024): the page's ``/show`` (display-size previews: what a visitor waits for) and
  ``/segment`` (full-size overlay, mask and cut-out files), each against the network time the server
  reports for the same request (the info line's "prediction took"); medians of ``--repeats`` photos;
- the server's RSS after ``--sessions`` fresh sessions, each showing one new photo;
- ``--clients`` clients x ``--requests`` ``/segment`` requests of 1024x680 photos: requests/s, p50, failures;
- the files left in Gradio's temp folder after shutdown.

Every request sends a photo the server has not seen (its number drawn in black and white blocks in a
corner), so its prediction cache never answers for the network.

    python bench/bench_demo.py --server-side [CHECKOUT]   # the server's own work, without HTTP

``--server-side`` times, in this process, what the server does for ``/show`` and ``/segment`` (prediction,
drawing, encoding, writing; no HTTP) for the ``space/app.py`` of CHECKOUT (default: this one): run it in
two checkouts in turn to compare builds on a host whose speed drifts.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "space" / "examples"
PHONE_SIZE = (4032, 3024)
PAGE_CONTROLS = (0.5, False, False, "Transparent", "#ffffff", None, False, "#ff2878", 0.5)  # /show's, after the photo
SEGMENT_CONTROLS = (0.5, "#ff2878", 0.5)  # /segment's: threshold, overlay colour and opacity


class DistinctPhotos:
    """Variants of one photo, each with different bytes, written into a folder.

    The variant's number is drawn in the top-left corner as 16 JPEG blocks (8x8 pixels), black for 0
    bits and white for 1 bits: a change no JPEG quantisation can hide (one changed pixel often is).
    """

    BITS = 16

    def __init__(self, photo: Image.Image, folder: Path, name: str) -> None:
        self.pixels = np.asarray(photo.convert("RGB")).copy()
        self.folder, self.name, self.numbers = folder, name, count()

    def next(self) -> str:
        number = next(self.numbers)
        for bit in range(self.BITS):
            self.pixels[:8, 8 * bit : 8 * bit + 8] = 255 if number >> bit & 1 else 0
        path = self.folder / f"{self.name}_{number}.jpg"
        buffer = io.BytesIO()
        Image.fromarray(self.pixels).save(buffer, "JPEG", quality=92)
        path.write_bytes(buffer.getvalue())
        return str(path)


class PageClient:
    """One visitor's HTTP conversation with the demo, as its page has it (Gradio's ``/gradio_api`` routes):
    one session for all its calls, as a page sends its session hash with every event."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=120)
        self.session_hash = secrets.token_hex(6)

    def call(self, api_name: str, photo: str, *controls: object) -> list:
        """Upload ``photo``, run ``api_name`` on it with ``controls``, download the files it returns; its outputs."""
        with open(photo, "rb") as file:
            upload = self.http.post(f"{self.url}/gradio_api/upload", files={"files": (Path(photo).name, file)})
        upload.raise_for_status()
        data = [{"path": upload.json()[0], "meta": {"_type": "gradio.FileData"}}, *controls]
        body = {"data": data, "session_hash": self.session_hash}
        started = self.http.post(f"{self.url}/gradio_api/call/{api_name}", json=body)
        started.raise_for_status()
        event, outputs = None, None
        with self.http.stream("GET", f"{self.url}/gradio_api/call/{api_name}/{started.json()['event_id']}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line.startswith("data:") and event == "complete":
                    outputs = json.loads(line.removeprefix("data:"))
        if outputs is None:
            raise RuntimeError(f"{api_name} ended with event {event!r}")
        for file_url in _file_urls(outputs):
            self.http.get(file_url).raise_for_status()
        return outputs

    def __enter__(self) -> PageClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()


def _file_urls(value: object) -> list[str]:
    """The ``url`` of every file in an event's outputs (nested lists and dicts, as Gradio sends them)."""
    if isinstance(value, dict):
        own = [value["url"]] if value.get("url") else []
        return own + [url for item in value.values() for url in _file_urls(item)]
    if isinstance(value, list):
        return [url for item in value for url in _file_urls(item)]
    return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(temp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_TEMP_DIR": str(temp / "gradio_tmp"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    process = subprocess.Popen(
        [sys.executable, str(REPO / "space" / "app.py"), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(temp / "server.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return process, url
        except OSError:
            if process.poll() is not None:
                sys.exit(f"space/app.py exited:\n{(temp / 'server.log').read_text()}")
            time.sleep(1)
    process.kill()
    sys.exit("space/app.py did not start within 300 s")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def network_seconds(info: str) -> float:
    return float(re.search(r"prediction took ([\d.]+) s", info).group(1))


def info_line(outputs: list) -> str:
    return next(value for value in outputs if isinstance(value, str) and "prediction took" in value)


def round_trips(url: str, photos: DistinctPhotos, repeats: int) -> dict[str, tuple[float, float]]:
    """``{endpoint: (median round trip s, median network s)}`` for the page's /show and the API's /segment."""
    with PageClient(url) as page:
        calls = {
            "/show": lambda photo: page.call("show", photo, *PAGE_CONTROLS),
            "/segment": lambda photo: page.call("segment", photo, *SEGMENT_CONTROLS),
        }
        figures = {}
        for endpoint, call in calls.items():
            timings = timed_calls(call, photos, repeats)
            trips = [seconds for seconds, _ in timings]
            networks = [network_seconds(info_line(outputs)) for _, outputs in timings]
            figures[endpoint] = (statistics.median(trips), statistics.median(networks))
        return figures


def timed_calls(call: Callable[[str], object], photos: DistinctPhotos, repeats: int) -> list[tuple[float, object]]:
    """``(seconds, what it returned)`` of ``repeats`` calls on new photos, after one warm-up call; the photo
    is written before the clock starts."""
    call(photos.next())
    timings = []
    for _ in range(repeats):
        photo = photos.next()
        start = time.perf_counter()
        outputs = call(photo)
        timings.append((time.perf_counter() - start, outputs))
    return timings


def sessions_rss(url: str, pid: int, photos: DistinctPhotos, sessions: int) -> tuple[float, float]:
    """Server RSS (MB) before and 10 s after ``sessions`` fresh sessions, each showing one new photo."""
    before = rss_mb(pid)
    for _ in range(sessions):
        with PageClient(url) as page:
            page.call("show", photos.next(), *PAGE_CONTROLS)
    time.sleep(10)
    return before, rss_mb(pid)


def load(url: str, photos: DistinctPhotos, clients: int, requests: int) -> tuple[float, float, int]:
    """``clients`` clients x ``requests`` /segment calls at once: (requests/s, p50 s, failures)."""
    paths = [[photos.next() for _ in range(requests)] for _ in range(clients)]

    def run(own: list[str]) -> list[float | None]:
        times = []
        with PageClient(url) as page:
            for photo in own:
                start = time.perf_counter()
                try:
                    page.call("segment", photo, *SEGMENT_CONTROLS)
                    times.append(time.perf_counter() - start)
                except Exception:  # noqa: BLE001  (counted)
                    times.append(None)
        return times

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        times = [t for own in pool.map(run, paths) for t in own]
    elapsed = time.perf_counter() - start
    done = [t for t in times if t is not None]
    return len(done) / elapsed, statistics.median(done), len(times) - len(done)


def server_side(checkout: Path, photos: dict[str, DistinctPhotos], repeats: int) -> list[str]:
    """Rows of median seconds of ``CHECKOUT/space/app.py``'s own work for /show and /segment, in this process."""
    sys.path.insert(0, str(checkout))  # its carseg_model, not the installed one
    spec = importlib.util.spec_from_file_location("space_app", checkout / "space" / "app.py")
    app = importlib.util.module_from_spec(spec)
    sys.modules["space_app"] = app  # its dataclasses look their module up
    spec.loader.exec_module(app)
    space, style = app.CarSegSpace(app.load_model(app.DEFAULT_MODEL)), app.Style()
    rows = [f"| {checkout} | server side, no HTTP: median |", "|---|---|"]
    for label, variants in photos.items():
        for endpoint, work in {"/show": space.previews, "/segment": space.segment_file}.items():
            timings = timed_calls(lambda photo, work=work: work(photo, style), variants, repeats)
            rows.append(f"| {label}: {endpoint} | {statistics.median(seconds for seconds, _ in timings):.3f} s |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="photos per round-trip figure (median)")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="requests per client under load")
    parser.add_argument(
        "--server-side",
        nargs="?",
        const=REPO,
        type=Path,
        metavar="CHECKOUT",
        help="time the server's own work in this process, for CHECKOUT's space/app.py (default: this checkout)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carseg_bench_demo_") as folder:
        temp = Path(folder)
        (temp / "photos").mkdir()
        car = Image.open(EXAMPLES / "node-opencv_car2.jpg")
        photos = {
            "1.5 MP (1500x938)": DistinctPhotos(car, temp / "photos", "car_1p5mp"),
            "12 MP (4032x3024)": DistinctPhotos(car.resize(PHONE_SIZE, Image.LANCZOS), temp / "photos", "car_12mp"),
        }
        if args.server_side:
            os.environ["GRADIO_TEMP_DIR"] = str(temp / "gradio_tmp")
            print("\n".join(server_side(args.server_side.resolve(), photos, args.repeats)))
            return
        small = DistinctPhotos(Image.open(EXAMPLES / "node-opencv_car1.jpg"), temp / "photos", "car_1024")
        process, url = start_server(temp)
        try:
            rows = ["| measure | result | target |", "|---|---|---|"]
            for label, variants in photos.items():
                limit = 3 if label.startswith("12") else 2
                for endpoint, (trip, network) in round_trips(url, variants, args.repeats).items():
                    rows.append(
                        f"| {label}: {endpoint} round trip / network | {trip:.2f} s / {network:.2f} s = "
                        f"**{trip / network:.2f}x** | ≤ {limit}x |"
                    )
            before, after = sessions_rss(url, process.pid, small, args.sessions)
            rows.append(
                f"| server RSS after {args.sessions} sessions | {before:.0f} -> {after:.0f} MB "
                f"(**{after - before:+.0f} MB**) | ≤ +100 MB |"
            )
            rate, p50, failures = load(url, small, args.clients, args.requests)
            rows.append(
                f"| {args.clients} clients x {args.requests} /segment (1024x680) | **{rate:.1f} requests/s**, "
                f"p50 {p50:.2f} s, {failures} failures | ≥ 3.6 requests/s, 0 failures |"
            )
        finally:
            process.terminate()
            process.wait(timeout=60)
        left = [path for path in (temp / "gradio_tmp").rglob("*") if path.is_file()]
        examples = {path.name for path in EXAMPLES.glob("*.jpg")}  # the examples' gallery copies stay
        left = [path for path in left if path.name not in examples]
        rows.append(f"| files left in Gradio's temp folder after shutdown | {len(left)} | 0 |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
