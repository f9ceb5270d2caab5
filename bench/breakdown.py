"""The pieces a Proxx job pays for, each timed on its own.

Interpreter start, imports (pydantic, click, the CLI), one ffprobe of a
source (validation) and of an output (verification), `ffmpeg -version`,
a worker boot through forkserver (cold and warm), an fsync'd atomic result
write, and `prepare()` (parse, validate, plan) with and without probing.
These are what the overhead rows are diagnosed against.
"""

from __future__ import annotations

import json
import logging
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
from proxx.runtime.pool import Pool
t1 = time.perf_counter()

def boot(pool):
    a = time.perf_counter()
    pool.start()
    b = time.perf_counter()
    while not all(s.ready for s in pool.slots.values()):
        pool.wait(1.0)
    return b - a, time.perf_counter() - a

cold_start, cold_ready = boot(p1 := Pool(1))
warm_start, warm_ready = boot(p2 := Pool(1))
time.sleep(0.5)  # let the workers finish anything they do at boot
a = time.perf_counter()
p1.shutdown()
print(json.dumps({"import_pool": t1 - t0, "cold_start": cold_start, "cold_ready": cold_ready,
                  "warm_start": warm_start, "warm_ready": warm_ready,
                  "shutdown": time.perf_counter() - a}))
p2.shutdown()
"""


# One clip through the worker's own code, in a separate process (Interrupts
# installs signal handlers): render() whole, then its pieces on the same argv.
_RENDER_ANATOMY = r"""
import json, os, subprocess, sys, time
from multiprocessing import Pipe
from proxx.jobs import prepare
from workers.ffmpeg_args import expected_output
from workers.ffmpeg_engine import FFmpegEngine
from workers.interrupts import Interrupts
from workers.subproc import run_in_group
from workers.verify import verify_output

spec, n = sys.argv[1], int(sys.argv[2])
data = open(spec, "rb").read()
_, child = Pipe()
intr = Interrupts(child)
eng = FFmpegEngine()
eng.versions()
out = {"render": [], "run_in_group": [], "subprocess.run": [], "verify_output": []}
def clock(key, fn):
    t = time.perf_counter(); r = fn(); out[key].append(time.perf_counter() - t); return r
for i in range(n + 1):
    prep = prepare(data, base_dir=os.path.dirname(spec), jobspec_path=spec, job_id=f"anat{i}")
    plan = prep.planned.plan
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


# `proxx run`'s own path (run_spec_file) with timers wrapped around its steps, in a
# fresh process: where the time of one real run goes, measured in the same run.
_RUN_ANATOMY = r"""
import json, sys, time
t_script = time.time()
t0 = time.perf_counter()
import proxx.cli, proxx.runtime.runjob
t_imports = time.perf_counter() - t0
import proxx.content.media, proxx.content.routing
from proxx.runtime.pool import Pool
import proxx.jobs
T = {"probe": [], "Pool.start": 0.0, "prepare": 0.0, "_execute": 0.0, "Pool.shutdown": 0.0,
     "plan_job": 0.0}

def timed_probe(orig):
    def probe(*a, **k):
        t = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            T["probe"].append(time.perf_counter() - t)
    return probe

proxx.content.routing.probe = timed_probe(proxx.content.routing.probe)

def wrap(owner, name):
    orig = getattr(owner, name)
    key = f"Pool.{name}" if owner is Pool else name
    def w(*a, **k):
        t = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            T[key] += time.perf_counter() - t
    setattr(owner, name, w)

for owner, name in ((Pool, "start"), (Pool, "shutdown"), (proxx.runtime.runjob, "prepare"),
                    (proxx.runtime.runjob, "_execute"), (proxx.jobs, "plan_job")):
    wrap(owner, name)
t = time.perf_counter()
res = proxx.runtime.runjob.run_spec_file(sys.argv[1])
T["run_spec_file"] = time.perf_counter() - t
sys.stdout.write(res.to_json())
T.update(status=res.status, to_script=t_script - float(sys.argv[2]), imports=t_imports,
         clips=[[c["started_at"], c["ended_at"]] for c in json.loads(res.to_json())["clips"]])
print()
print(json.dumps(T))
"""


