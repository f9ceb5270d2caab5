"""`proxx profiles` as text lists what --json lists: profiles, codec/container pairs, fps modes."""

from __future__ import annotations

import json

import pytest

from testkit import run_cli

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def test_text_lists_every_profile_pair_and_fps_mode() -> None:
    table = json.loads(run_cli("profiles", "--json").stdout)
    text = run_cli("profiles")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    for row in table["profiles"]:
        assert any(line.startswith(row["profile"] + " ") for line in lines), row["profile"]
    pairs = lines[lines.index("codec → container(s):") + 1 : lines.index("fps_mode:") - 1]
    assert {p.split()[0]: p.split(None, 1)[1].split(", ") for p in pairs} == {
        codec: list(containers) for codec, containers in table["codec_containers"].items()
    }
    modes = lines[lines.index("fps_mode:") + 1 :]
    assert [m.split()[0] for m in modes] == table["fps_modes"]
    assert "  force_23_976         23.976 fps (exactly 24000/1001)" in modes
