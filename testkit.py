"""Helpers shared by tests/, integration/ and bench/: tiny real media, JobSpecs, the real CLI.

A plain module (not conftest.py) so test files can import it by a name that
no other folder's conftest shadows."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proxx.content.plan import output_names
from proxx.content.routing import route_source
from proxx.content.spec import JobSpec, load_spec
from proxx.contract.errors import ValidationError
from proxx.contract.profiles import Engine
from proxx.demo import lavfi_argv

PROXX = [sys.executable, "-m", "proxx"]
# `proxx watch` is confined to its own tree unless told more: tests that are not about
# confinement and keep sources and outputs elsewhere allow the whole tree.
ANY_ROOT = ("--source-root", "/", "--output-root", "/")
# The keys of the one progress record a running job has (issue 19), wherever it is shown:
# status --json, run --progress jsonl, the record beside the claim.
PROGRESS_KEYS = {
    "phase",
    "clip",
    "clips",
    "clip_fraction",
    "job_fraction",
    "speed",
    "eta_seconds",
    "updated_at",
    "seconds_since_progress",
}
# Video encoder options for tiny test clips: quick to make, and quiet (x265 logs otherwise).
PRORES = ["-c:v", "prores_ks", "-profile:v", "0"]  # ProRes Proxy: fourcc apco
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
HEVC = [
    "-c:v",
    "libx265",
    "-preset",
    "ultrafast",
    "-x265-params",
    "log-level=error",
    "-tag:v",
    "hvc1",
]


def make_clip(
    path: Path,
    *,
    size: str = "64x36",
    rate: str = "25",
    seconds: float = 1.0,
    vcodec: list[str] | None = None,
    audio_channels: int = 2,
    timecode: str | None = "01:00:00:00",
    reel: str | None = None,
    extra: list[str] | None = None,
) -> Path:
    """A tiny real clip made by FFmpeg's lavfi sources (milliseconds to make)."""
    argv = lavfi_argv(
        path,
        size=size,
        rate=rate,
        seconds=seconds,
        video_codec=vcodec or H264,
        audio_layout={0: None, 1: "mono", 2: "stereo", 6: "5.1"}[audio_channels],
        audio_codec="pcm_s16le" if path.suffix in (".mov", ".mxf") else "aac",
        timecode=timecode,
        reel=reel,
        extra=extra or [],
    )
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return path


def noise(size: int, seed: int = 0) -> bytes:
    """`size` bytes that look random but are the same on every run.

    Never `os.urandom` in a test: one draw in many thousands is a valid stream to some
    libav demuxer (h263 was found that way), so a test on random bytes fails at random.
    """
    return random.Random(seed).randbytes(size)


def redcode(path: Path, magic: bytes = b"RED2") -> Path:
    """A REDCODE-signed file (size word, then the magic at byte 4): routes to Resolve.

    The body is fixed bytes, so two calls make the same file."""
    path.write_bytes(struct.pack(">I", 300) + magic + bytes(292))
    return path


