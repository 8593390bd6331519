"""``carseg push``: upload a trained model folder to the Hugging Face Hub as it is (card included)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from carseg_model.cli.errors import EXIT_OK, RunError, UsageError
from carseg_model.cli.options import new_command


def add_parser(commands: Any) -> None:
    """Register ``carseg push``."""
    parser = new_command(
        commands,
        "push",
        "Upload a trained model folder to the Hugging Face Hub as it is.",
        "FOLDER is a model folder (save_pretrained / train.py output) or a train.py run folder\n"
        "(its model/ is uploaded). The token comes from HF_TOKEN or `hf auth login`; the Hub\n"
        "from HF_ENDPOINT (default https://huggingface.co). Exit code 1 if the Hub cannot be\n"
        "reached or refuses the upload.\n\n"
        "  carseg push runs/v1 you/carseg",
    )
    parser.add_argument("folder", metavar="FOLDER", help="model folder, or a train.py run folder")
    parser.add_argument("repo_id", metavar="REPO_ID", help="Hub repo to create or update, e.g. you/carseg")
    parser.add_argument("--private", action="store_true", help="create the repo as private (if it is new)")
    parser.add_argument("--message", default="Upload carseg model", help="commit message")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Create the repo if needed and upload the model folder in one commit."""
    import httpx2  # huggingface_hub's HTTP client: its transport errors are not OSErrors
    from huggingface_hub import HfApi, get_token

    folder = model_folder_to_push(Path(args.folder).expanduser())
    if not get_token():
        raise UsageError("no Hugging Face token: set HF_TOKEN or run `hf auth login` first")
    api = HfApi()
    try:
        api.create_repo(args.repo_id, private=args.private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=folder,
            repo_id=args.repo_id,
            commit_message=args.message,
            ignore_patterns=[".*", "*/.*"],  # no temporary files of interrupted runs
        )
    except httpx2.TransportError as error:  # refused, unknown host, timeout, ...
        raise RunError(
            f"cannot reach the Hugging Face Hub at {api.endpoint} ({error or type(error).__name__}); "
            "check the network connection, or HF_ENDPOINT if it is set"
        ) from error
    print(f"uploaded {folder} to {commit.repo_url} (commit {commit.oid[:10]})")
    return EXIT_OK


def model_folder_to_push(folder: Path) -> Path:
    """``folder`` if it holds a carseg model, else its ``model/`` (a train.py run folder)."""
    from carseg_model.config import CONFIG_FILENAME

    for candidate in (folder, folder / "model"):
        if (candidate / CONFIG_FILENAME).is_file():
            return candidate
    raise UsageError(
        f"{folder} is not a carseg model folder (no {CONFIG_FILENAME}, nor in {folder / 'model'}); "
        "pass a folder written by save_pretrained or train.py"
    )
