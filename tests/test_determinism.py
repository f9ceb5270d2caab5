"""Every FFmpeg profile renders, verifies, and gives the same bytes every time.

DESIGN §7: same JobSpec + same environment = same output bytes, whatever
--max-workers is. Each profile's JobSpec goes through three watch folders:

- `one_cpu`: `proxx watch --once --max-workers 1`, the whole runner pinned to
  one CPU (FFmpeg sizes its decoder and filter threads from the CPUs it may
  use, so this is "a smaller machine");
- `two_a`, `two_b`: `--max-workers 2`, all CPUs: two jobs render at once.

The proxies (same names: only output_dir differs) must be byte-identical, and
the recorded FFmpeg argv the same apart from the output path. Controls show
the comparison can fail: a different x264/x265 thread count gives different
bytes, which is why each profile fixes its count. The recorded
`ffmpeg_command`, pasted into a shell, reproduces the proxy.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from testkit import ANY_ROOT, ffprobe, make_clip, run_cli, spec_dict

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e

PROXX = [sys.executable, "-m", "proxx"]

# The published table, as an operator reads it (`proxx profiles --json`).
_TABLE: dict[str, Any] = json.loads(run_cli("profiles", "--json").stdout)
PROFILES = [r for r in _TABLE["profiles"] if r["engine"] == "ffmpeg"]
CONTAINERS: dict[str, list[str]] = _TABLE["codec_containers"]
# What ffprobe reports for each JobSpec codec ("-": no profile to compare). Written
# out here, not taken from workers.expect.EXPECTED_CODEC: this test is the
# independent oracle for that table, so it states the facts as an operator reads them.
_PROBED_TABLE = """
codec         codec_name  profile
h264          h264        -
hevc          hevc        -
prores_proxy  prores      Proxy
prores_lt     prores      LT
prores422     prores      Standard
prores422hq   prores      HQ
dnxhr_lb      dnxhd       DNXHR LB
dnxhr_sq      dnxhd       DNXHR SQ
dnxhr_hq      dnxhd       DNXHR HQ
"""
PROBED: dict[str, tuple[str, str | None]] = {
    codec: (name, None if profile == "-" else profile)
    for codec, name, profile in (
        row.split(None, 2) for row in _PROBED_TABLE.strip().splitlines()[1:]
    )
}
RUNS = ("one_cpu", "two_a", "two_b")


def _cases() -> list[tuple[str, str, str]]:
    """Each profile once; containers rotate so mp4, mov and mxf are all exercised."""
    cases = []
    for i, row in enumerate(PROFILES):
        codec = row["codecs"].split(", ")[0]
        allowed = CONTAINERS[codec]
        cases.append((row["profile"], codec, allowed[i % len(allowed)]))
    return cases


CASES = _cases()


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _pin_to_one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _watch(root: Path, src: Path, workers: int, one_cpu: bool) -> dict[str, dict[str, Any]]:
    """Every case as one JobSpec in `root/pending`, one `watch --once`; results by profile."""
    out = root / "out"
    out.mkdir(parents=True)
    (root / "pending").mkdir()
    for profile, codec, container in CASES:
        (root / "pending" / f"{profile}.json").write_text(
            json.dumps(
                spec_dict(
                    [str(src)],
                    out,
                    codec=codec,
                    container=container,
                    proxy_profile=profile,
                    output_name_template="{source_name}_{profile}",
                )
            )
        )
    proc = subprocess.run(
        [*PROXX, "watch", str(root), *ANY_ROOT, "--once", "--max-workers", str(workers)],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        preexec_fn=_pin_to_one_cpu if one_cpu else None,
    )
    assert proc.returncode == 0, proc.stderr
    results = {}
    for state in ("completed", "failed"):
        for path in (root / state).glob("*.result.json"):
            results[path.name.removesuffix(".result.json")] = json.loads(path.read_text())
    return results


@pytest.fixture(scope="module")
def renders(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> dict[str, dict[str, dict[str, Any]]]:
    """run name → profile → result JSON: 36 tiny renders, made once per test session.

    Under pytest-xdist every worker would build its own copy of a module fixture; the
    first one renders into the session's shared temp folder and the others read its
    results (an flock orders them)."""
    root = tmp_path_factory.getbasetemp()
    base = (root if worker_id == "master" else root.parent) / "determinism-renders"
    base.mkdir(exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = base / "renders.json"
        if done.exists():
            cached: dict[str, dict[str, dict[str, Any]]] = json.loads(done.read_text())
            return cached
        # 640×360: DNxHR needs at least 256×120 after scaling; stereo exercises AAC/PCM.
        src = make_clip(base / "determinism_640.mov", size="640x360", seconds=1.0)
        made = {
            run: _watch(
                base / run, src, workers=1 if run == "one_cpu" else 2, one_cpu=run == "one_cpu"
            )
            for run in RUNS
        }
        done.write_text(json.dumps(made))
        return made


def test_the_cases_cover_every_ffmpeg_profile_and_container() -> None:
    assert {p for p, _, _ in CASES} == {r["profile"] for r in PROFILES}
    assert {
        "proxy_h264_low",
        "proxy_h264_quarter",
        "proxy_prores_proxy",
        "proxy_prores_lt",
        "proxy_dnxhr_lb",
    } <= {p for p, _, _ in CASES}
    assert {c for _, _, c in CASES} == {"mp4", "mov", "mxf"}


def _clip(result: dict[str, Any]) -> dict[str, Any]:
    assert result["status"] == "COMPLETED", (result["validation_error"], result["clips"])
    (clip,) = result["clips"]
    assert isinstance(clip, dict)
    return clip


def _argv_without_output(clip: dict[str, Any]) -> list[str]:
    return shlex.split(clip["ffmpeg_command"])[:-1]


@pytest.mark.parametrize(
    ("profile", "codec", "container"), CASES, ids=[f"{p}-{c}" for p, _, c in CASES]
)
def test_same_bytes_across_runs_worker_counts_and_cpus(
    profile: str, codec: str, container: str, renders: dict[str, dict[str, dict[str, Any]]]
) -> None:
    clips = {run: _clip(renders[run][profile]) for run in RUNS}
    names = {os.path.basename(c["output_path"]) for c in clips.values()}
    assert names == {f"determinism_640_{profile}.{container}"}
    digests = {run: sha256(c["output_path"]) for run, c in clips.items()}
    assert len(set(digests.values())) == 1, f"{profile} in {container}: {digests}"
    # Nothing in the argv follows the worker count or the CPUs: same command, other output.
    argvs = [_argv_without_output(c) for c in clips.values()]
    assert argvs[0] == argvs[1] == argvs[2]

    probe = ffprobe(clips["two_a"]["output_path"])
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    name, prof = PROBED[codec]
    assert video["codec_name"] == name
    if prof is not None:
        assert video.get("profile") == prof
    audio = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    assert [a["codec_name"] for a in audio] == ["aac" if codec in ("h264", "hevc") else "pcm_s16le"]
    assert [a["channels"] for a in audio] == [2]


def test_two_workers_really_rendered_at_once(renders: dict[str, dict[str, dict[str, Any]]]) -> None:
    # Without overlap, "two jobs at once" above would be an empty claim.
    for run in ("two_a", "two_b"):
        spans = sorted(
            (
                datetime.fromisoformat(c["started_at"].replace("Z", "+00:00")),
                datetime.fromisoformat(c["ended_at"].replace("Z", "+00:00")),
            )
            for c in (_clip(r) for r in renders[run].values())
        )
        assert any(b[0] < a[1] for a, b in itertools.pairwise(spans)), (run, spans)
    one = sorted(
        (c["started_at"], c["ended_at"]) for c in (_clip(r) for r in renders["one_cpu"].values())
    )
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(one))  # control: one at a time


def _with_other_threading(argv: list[str]) -> list[str]:
    """The same argv with another encoder thread count than the profile's fixed one
    (x264's threads, x265's pool size; x265's frame threads stay as they are)."""
    out = list(argv)
    if "-x265-params" in out:
        i = out.index("-x265-params") + 1
        params = dict(kv.split("=", 1) for kv in out[i].split(":"))
        params["pools"] = "1" if int(params["pools"]) > 1 else "4"
        out[i] = ":".join(f"{k}={v}" for k, v in params.items())
    else:
        i = out.index("-threads:v") + 1
        out[i] = "1" if int(out[i]) > 1 else "4"
    return out


@pytest.mark.parametrize("profile", ["proxy_h264_low", "proxy_hevc_low"])
def test_control_another_thread_count_gives_other_bytes(
    profile: str, renders: dict[str, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    # Control for the test above: the byte comparison does see an encoder-threading
    # change, so a thread count that followed the machine would be caught.
    clip = _clip(renders["two_a"][profile])
    argv = _argv_without_output(clip)
    ext = os.path.splitext(clip["output_path"])[1]
    same, other = tmp_path / f"same{ext}", tmp_path / f"other{ext}"
    for path, cmd in ((same, argv), (other, _with_other_threading(argv))):
        proc = subprocess.run(
            [*cmd, str(path)], capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        assert proc.returncode == 0, proc.stderr
    assert sha256(same) == sha256(clip["output_path"])
    assert sha256(other) != sha256(clip["output_path"])


def test_the_recorded_ffmpeg_command_reproduces_the_proxy(
    tmp_path: Path, clip: Callable[..., Path], job: Callable[..., Path]
) -> None:
    src = clip("determinism_640.mov", size="640x360", seconds=1.0, audio_channels=2)
    proc = run_cli("run", str(job([src])))
    assert proc.returncode == 0, proc.stderr
    (c,) = json.loads(proc.stdout)["clips"]
    replay = tmp_path / "replay"
    replay.mkdir()
    # Pasted into a shell as printed (quoting and all), from another folder, once the
    # job's private folder (removed at the job's end) is made again as docs/MEDIA.md says.
    argv = shlex.split(c["ffmpeg_command"])
    os.mkdir(os.path.dirname(argv[-1]), 0o700)
    pasted = subprocess.run(
        ["sh", "-c", c["ffmpeg_command"]], cwd=replay, capture_output=True, text=True
    )
    assert pasted.returncode == 0, pasted.stderr
    temp = os.listdir(os.path.dirname(argv[-1]))
    assert len(temp) == 1 and temp[0].startswith(".")
    assert sha256(Path(argv[-1])) == sha256(c["output_path"])
