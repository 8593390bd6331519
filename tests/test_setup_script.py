"""scripts/setup.sh in a scratch copy of the project, with a fake ``.venv/bin/python`` that logs its calls."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/calls.log"
[ -z "${FAIL_PIP:-}" ] || { case "$*" in *pip*) echo "pip: no such package" >&2; exit 1;; esac; }
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """setup.sh, requirements.txt and pyproject.toml, and a .venv whose python only logs its arguments."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "setup.sh", tmp_path / "scripts")
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, tmp_path)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def setup(project: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run setup.sh; return the process and the fake python's calls (the log is then cleared)."""
    result = subprocess.run(
        ["bash", "scripts/setup.sh"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(project / ".venv" / "bin" / "python"), **env},
    )
    log = project / ".venv" / "bin" / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return result, calls


def test_setup_installs_once_and_again_only_when_the_requirements_change(project):
    result, calls = setup(project)
    assert result.returncode == 0, result.stderr
    assert [call for call in calls if "pip install" in call] == [
        "-m pip install --quiet --upgrade pip",
        "-m pip install --quiet -r requirements.txt",
        "-m pip install --quiet --no-deps -e .",
    ]

    result, calls = setup(project)  # nothing changed: no pip, no output
    assert (result.returncode, result.stdout, result.stderr, calls) == (0, "", "", [])

    with open(project / "requirements.txt", "a") as file:
        file.write("tqdm>=4.66,<5\n")
    result, calls = setup(project)
    assert result.returncode == 0 and sum("pip install" in call for call in calls) == 3


def test_a_failed_install_shows_pip_output_and_is_retried(project):
    result, _ = setup(project, FAIL_PIP="1")
    assert result.returncode == 1
    assert "pip: no such package" in result.stderr and "setup.log" in result.stderr
    result, calls = setup(project)
    assert result.returncode == 0 and any("pip install" in call for call in calls)
