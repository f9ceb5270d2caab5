"""FFmpeg argvs run bare, several at once, and the edits the encoder benchmarks make to them.

Every argv starts as Proxx's own; an edit changes one thing (threads, SIMD level).
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import bare, clear_dir, cpu_now, run_ok


@dataclass
class Output:
    digest: str
    size: int


def digest_and_remove(path: Path) -> Output:
    """The output's hash (16 hex digits) and size; the file is removed: outputs pile up."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    size = path.stat().st_size
    path.unlink()
    return Output(h.hexdigest()[:16], size)


@dataclass
class BareSide:
    """Commands run bare, one after another, into an emptied `folder`: what Proxx's own
    run of the same commands is set against. Wall seconds per trial; CPU and per-command
    seconds kept."""

    folder: Path
    cmds: list[list[str]]
    cpu: list[float] = field(default_factory=list)
    per_cmd: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.per_cmd = [[] for _ in self.cmds]

    def trial(self) -> float:
        clear_dir(self.folder)
        c0 = cpu_now()
        t0 = time.perf_counter()
        for i, argv in enumerate(self.cmds):
            self.per_cmd[i].append(run_ok(argv))
        dt = time.perf_counter() - t0
        self.cpu.append(cpu_now() - c0)
        return dt

    def forget(self) -> None:
        """Drop what warm-up trials recorded."""
        self.cpu.clear()
        for times in self.per_cmd:
            times.clear()


def _pin_one_cpu() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


@dataclass
class BareRunner:
    """Runs FFmpeg argvs bare (no Proxx around them), side by side, their outputs in `d`."""

    d: Path
    k: int = 0

    def many(
        self, argvs: list[list[str]], one_cpu: bool = False
    ) -> tuple[float, float, list[Output]]:
        """Start all argvs at once; wall seconds, CPU seconds of them all, their outputs."""
        outs, procs = [], []
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        for argv in argvs:
            self.k += 1
            cmd = bare(argv, self.d, tag=f"-{self.k}")
            outs.append(Path(cmd[-1]))
            procs.append(
                subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    preexec_fn=_pin_one_cpu if one_cpu else None,
                )
            )
        errs = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        for p, e in zip(procs, errs, strict=True):
            if p.returncode != 0:
                raise RuntimeError(f"ffmpeg failed: {e.decode(errors='replace')[-1000:]}")
        return wall, cpu, [digest_and_remove(o) for o in outs]


def encoder_of(argv: Sequence[str]) -> str:
    return argv[list(argv).index("-c:v") + 1]


def with_threads(argv: Sequence[str], n: int) -> list[str]:
    """`argv` with its encoder threading set to `n` (and nothing else changed)."""
    out = list(argv)
    if encoder_of(out) == "libx265":
        i = out.index("-x265-params") + 1
        params = dict(kv.split("=", 1) for kv in out[i].split(":"))
        params["pools"] = str(n)
        out[i] = ":".join(f"{k}={v}" for k, v in params.items())
        return out
    if "-threads:v" in out:
        out[out.index("-threads:v") + 1] = str(n)
        return out
    i = len(out) - 1 - out[::-1].index("-f")
    return [*out[:i], "-threads:v", str(n), *out[i:]]


# x86-64 SIMD levels a render box may have, each as FFmpeg's `-cpuflags` (decoders,
# scaler, libavcodec's encoders) and the matching x264/x265 `asm` mask: rendering with
# them on this CPU shows what a machine of that level would produce.
SIMD_LEVELS: dict[str, tuple[str, str, str]] = {
    "AVX2": ("-avx512-avx512icl", "AVX2", "avx2"),
    "SSE4.2": ("mmx+mmxext+sse+sse2+sse3+ssse3+sse4.1+sse4.2", "SSE4.2", "sse4.2"),
    "SSE2": ("mmx+mmxext+sse+sse2", "SSE2", "sse2"),
}


def with_simd(argv: Sequence[str], level: str) -> list[str]:
    """`argv` as a machine with only `level` SIMD would run it."""
    cpuflags, x264_asm, x265_asm = SIMD_LEVELS[level]
    out = [argv[0], "-cpuflags", cpuflags, *argv[1:]]
    enc = encoder_of(out)
    if enc in ("libx264", "libx265"):
        key, asm = ("-x264-params", x264_asm) if enc == "libx264" else ("-x265-params", x265_asm)
        if key in out:
            out[out.index(key) + 1] += f":asm={asm}"
        else:
            i = out.index("-c:v") + 2
            out[i:i] = [key, f"asm={asm}"]
    return out


def threading_of(argv: Sequence[str]) -> str:
    """The encoder threading an argv asks for, as an operator would read it."""
    a = list(argv)
    if encoder_of(a) == "libx265":
        params = dict(kv.split("=", 1) for kv in a[a.index("-x265-params") + 1].split(":"))
        return (
            f"pools={params.get('pools', 'auto')}:frame-threads="
            f"{params.get('frame-threads', 'auto')}"
        )
    text = f"-threads:v {a[a.index('-threads:v') + 1]}" if "-threads:v" in a else "default"
    if "-x264-params" in a:
        text += f" -x264-params {a[a.index('-x264-params') + 1]}"
    return text
