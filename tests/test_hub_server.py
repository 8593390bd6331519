"""Tests of tests/support/hub_server.py driven by the real `huggingface_hub` client (no client code is mocked)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.support.hub_fixtures import FAKE_TOKEN, offline_mode
from tests.support.hub_server import HubServer

README = "---\nlicense: apache-2.0\ntags:\n- test\n---\n\n# Demo\n\nHello.\n"


def _make_folder(root: Path, big: bytes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "notes.txt").write_text("some notes\n")
    (root / "README.md").write_text(README)
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "big.dat").write_bytes(big)
    return root


@pytest.fixture
def big_blob() -> bytes:
    return np.random.default_rng(0).integers(0, 256, size=1_200_000, dtype=np.uint8).tobytes()


def test_create_repo_exist_ok_and_whoami(hub: HubServer) -> None:
    api = HfApi()
    assert api.endpoint == hub.endpoint
    url = api.create_repo("user/demo")
    assert url.repo_id == "user/demo" and url.startswith(hub.endpoint)
    assert api.create_repo("user/demo", exist_ok=True).repo_id == "user/demo"
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo("user/demo")
    assert excinfo.value.response.status_code == 409
    assert api.create_repo("no-namespace").repo_id == "user/no-namespace"  # namespace = whoami name
    assert api.whoami()["name"] == "user"
    assert set(hub.repo_files("user/demo")) == {".gitattributes"}  # like the Hub's initial commit


def test_upload_folder_then_download(hub: HubServer, tmp_path: Path, big_blob: bytes) -> None:
    api = HfApi()
    api.create_repo("user/demo")
    folder = _make_folder(tmp_path / "src", big_blob)
    info = api.upload_folder(repo_id="user/demo", folder_path=folder, commit_message="add files")
    assert len(info.oid) == 40 and info.repo_url.repo_id == "user/demo"

    # Both upload paths were taken: a regular (base64 in the commit) and an LFS one (batch API + PUT).
    assert hub.lfs_paths("user/demo") == {"data/big.dat"}
    paths = [(r.method, r.path.split("?")[0]) for r in hub.requests]
    assert ("POST", "/api/validate-yaml") in paths
    assert ("POST", "/user/demo.git/info/lfs/objects/batch") in paths
    assert ("PUT", f"/lfs-upload/{__import__('hashlib').sha256(big_blob).hexdigest()}") in paths
    expected = {"notes.txt": b"some notes\n", "README.md": README.encode(), "data/big.dat": big_blob}
    assert {k: v for k, v in hub.repo_files("user/demo").items() if k != ".gitattributes"} == expected
    assert api.model_info("user/demo").sha == info.oid
    assert sorted(api.list_repo_files("user/demo")) == sorted([*expected, ".gitattributes"])

    hf_home = Path(os.environ["HF_HOME"])
    for name, content in expected.items():
        local = Path(hf_hub_download("user/demo", name))
        assert local.read_bytes() == content
        assert hf_home in local.parents
    snapshot = Path(snapshot_download("user/demo"))
    assert hf_home / "hub" in snapshot.parents and snapshot.name == info.oid
    assert {n: (snapshot / n).read_bytes() for n in expected} == expected
    # The cache names blobs after the ETag: the sha256 for LFS files, the git blob id otherwise.
    blobs = {p.name for p in (hf_home / "hub" / "models--user--demo" / "blobs").iterdir()}
    assert __import__("hashlib").sha256(big_blob).hexdigest() in blobs


def test_new_commit_revision_pinning_and_deletion(hub: HubServer, tmp_path: Path) -> None:
    api = HfApi()
    api.create_repo("user/demo")
    first = api.upload_file(path_or_fileobj=b"v1", path_in_repo="weights.txt", repo_id="user/demo").oid
    assert Path(hf_hub_download("user/demo", "weights.txt")).read_bytes() == b"v1"
    second = api.upload_file(path_or_fileobj=b"v2", path_in_repo="weights.txt", repo_id="user/demo").oid
    assert first != second and hub.commit_history("user/demo")[:2] == [second, first]

    assert Path(hf_hub_download("user/demo", "weights.txt")).read_bytes() == b"v2"
    assert Path(hf_hub_download("user/demo", "weights.txt", revision=first)).read_bytes() == b"v1"
    assert (Path(snapshot_download("user/demo", revision=first)) / "weights.txt").read_bytes() == b"v1"
    assert (Path(snapshot_download("user/demo")) / "weights.txt").read_bytes() == b"v2"

    api.delete_file("weights.txt", repo_id="user/demo")
    assert "weights.txt" not in hub.repo_files("user/demo")
    assert hub.repo_files("user/demo", revision=first)["weights.txt"] == b"v1"


def test_missing_repo_file_and_revision(hub: HubServer) -> None:
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("user/nope", "config.json")
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("user/nope")
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("user/nope")
    HfApi().create_repo("user/demo")
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("user/demo", "missing.json")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("user/demo", ".gitattributes", revision="no-such-branch")


def test_offline_mode_warm_and_cold_cache(hub: HubServer, tmp_path: Path, big_blob: bytes) -> None:
    api = HfApi()
    api.create_repo("user/warm")
    api.upload_folder(repo_id="user/warm", folder_path=_make_folder(tmp_path / "src", big_blob))
    api.create_repo("user/cold")
    online_snapshot = snapshot_download("user/warm")

    n_requests = len(hub.requests)
    with offline_mode():
        assert snapshot_download("user/warm") == online_snapshot
        assert Path(hf_hub_download("user/warm", "data/big.dat")).read_bytes() == big_blob
        with pytest.raises(LocalEntryNotFoundError):
            snapshot_download("user/cold")
        with pytest.raises(LocalEntryNotFoundError):
            hf_hub_download("user/cold", ".gitattributes")
    assert len(hub.requests) == n_requests  # nothing reached the server while offline


def test_hf_offline_fixture(hf_offline: HubServer) -> None:
    with pytest.raises(LocalEntryNotFoundError):
        snapshot_download("user/anything")
    assert hf_offline.requests == []


def test_model_card_push_and_load(hub: HubServer) -> None:
    HfApi().create_repo("user/card")
    ModelCard(README).push_to_hub("user/card")
    card = ModelCard.load("user/card")
    assert card.data.license == "apache-2.0" and card.data.tags == ["test"]
    assert hub.repo_files("user/card")["README.md"] == README.encode()


def test_auth_private_repos_and_token_never_logged(
    hub: HubServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = HfApi()
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo("user/demo", token=False)
    assert excinfo.value.response.status_code == 401
    api.create_repo("user/secret", private=True)
    api.upload_file(path_or_fileobj=b"x", path_in_repo="a.txt", repo_id="user/secret")
    assert Path(hf_hub_download("user/secret", "a.txt")).read_bytes() == b"x"
    with pytest.raises(RepositoryNotFoundError):
        # (with the file already cached, the client would fall back to the cache: use an empty one)
        hf_hub_download("user/secret", "a.txt", token=False, cache_dir=tmp_path / "anonymous-cache")
    writes = [r for r in hub.requests[1:] if r.method == "POST" and "validate-yaml" not in r.path]
    assert writes and all(r.headers.get("authorization") == f"Bearer {FAKE_TOKEN}" for r in writes)
    assert "authorization" not in hub.requests[0].headers
    assert FAKE_TOKEN not in caplog.text


def test_keras_save_and_load_via_hf_uri(hub: HubServer, no_internet: list[str]) -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    keras.saving.save_model(model, "hf://user/tiny")
    assert {"config.json", "metadata.json", "model.weights.h5", "README.md"} <= set(hub.repo_files("user/tiny"))
    assert "model.weights.h5" in hub.lfs_paths("user/tiny")

    loaded = keras.saving.load_model("hf://user/tiny")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    assert no_internet == []
    assert not hub.errors
