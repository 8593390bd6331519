"""Pytest fixtures pointing the real `huggingface_hub` client at a loopback `HubServer`.

`huggingface_hub` reads ``HF_ENDPOINT``, ``HF_HOME``, ``HF_HUB_OFFLINE``, ... into `huggingface_hub.constants` (and
a few modules copy them) when it is first imported, so setting environment variables is not enough once it has
been imported: the `hub` fixture sets the variables (for subprocesses and late imports) AND patches those copies.

Use from a conftest.py with ``from tests.support.hub_fixtures import hf_offline, hub, no_internet  # noqa: F401`` (or
``pytest_plugins = ["tests.support.hub_fixtures"]`` in the top-level conftest); `offline_mode()` is a plain context manager.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.hub_server import HubServer

FAKE_TOKEN = "hf_fake_test_token"


def _patch_hub_environment(mp: pytest.MonkeyPatch, endpoint: str, hf_home: Path) -> None:
    """Point the environment and `huggingface_hub`'s import-time copies of it at `endpoint` and `hf_home`."""
    from urllib.parse import urlsplit

    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    hub_cache, assets_cache, xet_cache = hf_home / "hub", hf_home / "assets", hf_home / "xet"
    token_path = hf_home / "token"
    env = {
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hub_cache),
        "HF_ASSETS_CACHE": str(assets_cache),
        "HF_XET_CACHE": str(xet_cache),
        "HF_TOKEN_PATH": str(token_path),
        "HF_TOKEN": FAKE_TOKEN,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "NO_PROXY": ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1", "localhost"])),
    }
    for name, value in env.items():
        mp.setenv(name, value)
    for name in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HUGGING_FACE_HUB_TOKEN",
        "HUGGINGFACE_CO_STAGING",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN",
        "no_proxy",
    ):
        mp.delenv(name, raising=False)

    for name, value in {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_URL_HOSTS": constants.HF_URL_HOSTS | {"127.0.0.1"},
        "HF_HOME": str(hf_home),
        "default_cache_path": str(hub_cache),
        "default_assets_cache_path": str(assets_cache),
        "HUGGINGFACE_HUB_CACHE": str(hub_cache),
        "HF_HUB_CACHE": str(hub_cache),
        "HUGGINGFACE_ASSETS_CACHE": str(assets_cache),
        "HF_ASSETS_CACHE": str(assets_cache),
        "HF_XET_CACHE": str(xet_cache),
        "HF_TOKEN_PATH": str(token_path),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(hf_home / ".check_for_update_done"),
        "CHECK_FOR_SKILL_UPDATE_DONE_PATH": str(hf_home / ".check_for_skill_update_done"),
        "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_UPDATE_CHECK": True,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": False,
    }.items():
        mp.setattr(constants, name, value, raising=False)

    # Module-level copies made at import time (`from ..constants import X`, a default `HfApi()` instance, ...).
    for module_name, attr, value in [
        ("huggingface_hub.utils._cache_manager", "HF_HUB_CACHE", str(hub_cache)),
        ("huggingface_hub.utils._cache_assets", "HF_ASSETS_CACHE", str(assets_cache)),
        ("huggingface_hub.utils._git_credential", "ENDPOINT", endpoint),
    ]:
        mp.setattr(importlib.import_module(module_name), attr, value, raising=False)
    hf_api = importlib.import_module("huggingface_hub.hf_api")
    mp.setattr(hf_api.api, "endpoint", endpoint)  # behind `huggingface_hub.upload_file`, `create_repo`, ...
    parsed = urlsplit(endpoint)  # origins trusted with the token when following redirects
    origins = getattr(_http, "_HUB_ORIGINS", frozenset()) | {(parsed.scheme, parsed.hostname, parsed.port)}
    mp.setattr(_http, "_HUB_ORIGINS", origins, raising=False)


def _is_local(host: object) -> bool:
    if not isinstance(host, str) or host in ("", "localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
        return address.is_loopback or address.is_unspecified
    except ValueError:
        return False


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make name resolution and connections to non-loopback hosts fail at once (instead of hanging).

    Returns the list of hosts that something tried to reach, for assertions.
    """
    blocked: list[str] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def guard(host: object) -> None:
        if not _is_local(host):
            blocked.append(str(host))
            raise OSError(f"network access to {host!r} is blocked in tests")

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        guard(host.decode() if isinstance(host, bytes) else host)
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self, address):  # type: ignore[no-untyped-def]
        guard(address[0] if isinstance(address, tuple) else None)
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return blocked


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_internet: list[str]) -> Iterator[HubServer]:
    """A running `HubServer`, with `huggingface_hub` pointed at it, its cache in `tmp_path / "hf_home"`.

    The token is `FAKE_TOKEN` (via ``HF_TOKEN``), Xet and telemetry are disabled, offline mode is off and
    non-loopback network access fails fast (see `no_internet`).
    """
    from huggingface_hub.utils import close_session

    with HubServer() as server:
        _patch_hub_environment(monkeypatch, server.endpoint, tmp_path / "hf_home")
        close_session()  # the shared httpx client must not reuse connections from another test's server
        try:
            yield server
        finally:
            close_session()


@contextmanager
def offline_mode() -> Iterator[None]:
    """Within the block, `huggingface_hub` behaves as with ``HF_HUB_OFFLINE=1`` (any HTTP call raises)."""
    from huggingface_hub import constants

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(constants, "HF_HUB_OFFLINE", True)
        yield


@pytest.fixture
def hf_offline(hub: HubServer) -> Iterator[HubServer]:
    """Like `hub`, but in offline mode for the whole test (use `offline_mode()` to go offline for a block only)."""
    with offline_mode():
        yield hub
