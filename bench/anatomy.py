"""Where one job's time goes inside Proxx's own code, timed in fresh processes.

`render_anatomy`: the worker's render() of one clip, then its parts on the
same argv (`bench/anatomy_render.py`). `run_anatomy`: `proxx run`'s own path
(run_one) with timers around the pool's start and shutdown. Both return {}
(with a note) when the internals they reach into have moved: the breakdown
goes on without them.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import PYTHON, REPO, Ctx, bare, commands_of, run_ok, spec_dict, timed, ts

# `proxx run`'s own path (the worker prespawned as `main` does, then run_one) with
# timers around the pool's start and shutdown, in a fresh process: where the time
# of one real run goes.
_RUN_ANATOMY = r"""
import json, sys, time
t_script = time.time()
t0 = time.perf_counter()
import proxx.cli
from proxx.contract import logs
from proxx.runtime.spawn import WORKER_TARGET, prespawn
_, level, _, fmt = logs.chosen()
prespawn(WORKER_TARGET, level, fmt)  # as proxx.cli.main does: the worker boots meanwhile
import proxx.runtime.runjob
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


def render_anatomy(ctx: Ctx, d: Path, tiny: Path, n: int) -> dict[str, list[float]]:
    """render() and its parts on one tiny clip; {} (with a note) if the internals moved."""
    out = d / "anatomy-out"
    out.mkdir()
    spec = d / "anatomy.json"
    spec.write_text(json.dumps(spec_dict([tiny], out)))
    proc = subprocess.run(
        [PYTHON, "-m", "bench.anatomy_render", str(spec), str(n)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        cwd=REPO,
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


def run_anatomy(
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
        rows.append(_run_row(d, raw, result, t.seconds))
    rows = rows[1:]  # the first run warms caches
    return {f"run[{short}] {k}": [r[k] for r in rows] for k in rows[0]}


def _run_row(d: Path, raw: dict[str, Any], result: dict[str, Any], wall: float) -> dict[str, float]:
    """One run's phases, its clips set against the same argvs run bare."""
    bare_dir = d / "bare"
    bare_dir.mkdir(exist_ok=True)
    for f in bare_dir.iterdir():
        f.unlink()
    bare_s = sum(run_ok(bare(argv, bare_dir)) for argv in commands_of(result))
    clip_s = sum(ts(b) - ts(a) for a, b in raw["clips"])
    job_s = ts(raw["ended_at"]) - ts(raw["started_at"])
    return {
        "bare": bare_s,
        "startup": raw["to_script"] + raw["imports"],
        "Pool.start": raw["Pool.start"],
        "job (worker: boot, prepare, clips)": job_s,
        "clips": clip_s,
        "clips − bare": clip_s - bare_s,
        "job − clips (boot, prepare, finish)": job_s - clip_s,
        "Pool.shutdown": raw["Pool.shutdown"],
        "exit": wall - raw["to_script"] - raw["imports"] - raw["run_one"],
        "wall": wall,
    }
