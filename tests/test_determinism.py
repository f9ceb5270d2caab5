"""Every FFmpeg profile renders, verifies, and is byte-identical when run again.

DESIGN §7: same JobSpec + same environment = same output bytes. Two runs of
one JobSpec (only output_dir differs, so the output names are the same) must
produce identical files; and the recorded ffmpeg_command, pasted into a shell,
reproduces those bytes too.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit import run_cli, spec_dict

PROXX = [sys.executable, "-m", "proxx"]


# The published table, as an operator reads it (`proxx profiles --json`).
_TABLE: dict[str, Any] = json.loads(run_cli("profiles", "--json").stdout)
PROFILES = [r for r in _TABLE["profiles"] if r["engine"] == "ffmpeg"]
CONTAINERS: dict[str, list[str]] = _TABLE["codec_containers"]
# ffprobe's codec_name and profile for each JobSpec codec: checked here independently.
PROBED = {
    "h264": ("h264", None), "hevc": ("hevc", None),
    "prores_proxy": ("prores", "Proxy"), "prores_lt": ("prores", "LT"),
    "prores422": ("prores", "Standard"), "prores422hq": ("prores", "HQ"),
    "dnxhr_lb": ("dnxhd", "DNXHR LB"), "dnxhr_sq": ("dnxhd", "DNXHR SQ"),
    "dnxhr_hq": ("dnxhd", "DNXHR HQ"),
}


def _cases() -> list[tuple[str, str, str]]:
    """Each profile once; containers rotate so mp4, mov and mxf are all exercised."""
    cases = []
    for i, row in enumerate(PROFILES):
        codec = row["codecs"].split(", ")[0]
        allowed = CONTAINERS[codec]
        cases.append((row["profile"], codec, allowed[i % len(allowed)]))
    return cases


CASES = _cases()


def test_the_cases_cover_every_ffmpeg_profile_and_container() -> None:
    assert {p for p, _, _ in CASES} == {r["profile"] for r in PROFILES}
    assert {"proxy_h264_low", "proxy_h264_quarter", "proxy_prores_proxy", "proxy_prores_lt",
            "proxy_dnxhr_lb"} <= {p for p, _, _ in CASES}
    assert {c for _, _, c in CASES} == {"mp4", "mov", "mxf"}


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def start(spec: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([*PROXX, "run", str(spec)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    result: dict[str, Any] = json.loads(out)
    assert proc.returncode == 0, (err, result["validation_error"], result["clips"])
    return result


@pytest.mark.parametrize(("profile", "codec", "container"), CASES,
                         ids=[f"{p}-{c}" for p, _, c in CASES])
def test_profile_renders_verifies_and_is_byte_stable(
    profile: str, codec: str, container: str, tmp_path: Path, clip: Callable[..., Path]
) -> None:
    # 640×360: DNxHR needs at least 256×120 after scaling; stereo audio exercises AAC/PCM.
    src = clip("determinism_640.mov", size="640x360", seconds=1.0, audio_channels=2)
    specs = []
    for run in ("first", "second"):
        out = tmp_path / run
        out.mkdir()
        spec = tmp_path / f"{run}.json"
        spec.write_text(json.dumps(spec_dict(
            [str(src)], out, codec=codec, container=container, proxy_profile=profile,
            output_name_template="{source_name}_{profile}")))
        specs.append(spec)
    # The two runs go at once: concurrency must not change bytes either.
    first, second = (finish(p) for p in [start(s) for s in specs])

    outputs = [r["clips"][0]["output_path"] for r in (first, second)]
    assert [os.path.basename(o) for o in outputs] == [f"determinism_640_{profile}.{container}"] * 2
    assert sha256(outputs[0]) == sha256(outputs[1]), f"{profile} in {container} is not stable"
    assert first["jobspec_fingerprint"] != second["jobspec_fingerprint"]  # output_dir differs

    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", outputs[0]],
        capture_output=True, text=True, check=True).stdout)
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    name, prof = PROBED[codec]
    assert video["codec_name"] == name
    if prof is not None:
        assert video.get("profile") == prof
    audio = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    assert [a["codec_name"] for a in audio] == ["aac" if codec in ("h264", "hevc")
                                                 else "pcm_s16le"]
    assert [a["channels"] for a in audio] == [2]


def test_the_recorded_ffmpeg_command_reproduces_the_proxy(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    src = clip("determinism_640.mov", size="640x360", seconds=1.0, audio_channels=2)
    proc = run_cli("run", str(job([src])))
    assert proc.returncode == 0, proc.stderr
    (c,) = json.loads(proc.stdout)["clips"]
    replay = tmp_path / "replay"
    replay.mkdir()
    # Pasted into a shell as printed (quoting and all), from another folder.
    pasted = subprocess.run(["sh", "-c", c["ffmpeg_command"]], cwd=replay,
                            capture_output=True, text=True)
    assert pasted.returncode == 0, pasted.stderr
    temp = [n for n in os.listdir(tmp_path / "out") if n.endswith(".partial")]
    assert len(temp) == 1 and temp[0].startswith(".")
    assert sha256(tmp_path / "out" / temp[0]) == sha256(c["output_path"])
