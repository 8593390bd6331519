"""`train.py --strategy multiworker` end to end: two worker processes on 127.0.0.1 train one epoch together.

Each worker gets its own ``TF_CONFIG`` (the same cluster, its own task index) and the same command;
worker 0 is the chief and writes the run folder, worker 1 trains in a temporary folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tiny_datasets import PHOTO_SIZE, STREET_NAMES, make_datasets
from tests.test_train import ROOT, RUN_TIMEOUT_S, TINY_RUN, TRAIN_SCRIPT, data_args, training_log

WORKERS = 2


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def tf_config(ports: list[int], index: int) -> str:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def run_workers(args: list[str], logs: Path) -> list[tuple[int, str]]:
    """Start one ``train.py`` per worker and wait for all: ``(exit status, output)`` of each."""
    ports = free_ports(WORKERS)
    processes = []
    for index in range(WORKERS):
        env = {**os.environ, "TF_CONFIG": tf_config(ports, index)}
        with open(logs / f"worker_{index}.log", "w") as log:
            command = [sys.executable, str(TRAIN_SCRIPT), *args]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        for process in processes:
            process.wait(timeout=RUN_TIMEOUT_S)
    finally:
        for process in processes:
            process.kill()
    return [(process.returncode, (logs / f"worker_{index}.log").read_text()) for index, process in enumerate(processes)]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_datasets(tmp_path_factory.mktemp("data"))


def test_two_workers_train_one_epoch_and_the_chief_writes_a_loadable_model(data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*data_args(data), *TINY_RUN, "--epochs", "1", "--strategy", "multiworker", "--output", str(run)]
    (chief, chief_output), (worker, worker_output) = run_workers(args, tmp_path)
    assert chief == 0, f"the chief failed:\n{chief_output[-5000:]}"
    assert worker == 0, f"worker 1 failed:\n{worker_output[-5000:]}"
    for output in (chief_output, worker_output):
        assert "2 replica(s), global batch size 8" in output and "Traceback" not in output
    assert f"waiting for the chief to evaluate the model and write {run}" in worker_output
    assert "Saved the model" in chief_output and "Saved the model" not in worker_output
    assert "unhealthy" not in chief_output  # worker 1 did not leave before the chief was done

    [epoch] = training_log(run)
    assert 0 < epoch["loss"] < 1 and 0 < epoch["val_dice_coef"] < 1
    assert (run / "checkpoints" / "epoch_001.weights.h5").is_file() and (run / "samples" / "epoch_001.png").is_file()
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 1
    assert "| replicas | 2 (multiworker strategy) |" in (run / "model" / "README.md").read_text()

    from carseg_model import CarSegModel

    model = CarSegModel.from_pretrained(run / "model")
    assert model.predict(data / "street" / "images" / f"{STREET_NAMES[0]}.png").mask.shape == PHOTO_SIZE
