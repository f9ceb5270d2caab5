"""The documented maximum: a JobSpec of 10 000 sources, each path 200 bytes (finding 8).

Its plan (2.9 MB) crosses the pipe in parts; before, the JobSpec (2 MB) was refused
as larger than 1 MiB, and past that the plan broke the pipe's frame cap (a worker
crash, exit 4). Slow: the worker probes 10 000 files (~40 s on a loaded box).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from testkit import make_clip, run_cli, write_spec


@pytest.mark.slow
def test_ten_thousand_sources_of_200_bytes_validate(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mov")
    folder = tmp_path / ("d" * (200 - len(str(tmp_path)) - len("//s00000.mov")))
    folder.mkdir()
    sources = [folder / f"s{i:05d}.mov" for i in range(10_000)]
    for source in sources:
        os.link(clip, source)
    assert {len(os.fsencode(str(s))) for s in sources} == {200}
    out = tmp_path / "out"
    out.mkdir()
    spec = write_spec(tmp_path / "job.json", sources, out)

    proc = run_cli("validate", "--json", str(spec), timeout=600)

    assert proc.returncode == 0, proc.stderr[-2000:]
    clips = json.loads(proc.stdout)["clips"]
    assert [c["source_path"] for c in clips] == [str(s) for s in sources]
