"""The Ray engine's decisions that need no cluster: actors and their resources, addresses, errors."""

from __future__ import annotations

import socket
import sys

import pytest

from carseg_model.cli import build_parser, ray_engine
from carseg_model.cli.errors import RunError, UsageError


def predict_args(*options: str):
    return build_parser().parse_args(["predict", "photos/", "--out", "masks/", "--engine", "ray", *options])


@pytest.mark.parametrize(
    "options, node_cpus, gpus, expected",
    [
        ((), [2], 0, ray_engine.ActorShape(concurrency=1, threads=2, gpus=0.0)),  # one per machine, all its cores
        (("--concurrency", "2"), [2], 0, ray_engine.ActorShape(2, 1, 0.0)),  # cores shared out: no oversubscription
        (("--concurrency", "3"), [2], 0, ray_engine.ActorShape(3, 1, 0.0)),
        ((), [16, 16], 0, ray_engine.ActorShape(2, 16, 0.0)),
        (("--concurrency", "1"), [16, 16], 0, ray_engine.ActorShape(1, 16, 0.0)),  # at most one node's cores
        (("--concurrency", "4", "--threads", "2"), [16], 0, ray_engine.ActorShape(4, 2, 0.0)),
        ((), [16, 16], 4, ray_engine.ActorShape(4, 8, 1.0)),  # one per GPU
        (("--concurrency", "8"), [16], 2, ray_engine.ActorShape(8, 2, 0.25)),
        (("--backend", "onnx"), [8], 1, ray_engine.ActorShape(1, 8, 1.0)),
        (("--backend", "tflite"), [8], 1, ray_engine.ActorShape(1, 8, 0.0)),  # LiteRT runs on the CPU here
        (("--model", "int8.tflite"), [8], 1, ray_engine.ActorShape(1, 8, 0.0)),
    ],
)
def test_actors_share_the_cluster_out(options, node_cpus, gpus, expected):
    assert ray_engine.actor_shape(predict_args(*options), node_cpus, gpus) == expected


def test_more_threads_than_any_node_has_is_refused():
    with pytest.raises(UsageError, match="--threads 9: no node of the Ray cluster has that many CPUs"):
        ray_engine.actor_shape(predict_args("--threads", "9"), [8, 8], 0)


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'carseg\[ray\]'"):
        ray_engine.import_ray()


@pytest.mark.parametrize("address, message", [("nohost", "expected auto, HOST:PORT"), ("ray://:x", "expected auto")])
def test_a_malformed_address_is_refused(address, message):
    with pytest.raises(UsageError, match=message):
        ray_engine.check_reachable(address)


def test_an_address_nothing_answers_on_is_refused_at_once():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connections are refused
        for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
            with pytest.raises(UsageError, match=f"cannot reach a Ray cluster at --address {address}"):
                ray_engine.check_reachable(address)


def test_a_model_an_actor_cannot_load_is_a_usage_error_with_the_actors_message():
    ray = pytest.importorskip("ray")
    remote = "Traceback (most recent call last):\n  ...\ncarseg_model.cli.errors.UsageError: cannot load the model x: no such folder\n"
    died = ray.exceptions.RayActorError(error_msg=remote, actor_init_failed=True)
    wrapper = RuntimeError("Ray Data's wrapper")
    wrapper.__cause__ = died
    error = ray_engine.stopped(ray, wrapper)
    assert isinstance(error, UsageError) and str(error) == "cannot load the model x: no such folder"
    other = ray_engine.stopped(ray, RuntimeError("line one\nray.exceptions.OutOfMemoryError: the node ran out"))
    assert isinstance(other, RunError) and str(other) == "the Ray job stopped: the node ran out"
