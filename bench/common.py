"""Shared helpers: media, JobSpecs, timed processes, Proxx results, statistics.

Only public tools: time.perf_counter, /proc, subprocess. Nothing here knows
Proxx internals beyond its command line and its result JSON.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import testkit

PYTHON = sys.executable
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Ctx:
    """What every benchmark gets: where to work, how hard to try, how to log."""

    work: Path
    cache: Path
    quick: bool
    seed: int = 1
    verbose: bool = True
    commands: dict[str, list[str]] = field(default_factory=dict)  # Proxx argv by key
    figures: dict[str, float] = field(default_factory=dict)  # medians other benches refer to

    def log(self, msg: str) -> None:
        if self.verbose:
            print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def fresh(self, name: str) -> Path:
        """An empty scratch directory under the work folder."""
        path = self.work / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path


# -- media ------------------------------------------------------------------------------------
def make_clip(
    path: Path,
    *,
    size: str,
    seconds: float,
    rate: str = "25",
    vcodec: Sequence[str] = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    acodec: str = "pcm_s16le",
) -> Path:
    """testkit's lavfi clip (stereo, start timecode), made under a temporary name so an
    interrupted run never leaves a half-made source in the cache."""
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    testkit.make_clip(
        tmp, size=size, rate=rate, seconds=seconds, vcodec=list(vcodec), extra=["-c:a", acodec]
    )
    tmp.rename(path)
    return path


def tiny_clip(ctx: Ctx) -> Path:
    """2 s 640×360 25 fps H.264 + PCM stereo (the `tiny` source of the issue)."""
    path = ctx.cache / "tiny_640x360_2s.mov"
    if not path.exists():
        ctx.log("making the tiny 640×360 source")
        make_clip(path, size="640x360", seconds=2)
    return path


def hd_clip(ctx: Ctx) -> Path:
    """1080p25 ProRes 422 HQ + PCM 24-bit: 10 s (1 s with --quick)."""
    return prores_hq_clip(ctx, "hd", "1920x1080", 1 if ctx.quick else 10, "1080p ProRes HQ")


def prores_hq_clip(ctx: Ctx, stem: str, size: str, seconds: float, what: str) -> Path:
    """A cached 25 fps ProRes 422 HQ + PCM 24-bit source, STEM_SIZE_Ns.mov.

    Made with prores_aw, which is quicker to make than prores_ks: a source, not a subject."""
    path = ctx.cache / f"{stem}_{size}_{seconds}s.mov"
    if not path.exists():
        ctx.log(f"making the {seconds} s {what} source (prores_aw, to save time)")
        make_clip(
            path,
            size=size,
            seconds=seconds,
            vcodec=("-c:v", "prores_aw", "-profile:v", "3", "-pix_fmt", "yuv422p10le"),
            acodec="pcm_s24le",
        )
    return path


def copies(src: Path, folder: Path, count: int, stem: str = "clip") -> list[Path]:
    """`count` hard links (or copies) of one source under distinct names."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        dst = folder / f"{stem}_{i:03d}{src.suffix}"
        if not dst.exists():
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        out.append(dst)
    return out


# -- JobSpecs -----------------------------------------------------------------------------------
def spec_dict(sources: Iterable[Path | str], output_dir: Path, **overrides: Any) -> dict[str, Any]:
    return testkit.spec_dict([str(s) for s in sources], output_dir, **overrides)


def write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj))
    return path


def clear_dir(path: Path) -> None:
    """Empty a folder (including hidden partials) but keep it."""
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


# -- processes ----------------------------------------------------------------------------------
# The benchmarks keep sources and outputs in their own work folders, beside (not inside)
# each watch root: `proxx watch` is confined to its root unless told more.
UNCONFINED = ("--source-root", "/", "--output-root", "/")


def proxx(*args: str) -> list[str]:
    extra = UNCONFINED if args[:1] == ("watch",) else ()
    return [PYTHON, "-m", "proxx", *args, *extra]


@dataclass
class Timed:
    seconds: float
    returncode: int
    launched_at: float  # time.time() just before the launch, to align with result timestamps
    stdout: bytes = b""
    cpu: float = float("nan")  # user+sys seconds of the whole process tree


