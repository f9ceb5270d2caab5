"""The pieces a Proxx job pays for, each timed on its own.

Interpreter start, imports (pydantic, click, the CLI), one probe of a
source (validation) and of an output (verification), `ffmpeg -version`,
a worker boot (first and second), an fsync'd atomic result write, and the
worker's `prepare()` (read, validate, plan) with and without probing.
These are what the overhead rows are diagnosed against.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.anatomy import render_anatomy, run_anatomy
from bench.common import (
    PYTHON,
    Ctx,
    bare,
    copies,
    cpu_now,
    fmt_ms,
    hd_clip,
    median,
    run_ok,
    spec_dict,
    spread_pct,
    timed,
    tiny_clip,
)
from bench.report import Report

_POOL_PROBE = r"""
import json, time
t0 = time.perf_counter()
from proxx.runtime.pool import LocalPool
t1 = time.perf_counter()

def boot(pool):
    a = time.perf_counter()
    pool.start()
    b = time.perf_counter()
    while not all(s.proc.ready for s in pool.slots.values()):
        pool.wait(1.0)
    return b - a, time.perf_counter() - a

first_start, first_ready = boot(p1 := LocalPool(1))
second_start, second_ready = boot(p2 := LocalPool(1))
time.sleep(0.5)  # let the workers finish their warm-up (engine import, ffmpeg -version)
a = time.perf_counter()
p1.shutdown()
print(json.dumps({"import_pool": t1 - t0, "cold_start": first_start, "cold_ready": first_ready,
                  "warm_start": second_start, "warm_ready": second_ready,
                  "shutdown": time.perf_counter() - a}))
p2.shutdown()
"""


# A worker's preparation of one JobSpec (read, validate, probe, route), in a
# separate process (JobContext installs signal handlers), with and without a probe.
_PREPARE = r"""
import json, os, sys, time
from proxx.contract.protocol import StartJob
from workers.context import JobContext
from workers.prepare import prepare

spec, n = sys.argv[1], int(sys.argv[2])
intr = JobContext()
req = StartJob(job_id="b", kind="validate", jobspec_path=spec, base_dir=os.path.dirname(spec),
               worker_id=0)
prepare(req, intr)  # imports and first-call set-up, once, as a worker's first job pays them
times = []
for _ in range(n):
    t = time.perf_counter()
    prepare(req, intr)
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


# Interpreter teardown: wall time after the script's last line, with and without a pool.
_EXIT_PROBE = r"""
import sys, time
t_script = time.time()
import proxx.cli, proxx.runtime.runjob
if sys.argv[1] == "pool":
    from proxx.runtime.pool import LocalPool
    p = LocalPool(1)
    p.start()
    while not p.slots[0].proc.ready:
        p.wait(1.0)
    time.sleep(0.3)
    p.shutdown()
print(t_script - float(sys.argv[2]), time.time() - t_script)
"""


def _exit_cost(variant: str) -> Callable[[], float]:
    def once() -> float:
        t = timed([PYTHON, "-c", _EXIT_PROBE, variant, repr(time.time())], stdout=subprocess.PIPE)
        to_script, in_script = (float(x) for x in t.stdout.split())
        return t.seconds - to_script - in_script

    return once


def _repeat(fn: Callable[[], float], n: int) -> list[float]:
    fn()  # warm caches
    return [fn() for _ in range(n)]


def _py(code: str) -> Callable[[], float]:
    return lambda: run_ok([PYTHON, "-c", code])


def _in_process(fn: Callable[[], object]) -> Callable[[], float]:
    def timed() -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    return timed


def run(ctx: Ctx, rep: Report) -> None:
    n = 3 if ctx.quick else 9
    d = ctx.fresh("breakdown")
    tiny, hd = tiny_clip(ctx), hd_clip(ctx)
    ctx.log("breakdown: interpreter, imports, ffprobe, ffmpeg -version, worker boot, fsync")
    outs = _proxies(ctx, d, {"tiny_h264": tiny, "hd_h264": hd})
    samples = _process_costs(n)
    samples.update(_in_process_costs(d, n, {"tiny": tiny, "1080p": hd, **outs}))
    samples.update(_prepare_costs(d, tiny, n))
    samples.update(_pool_costs(n))
    samples.update(render_anatomy(ctx, d, tiny, n))
    n_clips = 3 if ctx.quick else 10
    tinies = copies(tiny, ctx.work / "tiny-sources", n_clips, stem="tiny")
    for short, sources in (("tiny", tinies), ("1080p", [hd])):
        samples.update(
            run_anatomy(ctx, d / f"run-anatomy-{short}", short, sources, 1 if ctx.quick else 3)
        )
    samples["probe tiny source, CPU user+sys"] = _probe_cpu(tiny, n)
    for name, xs in samples.items():
        rep.detail(
            "breakdown",
            name,
            fmt_ms(median(xs)),
            f"{NOTES.get(name, '')}{'; ' if name in NOTES else ''}"
            f"noise {spread_pct(xs):.0f}%, n={len(xs)}",
        )
    rep.raw["breakdown"] = samples
    ctx.figures.update({k: median(v) for k, v in samples.items()})


