"""The sdist carries what the README links to; build output is not tracked by git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import proxx
from testkit import PROXX, make_clip, spec_in

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent


def build(tmp_path: Path, kind: str) -> Path:
    """An sdist or a wheel of the checkout, built from a copy (the build's own files
    never land in the working tree)."""
    src = tmp_path / "src"
    if not src.exists():
        shutil.copytree(
            REPO,
            src,
            ignore=shutil.ignore_patterns(
                ".venv*",
                ".git",
                "*.egg-info",
                "__pycache__",
                ".*_cache",
                "proxx-demo",
                "build",
                "dist",
            ),
        )
    dist = tmp_path / "dist"
    code = f"from setuptools import build_meta as b; b.build_{kind}({str(dist)!r})"
    subprocess.run([sys.executable, "-c", code], cwd=src, check=True, capture_output=True)
    (made,) = dist.glob(f"proxx-*.{'tar.gz' if kind == 'sdist' else 'whl'}")
    return made


def test_the_package_list_is_every_package_in_the_tree() -> None:
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = {
        ".".join(p.parent.relative_to(REPO).parts).replace("workers", "proxx_workers", 1)
        for top in ("proxx", "workers")
        for p in (REPO / top).rglob("__init__.py")
    }
    assert sorted(listed) == sorted(found)


def test_the_version_is_written_once_in_proxx() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "proxx.__version__"}


def test_the_wheel_proxx_and_its_results_name_one_version(tmp_path: Path) -> None:
    with zipfile.ZipFile(build(tmp_path, "wheel")) as wheel:
        (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        headers = dict(
            line.split(": ", 1) for line in wheel.read(meta).decode().splitlines() if ": " in line
        )
    said = subprocess.run([*PROXX, "--version"], capture_output=True, text=True, check=True)
    spec, _ = spec_in(tmp_path, [make_clip(tmp_path / "a.mov")])
    ran = subprocess.run([*PROXX, "run", str(spec)], capture_output=True, text=True, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert headers["Version"] == proxx.__version__
    assert said.stdout.split() == ["proxx,", "version", proxx.__version__]
    assert json.loads(ran.stdout)["_metadata"]["proxx_version"] == proxx.__version__


def test_the_wheel_claims_no_generic_top_level_name(tmp_path: Path) -> None:
    with zipfile.ZipFile(build(tmp_path, "wheel")) as wheel:
        tops = {n.split("/", 1)[0] for n in wheel.namelist()}
        names = set(wheel.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == {"proxx", "proxx_workers"}
    assert {"proxx_workers/main.py", "proxx_workers/ffmpeg/engine.py"} <= names


def test_an_installed_proxx_runs_beside_another_package_called_workers(tmp_path: Path) -> None:
    # The wheel unpacked into a folder of its own, and a stranger's `workers` package
    # first on the path: a job still renders, because Proxx's worker side is `proxx_workers`.
    site = tmp_path / "site"
    wheel = build(tmp_path, "wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
    )
    stranger = tmp_path / "stranger" / "workers"
    stranger.mkdir(parents=True)
    (stranger / "__init__.py").write_text("raise ImportError('a stranger named workers')\n")
    (stranger / "main.py").write_text("")
    spec, _ = spec_in(tmp_path, [make_clip(tmp_path / "a.mov")])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stranger.parent), str(site)])}
    ran = subprocess.run(
        [*PROXX, "run", str(spec)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "COMPLETED"
    where = subprocess.run(
        [sys.executable, "-c", "import proxx_workers; print(proxx_workers.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert where.stdout.startswith(str(site))  # control: the wheel's copy ran, not the checkout


def test_sdist_includes_docs_and_deploy(tmp_path: Path) -> None:
    sdist = build(tmp_path, "sdist")
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
