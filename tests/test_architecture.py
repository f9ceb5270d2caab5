"""The import rules break when the architecture does: control tests for pyproject.toml.

Each case copies the tree, adds one import that crosses a boundary, and runs the
same `lint-imports` that `./dev check` runs: the contract that guards the boundary
must say BROKEN and name the import. The untouched copy is the control: it passes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    for package in ("proxx", "workers"):
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install of the checkout.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _add_import(root: Path, module: str, line: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    text = path.read_text()
    cut = text.index("\nimport ") if "\nimport " in text else text.index("\nfrom ")
    path.write_text(f"{text[: cut + 1]}{line}  # noqa\n{text[cut + 1 :]}")


def test_the_untouched_tree_keeps_every_contract(tmp_path: Path) -> None:
    done = _lint(_tree(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout
    assert "0 broken" in done.stdout
    assert _verdict(" ".join(done.stdout.split()), "Layers:") == "KEPT"


@pytest.mark.parametrize(
    ("module", "line", "broken", "named"),
    [
        # A run/watch command that parses a JobSpec in the CLI's own process.
        (
            "proxx.cli.jobs",
            "from proxx.content import spec",
            ["moves names: it never reads JobSpecs or media"],
            "proxx.cli.jobs -> proxx.content.spec",
        ),
        # The old slurm ↔ watch cycle (fit_name lived in proxx.watch.folder).
        (
            "proxx.slurm.spool",
            "from proxx.watch.folder import Layout",
            ["Layers:", "Siblings are acyclic"],
            "proxx.slurm.spool -> proxx.watch.folder",
        ),
        # The old media ↔ libav cycle (the probe facade lived in proxx.content.media).
        (
            "proxx.content.media",
            "from proxx.content import libav",
            ["Siblings are acyclic"],
            ".media -> .libav",
        ),
        # A lower layer reaching up: the contract importing the supervisor side.
        (
            "proxx.contract.naming",
            "from proxx.watch import folder",
            ["Layers:", "The contract is the bottom layer"],
            "proxx.contract.naming -> proxx.watch.folder",
        ),
    ],
)
def test_a_crossing_import_breaks_the_contract_that_guards_it(
    tmp_path: Path, module: str, line: str, broken: list[str], named: str
) -> None:
    root = _tree(tmp_path)
    _add_import(root, module, line)
    done = _lint(root)
    assert done.returncode != 0, done.stdout
    flat = " ".join(done.stdout.split())
    for contract in broken:
        assert _verdict(flat, contract) == "BROKEN", done.stdout
    assert named in flat, done.stdout


def _verdict(flat: str, contract: str) -> str:
    """KEPT or BROKEN: the word that follows the contract's name in the summary."""
    at = flat.index(contract)
    kept, broken = flat.find(" KEPT", at), flat.find(" BROKEN", at)
    if broken != -1 and (kept == -1 or broken < kept):
        return "BROKEN"
    return "KEPT"


def _tier_run(tmp_path: Path, tier: str | None) -> subprocess.CompletedProcess[str]:
    """pytest on one test that starts a process, with this repository's conftest.py."""
    (tmp_path / "test_starts_one.py").write_text(
        "import subprocess\n\n\ndef test_it():\n    subprocess.run(['true'], check=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROXX_TIER"}
    if tier is not None:
        env["PROXX_TIER"] = tier
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "conftest",
            "-p",
            "no:cacheprovider",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_unit_tier_fails_a_test_that_starts_a_process(tmp_path: Path) -> None:
    done = _tier_run(tmp_path, "unit")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the unit tier (./dev unit) is in-process" in done.stdout


def test_control_outside_the_unit_tier_the_same_test_passes(tmp_path: Path) -> None:
    done = _tier_run(tmp_path, None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def _owners_block() -> str:
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    block = doc[doc.index("## Who owns what") :]
    start = block.index("```") + 3
    return block[start : block.index("```", start)]


def test_architecture_md_names_every_module_and_no_module_that_is_gone() -> None:
    """docs/ARCHITECTURE.md's "Who owns what" keeps up with the tree (issue 24: drift)."""
    block = _owners_block()
    modules = {
        path.name
        for package in ("proxx", "workers")
        for path in (REPO / package).rglob("*.py")
        if path.name != "__init__.py"
    }
    missing = sorted(
        str(path.relative_to(REPO))
        for package in ("proxx", "workers")
        for path in (REPO / package).rglob("*.py")
        if path.name != "__init__.py" and path.name not in block
    )
    assert missing == [], f"modules docs/ARCHITECTURE.md does not name: {missing}"
    named = set(re.findall(r"\b\w+\.py\b", block))
    gone = sorted(named - modules - {"__init__.py"})
    assert gone == [], f"docs/ARCHITECTURE.md names modules that are gone: {gone}"
