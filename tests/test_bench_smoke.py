"""Smoke test of the benchmark harness: `python -m bench --quick --only overhead` prints its table.

Nothing here asserts a time: the numbers of a --quick run on a shared machine mean nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
NEEDS_FFMPEG = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs FFmpeg"
)


def quick_bench(tmp_path: Path, only: str, timeout: float) -> str:
    """stdout of `python -m bench --quick --only ONLY --quiet`, which must exit 0."""
    argv = ["--quick", "--only", only, "--quiet", "--work", str(tmp_path / "work")]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *argv, "--cache", str(tmp_path / "cache")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@NEEDS_FFMPEG
def test_bench_quick_overhead_prints_the_table(tmp_path: Path) -> None:
    out = quick_bench(tmp_path, "overhead", timeout=120)
    assert out.index("RATIOS AND TARGETS") < out.index("ABSOLUTE"), out
    assert "overhead: tiny job (3 × 2 s 640×360)" in out
    assert "overhead: 1080p job" in out
    assert "≤ 1.10×" in out and "≤ 1.02×" in out
    assert "ERROR" not in out


@NEEDS_FFMPEG
def test_bench_quick_uhd_and_threads_print_their_rows(tmp_path: Path) -> None:
    out = quick_bench(tmp_path, "uhd,threads", timeout=300)
    assert "4K: proxx run, 4 s 4K ProRes HQ → H.264 1080p, vs its own ffmpeg_command" in out
    assert "vs the editor's command" in out and "≤ 1.03×" in out and "≤ 1.00×" in out
    assert "threads: proxy_h264_low:" in out and "threads: proxy_prores_proxy:" in out
    assert "ERROR" not in out


@NEEDS_FFMPEG
def test_the_render_anatomy_reaches_the_worker_internals_it_times(
    tmp_path: Path, clip: Callable[..., Path]
) -> None:
    """The breakdown skips (with a note) what it cannot time: here it must not have to."""
    from bench.anatomy import render_anatomy
    from bench.common import Ctx

    ctx = Ctx(work=tmp_path, cache=tmp_path, quick=True)
    notes: list[str] = []
    ctx.log = notes.append  # type: ignore[method-assign,assignment]
    rows = render_anatomy(ctx, tmp_path, clip("anatomy.mov"), 1)
    assert notes == []
    assert sorted(rows) == sorted(
        [
            "worker: render() of 1 tiny clip",
            "worker: run_in_group(argv)",
            "worker: subprocess.run(argv), same argv",
            "worker: verify_output()",
        ]
    )
    assert all(len(v) == 1 and v[0] > 0 for v in rows.values())
