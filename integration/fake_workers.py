"""Worker targets that misbehave on purpose, for the crash matrix.

Each is a module-level function taking the worker's end of the pipe, so the
worker trampoline (proxx.runtime.child) can import it by name (`integration.fake_workers:NAME`).

A misbehaving worker is the real one (`workers.main:worker_main`) given a watched
pipe (`_Pipe`): product code has no test hook. It behaves exactly like the real one
(real FFmpeg, real verification) for every job except those whose first output
name contains TRIGGER; on those it misbehaves once it has sent the job's plan. So
one run shows both the crashed job and the other jobs completing around it.

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

from proxx.content.routing import RouteDecision
from proxx.contract.clock import iso, utc_now
from proxx.contract.protocol import (
    ClipFinished,
    ClipStarted,
    FromWorker,
    JobPlanned,
    PlannedClips,
    decode_for_supervisor,
    encode,
)
from workers.main import worker_main

TRIGGER = "MISBEHAVE"
EXIT_CODE = 3
BOOT_EXIT_CODE = 7


def _log_spawn(what: str = "spawn") -> None:
    path = os.environ.get("FAKE_WORKER_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(f"{what} {os.getpid()}\n")


class _Pipe:
    """The worker's end of the pipe, as the real worker uses it, watched: `_before` sees
    each message the worker sends before it leaves, `_after` once it has left."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)

    def send_bytes(self, data: bytes) -> None:
        msg = decode_for_supervisor(data)
        self._before(msg)
        self._conn.send_bytes(data)
        self._after(msg)

    def _before(self, msg: FromWorker) -> None:
        pass

    def _after(self, msg: FromWorker) -> None:
        pass


def _triggered(path: str | None) -> bool:
    return path is not None and TRIGGER in os.path.basename(path)


class _MisbehavesOncePlanned(_Pipe):
    """The real worker, until it has told the supervisor the plan of a job whose first
    output name contains TRIGGER: then `misbehave` takes over, and never gives back."""

    def __init__(self, conn: Connection, misbehave: Callable[[Connection, JobPlanned], None]):
        super().__init__(conn)
        self._misbehave = misbehave
        self._first: dict[str, str] = {}  # job id -> first output (a plan may come in parts)

    def _before(self, msg: FromWorker) -> None:
        if isinstance(msg, PlannedClips | JobPlanned) and msg.clips:
            self._first.setdefault(msg.job_id, msg.clips[0].output_path)

    def _after(self, msg: FromWorker) -> None:
        if isinstance(msg, JobPlanned) and _triggered(self._first.pop(msg.job_id, None)):
            self._misbehave(self._conn, msg)
            raise AssertionError("a misbehaviour never hands its job back to the real worker")


def _serve(conn: Connection, misbehave: Callable[[Connection, JobPlanned], None]) -> None:
    """The real worker loop, except for jobs whose first output name contains TRIGGER."""
    _log_spawn()
    worker_main(cast(Connection, _MisbehavesOncePlanned(conn, misbehave)))


def _clip_started(conn: Connection, plan: JobPlanned) -> None:
    conn.send_bytes(
        encode(
            ClipStarted(job_id=plan.job_id, index=0, started_at=iso(utc_now()), ffmpeg_command=None)
        )
    )


def _sleep_forever() -> None:
    while True:
        time.sleep(3600)


# -- misbehaviours ------------------------------------------------------------------
def _exit_on_receipt(conn: Connection, plan: JobPlanned) -> None:
    os._exit(EXIT_CODE)  # before even saying the clip started


def _segfault(conn: Connection, plan: JobPlanned) -> None:
    _clip_started(conn, plan)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the cwd
    os.kill(os.getpid(), signal.SIGSEGV)
    _sleep_forever()


def _hang(conn: Connection, plan: JobPlanned) -> None:
    _clip_started(conn, plan)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # deaf to everything but SIGKILL
    _log_spawn("misbehave")
    _sleep_forever()


def _garbage_framed(conn: Connection, plan: JobPlanned) -> None:
    _clip_started(conn, plan)
    conn.send_bytes(b"\x00\xff this is not a protocol message \xfe")
    _sleep_forever()


