"""``carseg predict --engine ray`` on a local Ray instance: the local engine's files, resumed, bad photos reported."""

from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path

import pytest

from carseg_model.cli import main
from tests.conftest import EXAMPLES

pytest.importorskip("ray.data")

OPTIONS = ["--save", "mask,cutout,overlay", "--threshold", "0.6"]


@pytest.fixture(scope="module")
def local_ray():
    """One Ray instance with 2 CPUs for the module; the engine joins it instead of starting its own."""
    import ray

    ray.init(num_cpus=2, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Three real photos (one in a sub-folder) and a file that is not an image."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ("node-opencv_car1.jpg", "darknet_dog.jpg"):
        shutil.copy(EXAMPLES / name, folder / name)
    shutil.copy(EXAMPLES / "node-opencv_car2.jpg", folder / "sub" / "node-opencv_car2.jpg")
    (folder / "bad.jpg").write_text("not an image")
    return folder


def files_below(folder: Path) -> dict[Path, bytes]:
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_ray_writes_the_local_engines_files_reports_bad_photos_and_resumes(local_ray, photos, tmp_path, capsys):
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert main(["predict", str(photos), "--out", str(local), *OPTIONS]) == 1
    capsys.readouterr()
    assert main(["predict", str(photos), "--out", str(on_ray), *OPTIONS, "--engine", "ray", "--concurrency", "2"]) == 1
    captured = capsys.readouterr()
    assert "Ray: 2 actor(s), 1 thread(s) each" in captured.out
    assert "done: 3 photo(s)" in captured.out and "1 failed (listed above)" in captured.out
    assert f"skipped {photos / 'bad.jpg'}: " in captured.err and "is not an image" in captured.err
    expected = files_below(local)
    assert len(expected) == 9 and files_below(on_ray) == expected  # same names, same bytes

    # Resumed through pyarrow (file:// URIs plan like s3://): only the missing output is written.
    (photos / "bad.jpg").unlink()
    (on_ray / "sub" / "node-opencv_car2_mask.png").unlink()
    untouched = {path: path.stat().st_mtime_ns for path in on_ray.rglob("*.*")}
    argv = ["predict", f"file://{photos}", "--out", f"file://{on_ray}", *OPTIONS, "--engine", "ray"]
    assert main([*argv, "--concurrency", "1"]) == 0
    output = capsys.readouterr().out
    assert "3 photo(s): 1 to do, 2 already done (skipped)" in output and "Ray: 1 actor(s), 2 thread(s)" in output
    assert files_below(on_ray) == expected
    assert {path: path.stat().st_mtime_ns for path in untouched} == untouched

    assert main(["predict", str(photos), "--out", str(on_ray), *OPTIONS, "--engine", "ray"]) == 0
    assert "3 photo(s): 0 to do, 3 already done (skipped)" in capsys.readouterr().out


def test_an_address_without_a_cluster_stops_the_command_at_once(photos, tmp_path, capsys):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{unused.getsockname()[1]}"
        argv = ["predict", str(photos), "--out", str(tmp_path / "out"), "--engine", "ray", "--address", address]
        assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"carseg predict: error: cannot reach a Ray cluster at --address {address}")
    assert "\n" not in error and not (tmp_path / "out").exists()
