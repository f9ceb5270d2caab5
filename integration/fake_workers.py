"""Worker targets that misbehave on purpose, for the crash matrix.

Each is a module-level function taking the worker's end of the pipe, so the
worker trampoline (proxx.runtime.child) can import it by name (`integration.fake_workers:NAME`).

A misbehaving worker behaves exactly like the real one (real FFmpeg, real
verification) for every job except those whose first output name contains
TRIGGER; on those it misbehaves. So one run shows both the crashed job and
the other jobs completing around it.

If the environment variable FAKE_WORKER_LOG names a file, every worker
appends "spawn <pid>" to it as it boots (the test counts respawns from it), and
"misbehave <pid>" when it starts to misbehave (the test acts only after that).
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import cast

from proxx.content.jobplan import JobPlan
from proxx.content.routing import RouteDecision
from proxx.contract.clock import iso, utc_now
from proxx.contract.protocol import (
    CancelJob,
    ClipFinished,
    ClipStarted,
    JobFinished,
    decode_for_supervisor,
    decode_for_worker,
    encode,
)
from proxx.contract.results import ClipResult
from workers.main import serve

TRIGGER = "MISBEHAVE"
EXIT_CODE = 3
BOOT_EXIT_CODE = 7


def _log_spawn(what: str = "spawn") -> None:
    path = os.environ.get("FAKE_WORKER_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(f"{what} {os.getpid()}\n")


def _serve(conn: Connection, misbehave: Callable[[Connection, JobPlan], None]) -> None:
    """The real worker loop, except for jobs whose first output name contains TRIGGER."""
    _log_spawn()

    def intercept(conn: Connection, plan: JobPlan) -> bool:
        if TRIGGER not in os.path.basename(plan.clips[0].output_path):
            return False
        misbehave(conn, plan)
        return True

    serve(conn, intercept)


def _clip_started(conn: Connection, plan: JobPlan) -> None:
    conn.send_bytes(
        encode(
            ClipStarted(job_id=plan.job_id, index=0, started_at=iso(utc_now()), ffmpeg_command=None)
        )
    )


def _sleep_forever() -> None:
    while True:
        time.sleep(3600)


# -- misbehaviours ------------------------------------------------------------------
def _exit_on_receipt(conn: Connection, plan: JobPlan) -> None:
    os._exit(EXIT_CODE)  # before even saying the clip started


def _segfault(conn: Connection, plan: JobPlan) -> None:
    _clip_started(conn, plan)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the cwd
    os.kill(os.getpid(), signal.SIGSEGV)
    _sleep_forever()


def _hang(conn: Connection, plan: JobPlan) -> None:
    _clip_started(conn, plan)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # deaf to everything but SIGKILL
    _log_spawn("misbehave")
    _sleep_forever()


def _garbage_framed(conn: Connection, plan: JobPlan) -> None:
    _clip_started(conn, plan)
    conn.send_bytes(b"\x00\xff this is not a protocol message \xfe")
    _sleep_forever()


def _garbage_raw(conn: Connection, plan: JobPlan) -> None:
    """Bytes straight onto the pipe fd, bypassing the length-prefixed framing."""
    _clip_started(conn, plan)
    os.write(conn.fileno(), b"garbage bytes from a confused worker\n")
    _sleep_forever()


def _stop_between_clips(conn: Connection, plan: JobPlan) -> None:
    """Report clip 1 done, then honour a CancelJob before starting clip 2."""
    _clip_started(conn, plan)
    first = plan.clips[0]
    conn.send_bytes(
        encode(
            ClipFinished(
                job_id=plan.job_id,
                clip=ClipResult(
                    source_path=first.source_path,
                    output_path=first.output_path,
                    status="COMPLETED",
                    engine=plan.engine.value,
                ),
            )
        )
    )
    # The test waits for this line (worker stderr is the supervisor's log) to signal.
    print("fake worker: clip 1 reported, waiting for a cancel", file=sys.stderr, flush=True)
    while not isinstance(decode_for_worker(conn.recv_bytes()), CancelJob):
        pass
    conn.send_bytes(encode(JobFinished(job_id=plan.job_id, engine_versions={})))


def _raise(conn: Connection, plan: JobPlan) -> None:
    _clip_started(conn, plan)
    raise RuntimeError("the engine exploded in a way nobody tried")


# -- targets (module level: proxx.runtime.child imports them by name) ------------------------
def exit_on_job(conn: Connection) -> None:
    _serve(conn, _exit_on_receipt)


def segfault_on_job(conn: Connection) -> None:
    _serve(conn, _segfault)


def hang_on_job(conn: Connection) -> None:
    _serve(conn, _hang)


def garbage_framed_on_job(conn: Connection) -> None:
    _serve(conn, _garbage_framed)


def garbage_raw_on_job(conn: Connection) -> None:
    _serve(conn, _garbage_raw)


def raise_on_job(conn: Connection) -> None:
    _serve(conn, _raise)


def stop_between_clips_on_job(conn: Connection) -> None:
    _serve(conn, _stop_between_clips)


def die_at_boot(conn: Connection) -> None:
    """An engine that is missing: the worker dies before it ever says it is ready."""
    _log_spawn()
    os._exit(BOOT_EXIT_CODE)


# -- killed right after publishing (issue 18, finding 7) --------------------------------
# The aside name a stranger's file or link replaces the published proxy from (in the
# output folder's parent, so the output folder holds only the name in question).
ASIDE = "published-aside.mov"


class _DiesAfterPublishing:
    """The worker's pipe, except that the report of a TRIGGER clip that COMPLETED never
    leaves: the worker kills itself with SIGKILL the moment it would send it, its proxy
    published and its publication record written (an OOM kill in that window)."""

    def __init__(self, conn: Connection, before_death: Callable[[Path], None]) -> None:
        self._conn = conn
        self._before_death = before_death

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)

    def send_bytes(self, data: bytes) -> None:
        msg = decode_for_supervisor(data)
        if (
            isinstance(msg, ClipFinished)
            and msg.clip.status == "COMPLETED"
            and msg.clip.output_path is not None
            and TRIGGER in os.path.basename(msg.clip.output_path)
        ):
            self._before_death(Path(msg.clip.output_path))
            _log_spawn("misbehave")
            os.kill(os.getpid(), signal.SIGKILL)
        self._conn.send_bytes(data)


def _serve_dying(conn: Connection, before_death: Callable[[Path], None]) -> None:
    _log_spawn()
    serve(cast(Connection, _DiesAfterPublishing(conn, before_death)))


def _aside(final: Path) -> Path:
    aside = final.parent.parent / ASIDE
    os.rename(final, aside)
    return aside


def _stranger_file(final: Path) -> None:
    _aside(final)
    final.write_bytes(b"a stranger's file, not this job's proxy")


def _stranger_link(final: Path) -> None:
    final.symlink_to(_aside(final))  # to the very proxy: only a link is not this job's


def die_after_publish(conn: Connection) -> None:
    _serve_dying(conn, lambda _final: None)


def die_after_publish_stranger_file(conn: Connection) -> None:
    _serve_dying(conn, _stranger_file)


def die_after_publish_stranger_link(conn: Connection) -> None:
    _serve_dying(conn, _stranger_link)


def probe_crashes_on_trigger(conn: Connection) -> None:
    """`proxx probe`'s worker, killed by SIGSEGV (as by a libav crash) on a TRIGGER file."""
    _probe_misbehaving(conn, lambda: os.kill(os.getpid(), signal.SIGSEGV))


def probe_raises_on_trigger(conn: Connection) -> None:
    """`proxx probe`'s worker, ended by an exception nobody expected on a TRIGGER file."""

    def fail() -> None:
        raise RuntimeError("libav said something new")

    _probe_misbehaving(conn, fail)


def _probe_misbehaving(conn: Connection, misbehave: Callable[[], None]) -> None:
    from proxx.content.routing import route_source
    from workers.probe import probe_main

    def route(path: str) -> RouteDecision:
        if TRIGGER in path:
            misbehave()
        return route_source(path)

    probe_main(conn, route)


def probe_cannot_start(conn: Connection) -> None:
    """`proxx probe`'s worker on a box where it cannot load what it needs."""
    raise ImportError("no PyAV on this box")
