"""Find a carseg model folder: a local path, or a Hub repo id fetched into the Hugging Face cache."""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

from carseg_model import __version__
from carseg_model.config import CONFIG_FILENAME
from carseg_model.errors import ModelNotCachedError

BUNDLED_DIR = Path(__file__).resolve().parent / "pretrained"


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
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
    allow_patterns: list[str] | None = None,
) -> Path:
    """Return a local folder holding the model: ``name_or_path`` itself, a bundled model, or a Hub snapshot.

    A folder path wins over a bundled model's name (see `bundled_models`), which wins over a Hub
    repo id. ``allow_patterns`` limits a download to those files (e.g. one exported model and its config).
    """
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
                revision=revision,
                token=token,
                cache_dir=cache_dir,
                local_files_only=local_files_only,
                force_download=force_download,
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
            f"{name} (revision {revision or 'main'}) is not in the local Hugging Face cache and downloading "
            "is off (HF_HUB_OFFLINE=1 or local_files_only=True) or the Hub is unreachable. Load it once "
            "while online, or pass a local folder written by save_pretrained."
        ) from error
