"""The sdist carries what the README links to; build output is not tracked by git."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_sdist_includes_docs_and_deploy(tmp_path: Path) -> None:
    # Built from a copy, so the build's own files never land in the working tree.
    src = tmp_path / "src"
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "*.egg-info", "__pycache__", ".*_cache", "proxx-demo", "build", "dist"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from setuptools import build_meta as b; b.build_sdist({str(tmp_path / 'dist')!r})",
        ],
        cwd=src,
        check=True,
        capture_output=True,
    )
    (sdist,) = (tmp_path / "dist").glob("proxx-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    linked = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")}
    assert {"docs/ROUTING.md", "docs/OPERATIONS.md"} <= linked
    assert linked <= names
    assert {
        "README.md",
        "deploy/proxx-watch@.service",
        "proxx/cli/__init__.py",
        "workers/main.py",
    } <= names


def test_build_output_is_ignored() -> None:
    out = subprocess.run(
        ["git", "check-ignore", "build/x", "dist/proxx-0.1.0.tar.gz"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() == ["build/x", "dist/proxx-0.1.0.tar.gz"]