_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Proxx's forkserver outlives the supervisor by a moment),
    so their CPU time is reaped into RUSAGE_CHILDREN and nothing is left a zombie."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def reap_orphans(timeout: float = 10.0) -> None:
    """Reap adopted descendants until none is left. Only call with no Popen of ours alive."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)


def cpu_now() -> float:
    """User + system seconds of every reaped descendant so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(
    argv: Sequence[str],
    *,
    stdout: int | None = subprocess.DEVNULL,
    stderr_path: Path | None = None,
    cwd: Path | None = None,
) -> Timed:
    """Run `argv` to completion; wall time from just before fork to just after reap."""
    with contextlib.ExitStack() as stack:
        err: Any = (
            stack.enter_context(open(stderr_path, "ab")) if stderr_path else subprocess.DEVNULL
        )
        c0 = cpu_now()
        wall = time.time()
        t0 = time.perf_counter()
        proc = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, cwd=cwd, check=False
        )
        dt = time.perf_counter() - t0
    reap_orphans()
    return Timed(dt, proc.returncode, wall, proc.stdout or b"", cpu_now() - c0)


def run_ok(argv: Sequence[str]) -> float:
    """Run one bare command; raise with its stderr if it fails; return wall seconds."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(
            f"bare command failed ({proc.returncode}): {shlex.join(argv)}\n"
            f"{proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return dt


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM a process we started, by its pid; SIGKILL it if it does not exit in time."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    reap_orphans()


def wait_until(pred: Callable[[], bool], timeout: float, interval: float = 0.001) -> float | None:
    """Poll `pred` every `interval`; perf_counter when it first held, None on timeout."""
    deadline = time.perf_counter() + timeout
    while True:
        if pred():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            return None
        time.sleep(interval)


# -- Proxx results ---------------------------------------------------------------------------------
def ts(iso: str) -> float:
    """A result timestamp (UTC ISO 8601, ms) as seconds since the epoch."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def commands_of(result: dict[str, Any]) -> list[list[str]]:
    cmds = [shlex.split(c["ffmpeg_command"]) for c in result["clips"] if c.get("ffmpeg_command")]
    if len(cmds) != len(result["clips"]):
        raise RuntimeError("a clip has no ffmpeg_command in the result JSON")
    return cmds


def bare(argv: Sequence[str], out_dir: Path, tag: str = "") -> list[str]:
    """The identical argv, writing into `out_dir` (same filesystem) instead of Proxx's partial."""
    name = os.path.basename(argv[-1]).lstrip(".").split(".")[0] or "out"
    ext = {"mov": "mov", "mp4": "mp4", "mxf": "mxf"}.get(argv[-2], "out")
    return [*argv[:-1], str(out_dir / f"{name}{tag}.bare.{ext}")]


def run_proxx_job(spec_path: Path, log_path: Path) -> tuple[Timed, dict[str, Any]]:
    """`proxx run SPEC` timed; returns the timing and the parsed result JSON (must complete)."""
    t = timed(proxx("run", str(spec_path)), stdout=subprocess.PIPE, stderr_path=log_path)
    result: dict[str, Any] = json.loads(t.stdout)
    if t.returncode != 0 or result["status"] != "COMPLETED":
        raise RuntimeError(
            f"proxx run {spec_path} exited {t.returncode} ({result['status']}); log: {log_path}"
        )
    return t, result


# -- /proc --------------------------------------------------------------------------------------
def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (kB) of a live process; {} once it is gone."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return {}
    return out


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids += [int(k) for k in fh.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kids


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


# -- statistics -----------------------------------------------------------------------------------
def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def spread_pct(xs: Sequence[float]) -> float:
    """(max − min) ÷ median, in percent: how noisy a series of repeats was."""
    mid = statistics.median(xs) if xs else 0.0
    if len(xs) < 2 or mid == 0:
        return 0.0
    return 100.0 * (max(xs) - min(xs)) / mid


def ratio_columns(
    ratios: Sequence[float], a: Sequence[float], b: Sequence[float]
) -> dict[str, str]:
    """An A ÷ B row's value, pairs and noise: the median ratio, its range, each side's spread."""
    return {
        "value": f"{median(ratios):.2f}×",
        "pairs": f"{min(ratios):.2f}–{max(ratios):.2f}×",
        "noise": noise(a, b),
    }


def noise(a: Sequence[float], b: Sequence[float]) -> str:
    """Both sides' spread, A / B: how far the row's repeats disagreed."""
    return f"{spread_pct(a):.0f}% / {spread_pct(b):.0f}%"


def interleave(
    a: Callable[[], float], b: Callable[[], float], n: int
) -> tuple[list[float], list[float]]:
    """n paired runs in ABBA order (A B, B A, A B …), so drift hits both sides alike."""
    xs: list[float] = []
    ys: list[float] = []
    for i in range(n):
        if i % 2 == 0:
            xs.append(a())
            ys.append(b())
        else:
            ys.append(b())
            xs.append(a())
    return xs, ys


def fmt_s(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"
