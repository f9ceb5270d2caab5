"""The worker process: receive one job at a time, run its clips in order, report each.

Started by the supervisor's pool; talks only through its own pipe. Fail-fast:
the first failed clip ends the job (the supervisor lists the rest as SKIPPED).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from multiprocessing.connection import Connection

from proxx.clock import iso, utc_now
from proxx.profiles import Engine as EngineName
from proxx.protocol import (
    ClipFinished,
    ClipStarted,
    JobFinished,
    JobNote,
    JobPlan,
    RunJob,
    WorkerReady,
    decode_for_worker,
    encode,
)
from workers.engine import Engine
from workers.interrupts import Interrupts


def load_engine(name: EngineName) -> Engine:
    # Engines import lazily: a worker that never sees RAW never loads Resolve code.
    if name is EngineName.FFMPEG:
        from workers.ffmpeg_engine import FFmpegEngine

        return FFmpegEngine()
    from workers.resolve_engine import ResolveEngine

    return ResolveEngine()


def worker_main(conn: Connection) -> None:
    """Entry point of a worker process (multiprocessing target)."""
    serve(conn)


def serve(conn: Connection,
          intercept: Callable[[Connection, JobPlan], bool] | None = None) -> None:
    """The worker loop. `intercept` lets a test double take over chosen jobs
    (it returns True for a job it handled) while every other job runs for real."""
    interrupts = Interrupts(conn)
    try:
        conn.send_bytes(encode(WorkerReady(pid=os.getpid())))
    except OSError:
        return  # the supervisor already let go of us (e.g. `run` of an invalid spec)
    # Read FFmpeg's version now, while the supervisor is still validating and
    # probing: not on the clock of the first job.
    engines: dict[EngineName, Engine] = {EngineName.FFMPEG: load_engine(EngineName.FFMPEG)}
    engines[EngineName.FFMPEG].versions()
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):
            return  # supervisor gone: nothing to report to
        msg = decode_for_worker(data)
        if isinstance(msg, RunJob):
            if intercept is not None and intercept(conn, msg.plan):
                continue
            interrupts.reason = None
            if msg.plan.engine not in engines:
                engines[msg.plan.engine] = load_engine(msg.plan.engine)
            run_job(conn, engines[msg.plan.engine], msg.plan, interrupts)
            if interrupts.parent_gone:
                return
        # A CancelJob for a job that already finished needs no action.


def run_job(conn: Connection, engine: Engine, plan: JobPlan, interrupts: Interrupts) -> None:
    for clip in plan.clips:
        if interrupts.check() is not None:
            break
        _send(conn, ClipStarted(job_id=plan.job_id, index=clip.index, started_at=iso(utc_now()),
                                ffmpeg_command=engine.command_for(plan, clip)), interrupts)
        result = engine.render(plan, clip, interrupts)
        _send(conn, ClipFinished(job_id=plan.job_id, clip=result), interrupts)
        if result.status != "COMPLETED":
            break
    engine.finish_job(plan)
    _send(conn, JobFinished(job_id=plan.job_id, engine_versions=engine.versions()), interrupts)


def _send(conn: Connection, msg: ClipStarted | ClipFinished | JobNote | JobFinished,
          interrupts: Interrupts) -> None:
    if interrupts.parent_gone:
        return
    try:
        conn.send_bytes(encode(msg))
    except (BrokenPipeError, ConnectionResetError):
        interrupts.parent_gone = True