# Interpreter teardown: wall time after the script's last line, with and without a pool.
_EXIT_PROBE = r"""
import sys, time
t_script = time.time()
import proxx.cli, proxx.runtime.runjob
if sys.argv[1] == "pool":
    from proxx.runtime.pool import Pool
    p = Pool(1)
    p.start()
    while not p.slots[0].ready:
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
    logging.getLogger("proxx").setLevel(logging.CRITICAL)  # prepare() logs failures
    from proxx.jobs import prepare

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
            argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-n", "-i", str(src),
                    "-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-preset", "veryfast",
                    "-threads:v", "1", "-c:a", "aac", "-f", "mov", f"{d}/.{key}.partial"]
        argv = bare(argv, d, tag=f"-{key}")
        run_ok(argv)
        outs[key] = Path(argv[-1])

    samples: dict[str, list[float]] = {}
    samples["python -c pass"] = _repeat(_py("pass"), n)
    samples["import pydantic"] = _repeat(_py("import pydantic"), n)
    samples["import click"] = _repeat(_py("import click"), n)
    samples["import proxx.cli + proxx.runtime.runjob"] = _repeat(_py("import proxx.cli, proxx.runtime.runjob"), n)
    samples["python -m proxx --version"] = _repeat(
        lambda: run_ok([PYTHON, "-m", "proxx", "--version"]), n)
    samples["exit: teardown after imports"] = _repeat(_exit_cost("plain"), n)
    samples["exit: teardown after a Pool ran"] = _repeat(_exit_cost("pool"), n)
    samples["ffmpeg -version"] = _repeat(lambda: run_ok(["ffmpeg", "-version"]), n)
    samples["ffprobe -version (exec floor)"] = _repeat(lambda: run_ok(["ffprobe", "-version"]), n)
    samples["Popen `true`, posix_spawn/vfork path"] = _repeat(
        _in_process(lambda: subprocess.run(["true"], check=True)), n)
    samples["Popen `true`, preexec_fn + process_group"] = _repeat(_in_process(
        lambda: subprocess.run(["true"], check=True, process_group=0,
                               preexec_fn=lambda: None)), n)
    samples["ffprobe tiny source (validate)"] = _repeat(_in_process(lambda: probe(str(tiny))), n)
    samples["ffprobe tiny output (verify)"] = _repeat(
        _in_process(lambda: probe(str(outs["tiny_h264"]))), n)
    samples["ffprobe 1080p source"] = _repeat(_in_process(lambda: probe(str(hd))), n)
    samples["ffprobe 1080p output (verify)"] = _repeat(
        _in_process(lambda: probe(str(outs["hd_h264"]))), n)
    payload = b"x" * 3000
    samples["write_atomic 3 kB (2 fsyncs)"] = _repeat(
        _in_process(lambda: write_atomic(str(d / "r.json"), payload)), n)
    good = json.dumps(spec_dict([tiny], d, output_name_template="{index}_x")).encode()
    missing = json.dumps(spec_dict([d / "missing.mov"], d)).encode()
    samples["prepare(): missing source (no probe)"] = _repeat(_in_process(
        lambda: prepare(missing, base_dir=str(d), jobspec_path="x", job_id="b")), n)
    samples["prepare(): 1 tiny source (1 probe)"] = _repeat(_in_process(
        lambda: prepare(good, base_dir=str(d), jobspec_path="x", job_id="b")), n)

    pool: list[dict[str, float]] = []
    for _ in range(n):
        out = subprocess.run([PYTHON, "-c", _POOL_PROBE], capture_output=True, text=True,
                             check=True, stdin=subprocess.DEVNULL)
        pool.append(json.loads(out.stdout.strip().splitlines()[-1]))
    for key, label in (("import_pool", "import proxx.runtime.pool (in a fresh process)"),
                       ("cold_start", "Pool(1).start(), cold forkserver"),
                       ("cold_ready", "worker ready (WorkerReady), cold forkserver"),
                       ("warm_ready", "worker ready, warm forkserver"),
                       ("shutdown", "Pool(1).shutdown(), idle worker")):
        samples[label] = [p[key] for p in pool]

    samples.update(_anatomy(ctx, d, tiny, n))
    n_clips = 3 if ctx.quick else 10
    tinies = copies(tiny, ctx.work / "tiny-sources", n_clips, stem="tiny")
    for short, sources in (("tiny", tinies), ("1080p", [hd])):
        samples.update(_run_anatomy(ctx, d / f"run-anatomy-{short}", short, sources,
                                    1 if ctx.quick else 3))
    cpu = []
    for _ in range(n):
        c0 = cpu_now()
        probe(str(tiny))
        cpu.append(cpu_now() - c0)
    samples["ffprobe tiny source, CPU user+sys"] = cpu

    notes = {
        "import proxx.cli + proxx.runtime.runjob": "what `proxx run` imports before started_at",
        "python -m proxx --version": "floor of any `proxx` invocation",
        "ffprobe tiny source (validate)": "once per source, in the supervisor, serial",
        "ffprobe tiny output (verify)": "once per clip, in the worker, after FFmpeg",
        "ffmpeg -version": "once per worker (engine_versions)",
        "ffprobe -version (exec floor)": "loading ~215 shared libraries: most of a probe",
        "Popen `true`, preexec_fn + process_group": "how run_in_group starts FFmpeg "
        "(preexec_fn forces fork)",
        "worker ready (WorkerReady), cold forkserver": "starts the forkserver + preload",
        "write_atomic 3 kB (2 fsyncs)": "each watch job: staged result + dir fsyncs",
        "worker: render() of 1 tiny clip": "run FFmpeg, verify, publish, build ClipResult",
        "worker: run_in_group(argv)": "FFmpeg in its own process group, stderr tail",
        "worker: subprocess.run(argv), same argv": "the floor for the line above",
        "worker: verify_output()": "ffprobe of the output + checks",
    }
    for name, xs in samples.items():
        rep.detail("breakdown", name, fmt_ms(median(xs)),
                   f"{notes.get(name, '')}{'; ' if name in notes else ''}"
                   f"noise {spread_pct(xs):.0f}%, n={len(xs)}")
    rep.raw["breakdown"] = samples
    ctx.figures.update({k: median(v) for k, v in samples.items()})


def _anatomy(ctx: Ctx, d: Path, tiny: Path, n: int) -> dict[str, list[float]]:
    """render() and its parts on one tiny clip; {} (with a note) if the internals moved."""
    out = d / "anatomy-out"
    out.mkdir()
    spec = d / "anatomy.json"
    spec.write_text(json.dumps(spec_dict([tiny], out)))
    proc = subprocess.run([PYTHON, "-c", _RENDER_ANATOMY, str(spec), str(n)], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        ctx.log(f"breakdown: render anatomy skipped: {proc.stderr.strip().splitlines()[-1:]}")
        return {}
    raw: dict[str, list[float]] = json.loads(proc.stdout.strip().splitlines()[-1])
    names = {"render": "worker: render() of 1 tiny clip",
             "run_in_group": "worker: run_in_group(argv)",
             "subprocess.run": "worker: subprocess.run(argv), same argv",
             "verify_output": "worker: verify_output()"}
    return {names[k]: v for k, v in raw.items()}


def _run_anatomy(ctx: Ctx, d: Path, short: str, sources: list[Path],
                 n: int) -> dict[str, list[float]]:
    """Timers around run_spec_file's steps in a real run; {} if the internals moved."""
    out = d / "out"
    out.mkdir(parents=True)
    spec = d / "job.json"
    spec.write_text(json.dumps(spec_dict(sources, out)))
    rows: list[dict[str, float]] = []
    for _ in range(n + 1):
        for f in out.iterdir():
            f.unlink()
        t = timed([PYTHON, "-c", _RUN_ANATOMY, str(spec), repr(time.time())],
                  stdout=subprocess.PIPE, stderr_path=d / "log")
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
        accounted = raw["to_script"] + raw["imports"] + raw["run_spec_file"]
        rows.append({"bare": bare_s, "startup": raw["to_script"] + raw["imports"],
                     "Pool.start": raw["Pool.start"],
                     "plan_job (probing)": raw["plan_job"],
                     "probe calls, summed": sum(raw["probe"]),
                     "prepare rest": raw["prepare"] - raw["plan_job"],
                     "execute": raw["_execute"], "clips": clip_s, "clips − bare": clip_s - bare_s,
                     "execute − clips": raw["_execute"] - clip_s,
                     "Pool.shutdown": raw["Pool.shutdown"],
                     "exit": t.seconds - accounted, "wall": t.seconds})
    rows = rows[1:]  # the first run warms caches
    return {f"run[{short}] {k}": [r[k] for r in rows] for k in rows[0]}
