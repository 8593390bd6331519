"""push_to_hub -> from_pretrained through a real Hub-compatible server on 127.0.0.1 (see support/hub_server.py)."""

from __future__ import annotations

import numpy as np
import pytest
from huggingface_hub import ModelCard

from carseg_model import CarSegModel, ModelNotCachedError
from tests.support.hub_fixtures import FAKE_TOKEN, offline_mode

REPO = "user/carseg-test"


@pytest.fixture
def pushed(hub, tiny_model):
    """The tiny model pushed to the loopback Hub; yields the server."""
    tiny_model.push_to_hub(REPO)
    return hub


def test_push_uploads_keras_layout_config_and_card(pushed):
    files = pushed.repo_files(REPO)
    assert {"config.json", "metadata.json", "model.weights.h5", "carseg_config.json", "README.md"} <= set(files)
    assert "model.weights.h5" in pushed.lfs_paths(REPO)  # large binary went the LFS route
    card = ModelCard(files["README.md"].decode())
    assert card.data.library_name == "keras" and card.data.pipeline_tag == "image-segmentation"
    writes = [r for r in pushed.requests if r.method == "POST" and "/commit/" in r.path]
    assert writes and all(r.headers["authorization"] == f"Bearer {FAKE_TOKEN}" for r in writes)


def test_from_pretrained_by_repo_id_gives_identical_predictions(pushed, tiny_model, car_photo):
    loaded = CarSegModel.from_pretrained(REPO)
    assert loaded.config == tiny_model.config
    assert np.array_equal(loaded.predict(car_photo).probabilities, tiny_model.predict(car_photo).probabilities)


def test_plain_keras_loads_the_pushed_repo(pushed, tiny_model):
    import keras

    network = keras.saving.load_model(f"hf://{REPO}")
    batch = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(network(batch)), np.asarray(tiny_model.network(batch)), atol=1e-6)


def test_revision_pins_an_older_commit(pushed, tiny_model, car_photo):
    first_commit = pushed.commit_history(REPO)[0]
    retrained = CarSegModel(tiny_model.config)  # new random weights
    retrained.push_to_hub(REPO)
    assert pushed.commit_history(REPO)[0] != first_commit
    old = CarSegModel.from_pretrained(REPO, revision=first_commit)
    assert np.array_equal(old.predict(car_photo).probabilities, tiny_model.predict(car_photo).probabilities)
    new = CarSegModel.from_pretrained(REPO)
    assert np.array_equal(new.predict(car_photo).probabilities, retrained.predict(car_photo).probabilities)


def test_offline_with_warm_cache_loads(pushed, tiny_model, car_photo):
    CarSegModel.from_pretrained(REPO)  # fills the cache
    with offline_mode():
        loaded = CarSegModel.from_pretrained(REPO)
    assert np.array_equal(loaded.predict(car_photo).probabilities, tiny_model.predict(car_photo).probabilities)
    assert np.array_equal(
        CarSegModel.from_pretrained(REPO, local_files_only=True).predict(car_photo).probabilities,
        loaded.predict(car_photo).probabilities,
    )


def test_offline_with_cold_cache_says_so(pushed, tmp_path):
    with offline_mode(), pytest.raises(ModelNotCachedError, match="not in the local Hugging Face cache"):
        CarSegModel.from_pretrained(REPO)
    with pytest.raises(ModelNotCachedError, match="HF_HUB_OFFLINE=1 or local_files_only=True"):
        CarSegModel.from_pretrained(REPO, local_files_only=True, cache_dir=tmp_path / "empty-cache")


def test_unknown_repo_is_a_clear_hub_error(hub):
    from huggingface_hub.errors import RepositoryNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        CarSegModel.from_pretrained("user/no-such-model")