def canon_crx(path: Path) -> Path:
    """A Canon `crx ` ISO-BMFF file (ftyp brand crx, then a free box): Canon RAW's signature."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"crx ", 1, b"crx ", b"isom")
    path.write_bytes(ftyp + struct.pack(">I4s", 16, b"free") + bytes(8))
    return path


def route_of(path: Path | str) -> tuple[Engine | None, str]:
    """The engine `path` routes to (None: rejected) and the reason given."""
    d = route_source(str(path))
    return d.engine, d.reason


def spec_dict(sources: list[str], output_dir: Path | str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "jobspec_version": "1.0.0",
        "created_at": "2026-01-15T09:30:00+01:00",
        "sources": sources,
        "output_dir": str(output_dir),
        "output_name_template": "{source_name}_proxy",
        "codec": "h264",
        "container": "mov",
        "fps_mode": "preserve_source",
        "proxy_profile": "proxy_h264_low",
    }
    spec.update(overrides)
    return spec


BASE_SPEC = spec_dict(["/media/A001_C001.mov"], "/proxies")  # the model tests' valid JobSpec


def model_spec(**overrides: Any) -> dict[str, Any]:
    """BASE_SPEC with `overrides` applied (any field, sources and output_dir included)."""
    return {**BASE_SPEC, **overrides}


def load_model(obj: Any) -> JobSpec:
    """`obj` as JSON through load_spec, as Proxx reads a JobSpec file."""
    return load_spec(json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def refusal_of(data: bytes) -> str:
    """Why load_spec refuses `data`; fails the test if it does not."""
    try:
        load_spec(data)
    except ValidationError as exc:
        return str(exc)
    raise AssertionError(f"load_spec accepted {data[:200]!r}")


def refusal(**overrides: Any) -> str:
    """Why load_spec refuses BASE_SPEC with `overrides` applied."""
    return refusal_of(json.dumps(model_spec(**overrides)).encode())


def names_of(template: str, sources: list[str], **overrides: Any) -> list[str]:
    """The output names a JobSpec of `sources` under `template` gives."""
    spec = load_model(model_spec(output_name_template=template, sources=sources, **overrides))
    return output_names(spec, sources)


def write_spec(
    path: Path, sources: Sequence[str | Path], output_dir: Path | str, **overrides: Any
) -> Path:
    """spec_dict(sources, output_dir, **overrides) written to `path` as a JobSpec file."""
    path.write_text(json.dumps(spec_dict([str(s) for s in sources], output_dir, **overrides)))
    return path


def spec_in(folder: Path, sources: Sequence[str | Path], **overrides: Any) -> tuple[Path, Path]:
    """FOLDER/job.json rendering `sources` into FOLDER/out/ (made here): (JobSpec, out)."""
    out = folder / "out"
    out.mkdir()
    return write_spec(folder / "job.json", sources, out, **overrides), out


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PROXX, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def remainder_planned(result: Path, rest: Path) -> list[str]:
    """`proxx remainder RESULT -o REST`, then `proxx validate --json REST` (both must
    succeed): the outputs the remainder job would write."""
    made = run_cli("remainder", str(result), "-o", str(rest))
    assert made.returncode == 0, made.stderr
    checked = run_cli("validate", "--json", str(rest))
    assert checked.returncode == 0, checked.stderr
    return [c["output_path"] for c in json.loads(checked.stdout)["clips"]]


def visible(folder: Path | str) -> list[str]:
    """The names in `folder` that are not dot-files (partials and temporaries are)."""
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_dac() -> None:
    """Run as root but without the capabilities that ignore file modes (tests run as root).

    Dropping them from the bounding set before exec makes root's permitted set
    lack them, so chmod 000 / 555 bite for real, for the CLI and everything it starts.
    """
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            os._exit(99)


def start_cli(
    *args: str, env: dict[str, str] | None = None, drop_dac: bool = False
) -> subprocess.Popen[str]:
    """The real CLI, started (not waited for); drop_dac: as root that file modes bind."""
    return subprocess.Popen(
        [*PROXX, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        preexec_fn=_drop_dac if drop_dac else None,
    )


def held_ffmpeg(folder: Path) -> dict[str, str]:
    """An environment whose `ffmpeg` renders only once `folder/go` exists.

    It touches `folder/rendering` when a render reaches it (`-version` runs at once),
    then waits for the word (at most 60 s) and runs the real FFmpeg: a test acts while
    a job is surely mid-render, and the proxy is still real."""
    shim = folder / "bin" / "ffmpeg"
    shim.parent.mkdir()
    real = "/usr/bin/ffmpeg"
    shim.write_text(
        "#!/bin/bash\n"
        f'for a in "$@"; do [ "$a" = -version ] && exec {real} "$@"; done\n'
        f"touch {folder}/rendering\n"
        f'for i in $(seq 1200); do [ -e {folder}/go ] && exec {real} "$@"; sleep 0.05; done\n'
        "exit 1\n"
    )
    shim.chmod(0o755)
    return {"PATH": f"{shim.parent}:{os.environ['PATH']}"}


def finish_cli(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait for a start_cli() process: its exit code, stdout and stderr."""
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file and folder under root (hidden ones too), with content hashes."""
    out: dict[str, tuple[int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = (-1, "dir")
        for f in filenames:
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                out[os.path.relpath(p, root)] = (-2, os.readlink(p))
                continue
            try:
                data = Path(p).read_bytes()
            except PermissionError:
                data = b"<unreadable>"
            out[os.path.relpath(p, root)] = (len(data), hashlib.sha256(data).hexdigest())
    return out


def truncated_copy(source: Path, target: Path, keep: float = 0.5) -> Path:
    """A copy of `source` cut to `keep` of its bytes: a damaged file, as a crash leaves one.

    Made from a `+faststart` MOV (index at the front), ffprobe still reads it
    while FFmpeg fails to decode its end."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def ffprobe(path: Path | str, *extra: str) -> dict[str, Any]:
    """ffprobe's JSON (streams and format) for `path`: the independent check of a proxy."""
    argv = ["ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format"]
    out = subprocess.run(
        [*argv, *extra, str(path)],
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def video(info: dict[str, Any]) -> dict[str, Any]:
    """The one video stream of an ffprobe() answer."""
    (stream,) = [s for s in info["streams"] if s["codec_type"] == "video"]
    found: dict[str, Any] = stream
    return found


def ffprobe_video(path: Path | str) -> dict[str, Any]:
    """The first video stream of `path` as ffprobe reports it (codec_name, width, height…)."""
    return video(ffprobe(path))


def identity(path: Path | str) -> tuple[int, int, str]:
    """Inode, mtime and content hash: equal before and after means nobody replaced the file."""
    st = os.stat(path)
    return st.st_ino, st.st_mtime_ns, hashlib.sha256(Path(path).read_bytes()).hexdigest()
