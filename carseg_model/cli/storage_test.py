"""Planning and file access of ``carseg predict --engine ray``: local paths and pyarrow URIs plan alike."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs
import pytest

from carseg_model.cli import build_parser, storage
from carseg_model.cli.errors import UsageError


def predict_args(*argv: str):
    return build_parser().parse_args(["predict", *argv])


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """photos/a.jpg, photos/sub/b.png, a hidden photo and docs/notes.txt; a.jpg's mask is already written."""
    root = tmp_path / "photos"
    for name in ("a.jpg", "sub/b.png", ".hidden/c.jpg", "docs/notes.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"pixels")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a_mask.png").write_bytes(b"done")
    return root


def test_local_paths_are_planned_by_the_local_engine(photos: Path):
    out = photos.parent / "out"
    plan = storage.plan_jobs(predict_args(str(photos), "--out", str(out), "--save", "mask,overlay"))
    assert [job.photo for job in plan.jobs] == [photos / "a.jpg", photos / "sub" / "b.png"]
    assert [job.outputs for job in plan.jobs] == [
        {"overlay": out / "a_overlay.jpg"},
        {"mask": out / "sub" / "b_mask.png", "overlay": out / "sub" / "b_overlay.jpg"},
    ]
    assert plan.names == [str(photos / "a.jpg"), str(photos / "sub" / "b.png")]
    assert isinstance(plan.source, pafs.LocalFileSystem) and isinstance(plan.target, pafs.LocalFileSystem)


def test_uris_are_listed_and_checked_through_pyarrow_like_local_paths(photos: Path):
    out = photos.parent / "out"
    local = storage.plan_jobs(predict_args(str(photos), "--out", str(out), "--save", "mask,overlay"))
    remote = storage.plan_jobs(predict_args(f"file://{photos}", "--out", f"file://{out}", "--save", "mask,overlay"))
    assert remote.jobs == local.jobs
    assert remote.names == [f"file://{photos}/a.jpg", f"file://{photos}/sub/b.png"]
    again = storage.plan_jobs(predict_args(f"file://{photos}", "--out", f"file://{out}", "--overwrite"))
    assert [job.outputs for job in again.jobs] == [{"mask": out / "a_mask.png"}, {"mask": out / "sub" / "b_mask.png"}]


def test_an_output_folder_inside_the_input_is_refused_unless_allowed_and_then_never_read(photos: Path):
    with pytest.raises(UsageError, match="--allow-inside"):
        storage.plan_jobs(predict_args(f"file://{photos}", "--out", f"file://{photos}/sub"))
    plan = storage.plan_jobs(predict_args(f"file://{photos}", "--out", f"file://{photos}/sub", "--allow-inside"))
    assert [job.photo for job in plan.jobs] == [photos / "a.jpg"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("file:///no/such/folder", "no such file or folder"),
        ("nosuchscheme://bucket/photos", "cannot open nosuchscheme://bucket/photos"),
        ("file://{photos}/docs", "holds no photos"),
    ],
)
def test_bad_inputs_say_what_is_wrong(photos: Path, spec: str, message: str):
    with pytest.raises(UsageError, match=message):
        storage.plan_jobs(predict_args(spec.format(photos=photos), "--out", f"file://{photos.parent}/out"))


def test_photos_are_read_as_paths_on_a_local_disk_and_as_bytes_elsewhere(photos: Path):
    assert storage.read_photo(pafs.LocalFileSystem(), str(photos / "a.jpg")) == str(photos / "a.jpg")
    remote = pafs.SubTreeFileSystem(str(photos), pafs.LocalFileSystem())
    assert storage.read_photo(remote, "sub/b.png") == b"pixels"


def test_outputs_for_a_remote_filesystem_are_written_by_save_outputs_then_copied(tmp_path: Path, monkeypatch):
    def save_outputs(result, outputs, args):
        for kind, path in outputs.items():
            path.write_text(f"{kind} of {result}")

    monkeypatch.setattr(storage, "save_outputs", save_outputs)
    bucket = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    outputs = {"mask": "out/sub/b_mask.png", "overlay": "out/sub/b_overlay.jpg"}
    storage.write_outputs("b", outputs, bucket, predict_args("x.jpg", "--out", "out"))
    assert (tmp_path / "out" / "sub" / "b_mask.png").read_text() == "mask of b"
    assert (tmp_path / "out" / "sub" / "b_overlay.jpg").read_text() == "overlay of b"
