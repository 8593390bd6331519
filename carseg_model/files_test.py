from pathlib import Path

import pytest

from carseg_model.files import atomic_write


def test_atomic_write_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target, fsync=True) as temporary:
        assert temporary.suffix == ".txt" and temporary.parent == target.parent
        temporary.write_text("new")
    assert target.read_text() == "new"

    with pytest.raises(RuntimeError), atomic_write(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_temporary_name_keeps_every_suffix(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "epoch_001.weights.h5") as temporary:  # Keras insists on .weights.h5
        assert temporary.name == ".epoch_001.tmp.weights.h5"
        temporary.write_text("weights")
