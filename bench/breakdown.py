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

from bench.common import (
    PYTHON,
    Ctx,
    bare,
    commands_of,
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
    ts,
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
# separate process (Interrupts installs signal handlers), with and without a probe.
_PREPARE = r"""
import json, os, sys, time
from proxx.contract.protocol import StartJob
from workers.interrupts import Interrupts
from workers.prepare import prepare

spec, n = sys.argv[1], int(sys.argv[2])
intr = Interrupts()
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


# One clip through the worker's own code, in a separate process (Interrupts
# installs signal handlers): render() whole, then its pieces on the same argv.
_RENDER_ANATOMY = r"""
import json, os, subprocess, sys, time
from proxx.contract.protocol import StartJob
from workers.ffmpeg_args import expected_output
from workers.ffmpeg_engine import FFmpegEngine
from workers.interrupts import Interrupts
from workers.prepare import prepare
from workers.subproc import run_in_group
from workers.verify import verify_output

spec, n = sys.argv[1], int(sys.argv[2])
intr = Interrupts()
eng = FFmpegEngine()
assert eng.available(intr) is None
out = {"render": [], "run_in_group": [], "subprocess.run": [], "verify_output": []}
def clock(key, fn):
    t = time.perf_counter(); r = fn(); out[key].append(time.perf_counter() - t); return r
for i in range(n + 1):
    req = StartJob(job_id=f"anat{i}", kind="run", jobspec_path=spec,
                   base_dir=os.path.dirname(spec), worker_id=0)
    plan = prepare(req, intr).plan
    clip = plan.clips[0]
    res = clock("render", lambda: eng.render(plan, clip, intr))
    assert res.status == "COMPLETED", res
    os.unlink(clip.output_path)
    argv = eng._argv(plan, clip)
    temp = argv[-1]
    exp = expected_output(plan.codec, plan.proxy_profile, plan.fps_mode, clip.source)
    pair = [("run_in_group", lambda: run_in_group(argv, intr)),
            ("subprocess.run", lambda: subprocess.run(argv, stdin=subprocess.DEVNULL,
                                                      stdout=subprocess.DEVNULL,
                                                      stderr=subprocess.PIPE))]
    for key, fn in pair if i % 2 else pair[::-1]:
        clock(key, fn)
        if key == "run_in_group":
            clock("verify_output", lambda: verify_output(temp, exp, plan.container))
        os.unlink(temp)
    if i == 0:
        for v in out.values():
            v.clear()
print(json.dumps(out))
"""


# `proxx run`'s own path (run_one) with timers around the pool's start and
# shutdown, in a fresh process: where the time of one real run goes.
_RUN_ANATOMY = r"""
import json, sys, time
t_script = time.time()
t0 = time.perf_counter()
import proxx.cli, proxx.runtime.runjob
t_imports = time.perf_counter() - t0
from proxx.runtime.pool import LocalPool
T = {"Pool.start": 0.0, "Pool.shutdown": 0.0}

def wrap(name):
    orig = getattr(LocalPool, name)
    def w(*a, **k):
        t = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            T[f"Pool.{name}"] += time.perf_counter() - t
    setattr(LocalPool, name, w)

for name in ("start", "shutdown"):
    wrap(name)
t = time.perf_counter()
res = proxx.runtime.runjob.run_one(sys.argv[1]).result
T["run_one"] = time.perf_counter() - t
sys.stdout.write(res.to_json())
data = json.loads(res.to_json())
T.update(status=res.status, to_script=t_script - float(sys.argv[2]), imports=t_imports,
         started_at=data["started_at"], ended_at=data["ended_at"],
         clips=[[c["started_at"], c["ended_at"]] for c in data["clips"]])
print()
print(json.dumps(T))
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
    from proxx.content.media import probe
    from proxx.contract.fsutil import write_atomic

    n = 3 if ctx.quick else 9
    d = ctx.fresh("breakdown")
    tiny, hd = tiny_clip(ctx), hd_clip(ctx)
    ctx.log("breakdown: interpreter, imports, ffprobe, ffmpeg -version, worker boot, fsync")
    # a tiny and a 1080p proxy, made by Proxx's own argv when known
    outs: dict[str, Path] = {}
    for key, src in (("tiny_h264", tiny), ("hd_h264", hd)):
        argv = ctx.commands.get(key)
        if argv is None:
            argv = [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-n",
                "-i",
                str(src),
                "-vf",
                "scale=iw/2:ih/2",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-threads:v",
                "1",
                "-c:a",
                "aac",
                "-f",
                "mov",
                f"{d}/.{key}.partial",
            ]
        argv = bare(argv, d, tag=f"-{key}")
        run_ok(argv)
        outs[key] = Path(argv[-1])

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
    samples["probe tiny source (validate)"] = _repeat(_in_process(lambda: probe(str(tiny))), n)
    samples["probe tiny output (verify)"] = _repeat(
        _in_process(lambda: probe(str(outs["tiny_h264"]))), n
    )
    samples["probe 1080p source"] = _repeat(_in_process(lambda: probe(str(hd))), n)
    samples["probe 1080p output (verify)"] = _repeat(
        _in_process(lambda: probe(str(outs["hd_h264"]))), n
    )
    payload = b"x" * 3000
    samples["write_atomic 3 kB (2 fsyncs)"] = _repeat(
        _in_process(lambda: write_atomic(str(d / "r.json"), payload)), n
    )
    for label, sources in (
        ("missing source (no probe)", [d / "missing.mov"]),
        ("1 tiny source (1 probe)", [tiny]),
    ):
        spec = d / f"prepare-{len(samples)}.json"
        spec.write_text(json.dumps(spec_dict(sources, d, output_name_template="{index}_x")))
        proc = subprocess.run(
            [PYTHON, "-c", _PREPARE, str(spec), str(n)],
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
        )
        samples[f"worker prepare(): {label}"] = json.loads(proc.stdout.strip().splitlines()[-1])

    pool: list[dict[str, float]] = []
    for _ in range(n):
        out = subprocess.run(
            [PYTHON, "-c", _POOL_PROBE],
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
        )
        pool.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for key, label in (
        ("import_pool", "import proxx.runtime.pool (in a fresh process)"),
        ("cold_start", "LocalPool(1).start() (spawns the worker)"),
        ("cold_ready", "worker ready (WorkerReady), first pool"),
        ("warm_ready", "worker ready, second pool (caches warm)"),
        ("shutdown", "LocalPool(1).shutdown(), idle worker"),
    ):
        samples[label] = [p[key] for p in pool]

    samples.update(_anatomy(ctx, d, tiny, n))
    n_clips = 3 if ctx.quick else 10
    tinies = copies(tiny, ctx.work / "tiny-sources", n_clips, stem="tiny")
    for short, sources in (("tiny", tinies), ("1080p", [hd])):
        samples.update(
            _run_anatomy(ctx, d / f"run-anatomy-{short}", short, sources, 1 if ctx.quick else 3)
        )
    cpu = []
    for _ in range(n):
        c0 = cpu_now()
        probe(str(tiny))
        cpu.append(cpu_now() - c0)
    samples["probe tiny source, CPU user+sys"] = cpu

    notes = {
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
    for name, xs in samples.items():
        rep.detail(
            "breakdown",
            name,
            fmt_ms(median(xs)),
            f"{notes.get(name, '')}{'; ' if name in notes else ''}"
            f"noise {spread_pct(xs):.0f}%, n={len(xs)}",
        )
    rep.raw["breakdown"] = samples
    ctx.figures.update({k: median(v) for k, v in samples.items()})


def _anatomy(ctx: Ctx, d: Path, tiny: Path, n: int) -> dict[str, list[float]]:
    """render() and its parts on one tiny clip; {} (with a note) if the internals moved."""
    out = d / "anatomy-out"
    out.mkdir()
    spec = d / "anatomy.json"
    spec.write_text(json.dumps(spec_dict([tiny], out)))
    proc = subprocess.run(
        [PYTHON, "-c", _RENDER_ANATOMY, str(spec), str(n)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        ctx.log(f"breakdown: render anatomy skipped: {proc.stderr.strip().splitlines()[-1:]}")
        return {}
    raw: dict[str, list[float]] = json.loads(proc.stdout.strip().splitlines()[-1])
    names = {
        "render": "worker: render() of 1 tiny clip",
        "run_in_group": "worker: run_in_group(argv)",
        "subprocess.run": "worker: subprocess.run(argv), same argv",
        "verify_output": "worker: verify_output()",
    }
    return {names[k]: v for k, v in raw.items()}


def _run_anatomy(
    ctx: Ctx, d: Path, short: str, sources: list[Path], n: int
) -> dict[str, list[float]]:
    """Timers around run_one's steps in a real run; {} if the internals moved."""
    out = d / "out"
    out.mkdir(parents=True)
    spec = d / "job.json"
    spec.write_text(json.dumps(spec_dict(sources, out)))
    rows: list[dict[str, float]] = []
    for _ in range(n + 1):
        for f in out.iterdir():
            f.unlink()
        t = timed(
            [PYTHON, "-c", _RUN_ANATOMY, str(spec), repr(time.time())],
            stdout=subprocess.PIPE,
            stderr_path=d / "log",
        )
        try:
            lines = t.stdout.decode().strip().splitlines()
            raw = json.loads(lines[-1])
            result = json.loads("\n".join(lines[:-1]))
        except (ValueError, IndexError):
            ctx.log(f"breakdown: run anatomy skipped (exit {t.returncode}); log {d / 'log'}")
            return {}
        if raw["status"] != "COMPLETED":
            ctx.log(f"breakdown: run anatomy job {raw['status']}; log {d / 'log'}")
            return {}
        bare_dir = d / "bare"
        bare_dir.mkdir(exist_ok=True)
        for f in bare_dir.iterdir():
            f.unlink()
        bare_s = sum(run_ok(bare(argv, bare_dir)) for argv in commands_of(result))
        clip_s = sum(ts(b) - ts(a) for a, b in raw["clips"])
        job_s = ts(raw["ended_at"]) - ts(raw["started_at"])
        rows.append(
            {
                "bare": bare_s,
                "startup": raw["to_script"] + raw["imports"],
                "Pool.start": raw["Pool.start"],
                "job (worker: boot, prepare, clips)": job_s,
                "clips": clip_s,
                "clips − bare": clip_s - bare_s,
                "job − clips (boot, prepare, finish)": job_s - clip_s,
                "Pool.shutdown": raw["Pool.shutdown"],
                "exit": t.seconds - raw["to_script"] - raw["imports"] - raw["run_one"],
                "wall": t.seconds,
            }
        )
    rows = rows[1:]  # the first run warms caches
    return {f"run[{short}] {k}": [r[k] for r in rows] for k in rows[0]}
