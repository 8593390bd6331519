"""Load test of ``carseg serve``: N clients x M requests with real photos; latency, failures and the server's RSS.

    python bench/bench_server.py                                        # carseg serve (bundled Keras model, demo)
    python bench/bench_server.py --serve "--model deploy/model.onnx --no-demo"   # a TensorFlow-free server
    python bench/bench_server.py --url http://127.0.0.1:8000 --pid 1234  # a server you started
    python bench/bench_server.py --quick                                 # 2 clients x 10 requests

It starts ``carseg serve SERVE_ARGS`` on a free port (unless --url), waits for ``/readyz``, sends
``--warm-up`` requests per client, then each client (a thread with its own keep-alive connection)
sends ``--requests`` photos from ``space/examples`` in turn to ``POST /v1/segment?QUERY``. The server's
RSS is read from ``/proc/PID/status`` every ``--sample`` seconds. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "space" / "examples"
RSS_GROWTH_LIMIT = 0.10
"""Issue 16's target: RSS after the run at most 10 % above RSS after warm-up."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--requests", type=int, default=200, help="requests per client (default 200)")
    parser.add_argument("--warm-up", type=int, default=5, help="requests per client before measuring (default 5)")
    parser.add_argument("--query", default="output=mask", help="query string of each request (default output=mask)")
    parser.add_argument("--serve", default="", help="arguments of the `carseg serve` to start (quoted)")
    parser.add_argument("--url", help="a running server instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: the server's process id, for its RSS")
    parser.add_argument("--sample", type=float, default=0.5, help="seconds between RSS samples (default 0.5)")
    parser.add_argument("--json", type=Path, help="also write every figure and the RSS series here")
    parser.add_argument("--quick", action="store_true", help="2 clients x 10 requests, 2 warm-up requests each")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.requests, args.warm_up = 2, 10, 2
    return args


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(serve_args: str) -> tuple[subprocess.Popen, str]:
    """``carseg serve`` on a free port, once ``/readyz`` answers 200 (its log goes to a temporary file)."""
    port = free_port()
    command = [sys.executable, "-m", "carseg_model", "serve", *shlex.split(serve_args), "--port", str(port)]
    print("starting:", shlex.join(command), flush=True)
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            sys.exit(f"the server exited with code {process.returncode}:\n{log.read()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    sys.exit("the server was not ready within 300 s")


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (``VmRSS``)."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


class RssSampler(threading.Thread):
    """Samples a process's RSS every ``interval`` seconds until stopped: ``(seconds, MB)`` pairs."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.start_time = pid, interval, time.monotonic()
        self.samples: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((time.monotonic() - self.start_time, rss_mb(self.pid)))
            self.stopped.wait(self.interval)


def run_clients(url: str, query: str, clients: int, requests: int, headers: dict[str, str]) -> tuple:
    """Each client sends ``requests`` photos in turn; returns latencies (s), status counts and the wall time."""
    photos = [(path.name, path.read_bytes()) for path in sorted(EXAMPLES.glob("*.jpg"))]
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def client(index: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as session:
            for number in range(requests):
                name, data = photos[(index + number) % len(photos)]
                start = time.perf_counter()
                try:
                    status = str(session.post(f"/v1/segment?{query}", files={"file": (name, data)}).status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                with lock:
                    latencies.append(time.perf_counter() - start)
                    statuses[status] += 1

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return np.array(latencies), statuses, time.perf_counter() - start


def main() -> int:
    args = parse_args()
    process = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.pid
    else:
        process, url = start_server(args.serve)
        pid = process.pid
    headers = {"Authorization": f"Bearer {os.environ['CARSEG_API_KEY']}"} if os.environ.get("CARSEG_API_KEY") else {}
    try:
        sampler = RssSampler(pid, args.sample) if pid else None
        rss_start = rss_mb(pid) if pid else float("nan")
        run_clients(url, args.query, args.clients, args.warm_up, headers)
        rss_warm = rss_mb(pid) if pid else float("nan")
        if sampler:
            sampler.start()
        latencies, statuses, seconds = run_clients(url, args.query, args.clients, args.requests, headers)
        if sampler:
            sampler.stopped.set()
            sampler.join()
        rss_after = rss_mb(pid) if pid else float("nan")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
    total = args.clients * args.requests
    failures = total - statuses.get("200", 0)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) * 1000
    peak = max((mb for _, mb in sampler.samples), default=float("nan")) if sampler else float("nan")
    growth = rss_after / rss_warm - 1
    figures = {
        "server": args.url or f"carseg serve {args.serve}".strip(),
        "query": args.query,
        "clients": args.clients,
        "requests": total,
        "failures": failures,
        "statuses": dict(statuses),
        "seconds": round(seconds, 2),
        "requests_per_second": round(total / seconds, 2),
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p99_ms": round(p99, 1),
        "rss_start_mb": round(rss_start, 1),
        "rss_warm_mb": round(rss_warm, 1),
        "rss_peak_mb": round(peak, 1),
        "rss_after_mb": round(rss_after, 1),
        "rss_growth": round(growth, 4),
        "rss_series": [(round(t, 2), round(mb, 1)) for t, mb in sampler.samples] if sampler else [],
    }
    print(
        "| server | clients x requests | req/s | p50 / p95 / p99 ms | failures | RSS start / warm / peak / after MB |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {figures['server']} | {args.clients} x {args.requests} | {figures['requests_per_second']} | "
        f"{p50:.0f} / {p95:.0f} / {p99:.0f} | {failures} | "
        f"{rss_start:.0f} / {rss_warm:.0f} / {peak:.0f} / {rss_after:.0f} ({growth:+.1%}) |"
    )
    print(f"statuses: {dict(statuses)}")
    target = failures == 0 and growth <= RSS_GROWTH_LIMIT
    print(f"target (0 failures, RSS after <= warm-up + {RSS_GROWTH_LIMIT:.0%}): {'met' if target else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