def _garbage_raw(conn: Connection, plan: JobPlanned) -> None:
    """Bytes straight onto the pipe fd, bypassing the length-prefixed framing."""
    _clip_started(conn, plan)
    os.write(conn.fileno(), b"garbage bytes from a confused worker\n")
    _sleep_forever()


def _raise(conn: Connection, plan: JobPlanned) -> None:
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


class _WaitsAfterTheFirstClip(_Pipe):
    """The real worker, except that once it has reported a TRIGGER job's first clip it
    waits for the supervisor's next word (a CancelJob, which the real worker then reads
    before it starts the next clip)."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._waited: set[str] = set()

    def _after(self, msg: FromWorker) -> None:
        if (
            isinstance(msg, ClipFinished)
            and msg.job_id not in self._waited
            and _triggered(msg.clip.output_path)
        ):
            self._waited.add(msg.job_id)
            # The test waits for this line (worker stderr is the supervisor's log) to signal.
            print("fake worker: clip 1 reported, waiting for a cancel", file=sys.stderr, flush=True)
            self._conn.poll(None)


def stop_between_clips_on_job(conn: Connection) -> None:
    """Report clip 1 done, then honour a CancelJob before starting clip 2."""
    _log_spawn()
    worker_main(cast(Connection, _WaitsAfterTheFirstClip(conn)))


def die_at_boot(conn: Connection) -> None:
    """An engine that is missing: the worker dies before it ever says it is ready."""
    _log_spawn()
    os._exit(BOOT_EXIT_CODE)


# -- killed right after publishing (issue 18, finding 7) --------------------------------
# The aside name a stranger's file or link replaces the published proxy from (in the
# output folder's parent, so the output folder holds only the name in question).
ASIDE = "published-aside.mov"


class _DiesAfterPublishing(_Pipe):
    """The worker's pipe, except that the report of a TRIGGER clip that COMPLETED never
    leaves: the worker kills itself with SIGKILL the moment it would send it, its proxy
    published and its publication record written (an OOM kill in that window)."""

    def __init__(self, conn: Connection, before_death: Callable[[Path], None]) -> None:
        super().__init__(conn)
        self._before_death = before_death

    def _before(self, msg: FromWorker) -> None:
        if (
            isinstance(msg, ClipFinished)
            and msg.clip.status == "COMPLETED"
            and msg.clip.output_path is not None
            and _triggered(msg.clip.output_path)
        ):
            self._before_death(Path(msg.clip.output_path))
            _log_spawn("misbehave")
            os.kill(os.getpid(), signal.SIGKILL)


def _serve_dying(conn: Connection, before_death: Callable[[Path], None]) -> None:
    _log_spawn()
    worker_main(cast(Connection, _DiesAfterPublishing(conn, before_death)))


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


# -- the real worker, its Resolve engine driving the double (tests/resolve_double.py) ---
def _resolve_on_the_double() -> None:
    """Make this worker's Resolve engine one on the Resolve double, whose renders are real
    files: a RAW job then runs the whole way (routing, render, verification, publication,
    the result) as it would with Resolve. Its host lock is FAKE_RESOLVE_LOCK, the test's."""
    from proxx.contract.profiles import Engine as EngineName
    from tests.resolve_double import FakeResolve
    from workers import jobrun
    from workers.resolve.engine import ResolveEngine
    from workers.resolve.lock import ResolveLock

    lock = os.environ["FAKE_RESOLVE_LOCK"]
    jobrun.ENGINES[EngineName.RESOLVE] = lambda: ResolveEngine(
        FakeResolve().connect, lock=ResolveLock(lock), poll_s=0.05
    )


def resolve_double(conn: Connection) -> None:
    _log_spawn()
    _resolve_on_the_double()
    worker_main(conn)


def resolve_double_dies_after_publish(conn: Connection) -> None:
    """`die_after_publish` for a RAW job rendered by the double."""
    _resolve_on_the_double()
    _serve_dying(conn, lambda _final: None)
