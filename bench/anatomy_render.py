"""One clip through the worker's own code: render() whole, then its parts on the same argv.

Run as `python -m bench.anatomy_render SPEC N` in a process of its own (JobContext
installs signal handlers); prints {part: [seconds, …]} as one JSON line. A real,
type-checked module: when the internals it reaches into move, mypy says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from proxx.content.jobplan import JobPlan
from proxx.contract.protocol import JobRejected, StartJob
from workers.context import JobContext
from workers.ffmpeg.args import build_argv, expected_output
from workers.ffmpeg.engine import FFmpegEngine
from workers.prepare import prepare
from workers.subproc import run_in_group
from workers.verify import verify_output

T = TypeVar("T")
PARTS = ("render", "run_in_group", "subprocess.run", "verify_output")


def main(spec: str, n: int) -> dict[str, list[float]]:
    intr = JobContext()
    eng = FFmpegEngine()
    if (problem := eng.available(intr)) is not None:
        raise SystemExit(problem)
    out: dict[str, list[float]] = {k: [] for k in PARTS}

    def clock(key: str, fn: Callable[[], T]) -> T:
        t = time.perf_counter()
        r = fn()
        out[key].append(time.perf_counter() - t)
        return r

    for i in range(n + 1):
        plan = _plan(spec, i, intr)
        _one_round(plan, eng, intr, clock, reverse=i % 2 == 0)
        if i == 0:  # the first round warms caches
            for v in out.values():
                v.clear()
    return out


def _plan(spec: str, i: int, intr: JobContext) -> JobPlan:
    req = StartJob(
        job_id=f"anat{i}",
        kind="run",
        jobspec_path=spec,
        base_dir=os.path.dirname(spec),
        worker_id=0,
    )
    prepared = prepare(req, intr)
    if isinstance(prepared, JobRejected):
        raise SystemExit(f"the anatomy job was rejected: {prepared}")
    return prepared.plan


def _one_round(
    plan: JobPlan,
    eng: FFmpegEngine,
    intr: JobContext,
    clock: Callable[[str, Callable[[], object]], object],
    *,
    reverse: bool,
) -> None:
    clip = plan.clips[0]
    res = clock("render", lambda: eng.render(plan, clip, intr))
    assert getattr(res, "status", None) == "COMPLETED", res
    os.unlink(clip.output_path)
    argv = build_argv(plan, clip, eng.ffmpeg or "ffmpeg")
    temp = argv[-1]  # the partial name
    exp = expected_output(plan.codec, plan.proxy_profile, plan.fps_mode, clip.source)
    pair: list[tuple[str, Callable[[], object]]] = [
        ("run_in_group", lambda: run_in_group(argv, intr)),
        (
            "subprocess.run",
            lambda: subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            ),
        ),
    ]
    for key, fn in pair[::-1] if reverse else pair:
        clock(key, fn)
        if key == "run_in_group":
            clock("verify_output", lambda: verify_output(temp, exp, plan.container))
        os.unlink(temp)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
