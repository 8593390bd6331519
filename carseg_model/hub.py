"""Find a carseg model folder: a local path, or a Hub repo id fetched into the Hugging Face cache."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

from carseg_model.config import CONFIG_FILENAME
from carseg_model.errors import ModelNotCachedError
from carseg_model.version import __version__

BUNDLED_DIR = Path(__file__).resolve().parent / "pretrained"


@dataclass(frozen=True)
class HubOptions:
    """How to fetch a Hub repo: the download arguments of ``ModelHubMixin.from_pretrained``.

    ``CarSegModel.from_pretrained(repo, revision=..., token=...)`` takes them as keywords;
    they only matter when the model comes from the Hub (not for folders or bundled models).
    ``HF_HUB_OFFLINE=1`` works like ``local_files_only=True``.
    """

    revision: str | None = None
    token: str | bool | None = None
    cache_dir: str | os.PathLike | None = None
    local_files_only: bool = False
    force_download: bool = False


def bundled_models() -> list[str]:
    """Names of the trained models shipped inside the package (``from_pretrained(name)`` loads them offline)."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / CONFIG_FILENAME).is_file())


def looks_like_path(name: str) -> bool:
    """True for names a user means as a folder (``./x``, ``/x``, ``~/x``, ``a/b/c``), not a repo id."""
    return (
        name.startswith(("/", "./", "../", "~", ".\\"))
        or name in (".", "..")
        or "\\" in name
        or name.count("/") > 1
        or bool(os.path.splitdrive(name)[0])
    )


def resolve_model_folder(
    name_or_path: str | os.PathLike,
    hub: HubOptions | None = None,
    allow_patterns: list[str] | None = None,
) -> Path:
    """Return a local folder holding the model: ``name_or_path`` itself, a bundled model, or a Hub snapshot.

    A folder path wins over a bundled model's name (see `bundled_models`), which wins over a Hub
    repo id. ``hub`` says how to download (default `HubOptions()`); ``allow_patterns`` limits a
    download to those files (e.g. one exported model and its config).
    """
    hub = hub or HubOptions()
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = os.fspath(name_or_path)
    if name in bundled_models():
        return BUNDLED_DIR / name
    if isinstance(name_or_path, Path) or looks_like_path(name):
        raise FileNotFoundError(f"no such folder: {path}. Pass a folder written by save_pretrained, or a Hub repo id")
    try:
        return Path(
            snapshot_download(
                name,
                **asdict(hub),
                allow_patterns=allow_patterns,
                library_name="carseg",
                library_version=__version__,
            )
        )
    except HFValidationError as error:
        raise FileNotFoundError(
            f"{name!r} is neither an existing folder nor a valid Hub repo id ('org/name'): {error}"
        ) from error
    except LocalEntryNotFoundError as error:
        raise ModelNotCachedError(
            f"{name} (revision {hub.revision or 'main'}) is not in the local Hugging Face cache and downloading "
            "is off (HF_HUB_OFFLINE=1 or local_files_only=True) or the Hub is unreachable. Load it once "
            "while online, or pass a local folder written by save_pretrained."
        ) from error