NOTES = {
    "import proxx.cli + proxx.runtime.runjob": "what `proxx run` imports before started_at",
    "python -m proxx --version": "floor of any `proxx` invocation",
    "probe tiny source (validate)": "once per source, in the worker (PyAV, in-process)",
    "probe tiny output (verify)": "once per clip, in the worker, after FFmpeg",
    "ffmpeg -version": "once per worker, started while it is idle (engine_versions)",
    "ffprobe -version (exec floor)": "what a probe cost when it was a process",
    "Popen `true`, preexec_fn + process_group": "how run_in_group starts FFmpeg "
    "(preexec_fn forces fork)",
    "worker ready (WorkerReady), first pool": "interpreter + imports of a worker",
    "write_atomic 3 kB (2 fsyncs)": "each watch job: staged result + dir fsyncs",
    "worker: render() of 1 tiny clip": "run FFmpeg, verify, publish, build ClipResult",
    "worker: run_in_group(argv)": "FFmpeg in its own process group, stderr tail",
    "worker: subprocess.run(argv), same argv": "the floor for the line above",
    "worker: verify_output()": "ffprobe of the output + checks",
}


def _proxies(ctx: Ctx, d: Path, sources: dict[str, Path]) -> dict[str, Path]:
    """A proxy of each source, made by Proxx's own argv when an earlier bench recorded it."""
    outs: dict[str, Path] = {}
    for key, src in sources.items():
        argv = ctx.commands.get(key)
        if argv is None:
            argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-n", "-i", str(src)]
            argv += ["-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-preset", "veryfast"]
            argv += ["-threads:v", "1", "-c:a", "aac", "-f", "mov", f"{d}/.{key}.partial"]
        argv = bare(argv, d, tag=f"-{key}")
        run_ok(argv)
        outs[key] = Path(argv[-1])
    return outs


def _process_costs(n: int) -> dict[str, list[float]]:
    """What starting a process costs: interpreter, imports, exits, exec of FFmpeg, Popen."""
    samples: dict[str, list[float]] = {}
    samples["python -c pass"] = _repeat(_py("pass"), n)
    samples["import pydantic"] = _repeat(_py("import pydantic"), n)
    samples["import click"] = _repeat(_py("import click"), n)
    samples["import proxx.cli + proxx.runtime.runjob"] = _repeat(
        _py("import proxx.cli, proxx.runtime.runjob"), n
    )
    samples["python -m proxx --version"] = _repeat(
        lambda: run_ok([PYTHON, "-m", "proxx", "--version"]), n
    )
    samples["exit: teardown after imports"] = _repeat(_exit_cost("plain"), n)
    samples["exit: teardown after a Pool ran"] = _repeat(_exit_cost("pool"), n)
    samples["ffmpeg -version"] = _repeat(lambda: run_ok(["ffmpeg", "-version"]), n)
    samples["ffprobe -version (exec floor)"] = _repeat(lambda: run_ok(["ffprobe", "-version"]), n)
    samples["Popen `true`, posix_spawn/vfork path"] = _repeat(
        _in_process(lambda: subprocess.run(["true"], check=True)), n
    )
    samples["Popen `true`, preexec_fn + process_group"] = _repeat(
        _in_process(
            lambda: subprocess.run(["true"], check=True, process_group=0, preexec_fn=lambda: None)
        ),
        n,
    )
    return samples


def _in_process_costs(d: Path, n: int, media: dict[str, Path]) -> dict[str, list[float]]:
    """Probes of sources (validation) and proxies (verification), and one atomic write."""
    from proxx.content.probe import probe
    from proxx.contract.fsutil import write_atomic

    def probing(key: str) -> list[float]:
        return _repeat(_in_process(lambda: probe(str(media[key]))), n)

    payload = b"x" * 3000
    return {
        "probe tiny source (validate)": probing("tiny"),
        "probe tiny output (verify)": probing("tiny_h264"),
        "probe 1080p source": probing("1080p"),
        "probe 1080p output (verify)": probing("hd_h264"),
        "write_atomic 3 kB (2 fsyncs)": _repeat(
            _in_process(lambda: write_atomic(str(d / "r.json"), payload)), n
        ),
    }


def _prepare_costs(d: Path, tiny: Path, n: int) -> dict[str, list[float]]:
    """The worker's prepare() (read, validate, plan) without a probe, and with one."""
    samples: dict[str, list[float]] = {}
    for i, (label, sources) in enumerate(
        (("missing source (no probe)", [d / "missing.mov"]), ("1 tiny source (1 probe)", [tiny]))
    ):
        spec = d / f"prepare-{i}.json"
        spec.write_text(json.dumps(spec_dict(sources, d, output_name_template="{index}_x")))
        samples[f"worker prepare(): {label}"] = _last_json_line([_PREPARE, str(spec), str(n)])
    return samples


def _pool_costs(n: int) -> dict[str, list[float]]:
    """A worker pool's start, readiness (cold and warm) and shutdown, each in a fresh process."""
    pool = [_last_json_line([_POOL_PROBE]) for _ in range(n)]
    return {
        label: [p[key] for p in pool]
        for key, label in (
            ("import_pool", "import proxx.runtime.pool (in a fresh process)"),
            ("cold_start", "LocalPool(1).start() (spawns the worker)"),
            ("cold_ready", "worker ready (WorkerReady), first pool"),
            ("warm_ready", "worker ready, second pool (caches warm)"),
            ("shutdown", "LocalPool(1).shutdown(), idle worker"),
        )
    }


def _last_json_line(args: list[str]) -> Any:
    """The JSON on the last stdout line of `python -c ARGS…`."""
    proc = subprocess.run(
        [PYTHON, "-c", *args], capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _probe_cpu(tiny: Path, n: int) -> list[float]:
    from proxx.content.probe import probe

    cpu = []
    for _ in range(n):
        c0 = cpu_now()
        probe(str(tiny))
        cpu.append(cpu_now() - c0)
    return cpu
