"""The body of a Proxx Slurm batch job: one claimed JobSpec, run by the worker code.

    python -P -m workers.slurm_step --spool RUNNING/NAME.json.spool --job-id ID
        --kind run --jobspec RUNNING/NAME.json --base-dir ROOT [--log-level L]

It runs on whatever node Slurm picked. Everything the local pool's worker does
happens here the same way (`workers.jobrun.run_request`); only the channel
differs: each message is appended to the spool file as one JSON line and
fsynced, and the supervisor tails that file. There is no pipe, so a stop is a
signal: `scancel`, a time limit or a node failure sends SIGTERM, the job stops
its FFmpeg/Resolve work and reports the clip as interrupted, and Slurm's end
state tells the supervisor why.

A job that routes to DaVinci Resolve must hold the cluster's `resolve` GRES (one
Resolve job per node). Only the worker learns the route, so a batch job without
it stops right after routing (no JobPlanned in the spool, nothing rendered) and
exits EXIT_NEEDS_RESOLVE; the supervisor then submits the job again with
`--gres=resolve:1 … --holds-resolve`.

A job runs at most once. Slurm is told `--no-requeue`, but an administrator
can still requeue: a restarted step (SLURM_RESTART_COUNT > 0) refuses, and so
does a step whose spool already exists — the spool is created with O_EXCL on
the shared filesystem, so two runs of one claim cannot both start.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import get_args

from proxx.contract import logs
from proxx.contract.profiles import Engine
from proxx.contract.protocol import FromWorker, JobKind, JobPlanned, StartJob, WorkerFailing, encode
from proxx.contract.step import EXIT_INTERRUPTED, EXIT_NEEDS_RESOLVE

from .context import JobContext
from .fence import Fence, wake_self, watch
from .jobrun import Engines, run_request

EXIT_OK = 0  # the job ran to its end and reported it (whatever the job's status)
EXIT_CRASHED = 1  # an exception ended the worker; its last words are in the spool
EXIT_NO_SPOOL = 2  # the spool's folder is not visible here: storage not shared
EXIT_REFUSED = 3  # a second run of the same claim (requeue): nothing was done


class NeedsResolve(Exception):
    """Raised out of the job when it routes to Resolve in a batch job without the GRES."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="workers.slurm_step")
    p.add_argument("--spool", required=True)
    p.add_argument(
        "--record",
        default=None,
        help="the claim's Slurm record: the step runs only if it names this job",
    )
    p.add_argument("--job-id", required=True)
    p.add_argument("--kind", choices=get_args(JobKind), default="run")
    p.add_argument("--jobspec", required=True)
    p.add_argument("--base-dir", required=True)
    # The watch's allowed roots (workers/confine.py), each repeated; none: not confined.
    p.add_argument("--source-root", dest="source_roots", action="append", default=None)
    p.add_argument("--output-root", dest="output_roots", action="append", default=None)
    p.add_argument("--worker-id", type=int, default=0)
    p.add_argument(
        "--holds-resolve",
        action="store_true",
        help="this batch job holds the `resolve` GRES (one Resolve job per node)",
    )
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--log-format", default="text")
    return p.parse_args(argv)


def refusal(restart_count: str | None) -> str | None:
    """Why this run must not start, or None."""
    try:
        restarts = int(restart_count or "0")
    except ValueError:
        restarts = 0
    if restarts > 0:
        return (
            f"Slurm restarted this job (SLURM_RESTART_COUNT={restarts}); "
            "Proxx never runs a job twice"
        )
    return None


def not_ours(record_path: str | None, job_id: str) -> str | None:
    """Why the claim no longer belongs to this job, or None. The supervisor writes the
    record before sbatch and deletes it once the job's result is filed, so a step that
    starts late (a queue that outlived its runner's decision) never runs a claim that
    was filed, or claimed again under the same name by a later job."""
    if record_path is None:
        return None
    try:
        with open(record_path, "rb") as fh:
            record = json.loads(fh.read(65536))
    except (OSError, ValueError):
        return f"the claim's record {record_path} is gone or unreadable"
    if not isinstance(record, dict) or record.get("job_id") != job_id:
        return f"the claim's record {record_path} names another job"
    return None


def open_spool(path: str) -> int:
    """Create the spool exclusively: it existing means this claim already ran."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o644)


def append_line(fd: int, data: bytes) -> None:
    """One whole line per write on an O_APPEND fd, then fsync, so a supervisor on another
    host sees it at its next open (NFS close-to-open) and never half a message."""
    view = memoryview(data + b"\n")
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.fsync(fd)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.setup(args.log_level, args.log_format)
    try:
        fd = claim(args)
    except Refused as refused:
        print(f"proxx slurm step: {refused}", file=sys.stderr)
        return refused.code
    try:
        return run_claim(args, fd)
    finally:
        # fsync'd line by line already; closing is the NFS close-to-open point
        os.close(fd)


class Refused(Exception):
    """This step must not run the claim: the words for stderr and the exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def claim(args: argparse.Namespace) -> int:
    """The spool's fd, opened once every check says this step may run the claim."""
    why = refusal(os.environ.get("SLURM_RESTART_COUNT"))
    if why is not None:
        raise Refused(EXIT_REFUSED, f"refusing: {why}")
    spool_dir = os.path.dirname(args.spool)
    if not os.path.isdir(spool_dir):
        raise Refused(
            EXIT_NO_SPOOL,
            f"{spool_dir} does not exist on this node "
            "(is the watch folder on storage every node shares?)",
        )
    why = not_ours(args.record, args.job_id)
    if why is not None:
        raise Refused(EXIT_REFUSED, f"refusing: {why}")
    try:
        return open_spool(args.spool)
    except FileExistsError:
        raise Refused(
            EXIT_REFUSED, f"refusing: {args.spool} exists, this claim already ran"
        ) from None


def run_claim(args: argparse.Namespace, fd: int) -> int:
    """Run the job with every message appended to the spool; the step's exit code."""
    emit = spool_writer(fd, args.holds_resolve)
    context = JobContext(None)  # no pipe: SIGTERM (or the fence) is the only stop
    fence = Fence(fd, args.spool, lambda: not_ours(args.record, args.job_id))
    context.fence = fence.check

    def lost(why: str) -> None:
        # Slurm gave the job up while this node lives on (slurmd crash, partition):
        # no signal will come, so the step stops itself, as SIGTERM would.
        print(f"proxx slurm step: {why}; stopping", file=sys.stderr, flush=True)
        context.fenced = why
        wake_self()

    stop_watch = watch(fence, lost)
    try:
        return _run_fenced(args, emit, context)
    finally:
        stop_watch.set()


def _run_fenced(
    args: argparse.Namespace, emit: Callable[[FromWorker], None], context: JobContext
) -> int:
    req = StartJob(
        job_id=args.job_id,
        kind=args.kind,
        jobspec_path=os.path.abspath(args.jobspec),
        base_dir=os.path.abspath(args.base_dir),
        worker_id=args.worker_id,
        source_roots=args.source_roots,
        output_roots=args.output_roots,
    )
    try:
        run_request(req, emit, context, Engines())
    except NeedsResolve:
        print(
            "proxx slurm step: the job routes to DaVinci Resolve; it needs a batch job "
            "holding the `resolve` GRES (the supervisor submits one)",
            file=sys.stderr,
        )
        return EXIT_NEEDS_RESOLVE
    except BaseException as exc:
        traceback.print_exc()
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        emit(WorkerFailing(error=text.splitlines()[-1] if text else type(exc).__name__))
        return EXIT_CRASHED
    return EXIT_INTERRUPTED if context.reason else EXIT_OK


def spool_writer(fd: int, holds_resolve: bool) -> Callable[[FromWorker], None]:
    """The job's one way out: a line per message on the spool."""
    lock = threading.Lock()

    def emit(msg: FromWorker) -> None:
        if isinstance(msg, JobPlanned) and msg.engine == Engine.RESOLVE.value and not holds_resolve:
            # Routed to Resolve without the GRES that keeps Resolve jobs apart: stop
            # before anything is rendered or planned in the spool; the supervisor runs
            # the job again as a batch job that holds one unit.
            raise NeedsResolve
        with lock:  # probes may report from several threads; one line per write
            append_line(fd, encode(msg))

    return emit


if __name__ == "__main__":
    sys.exit(main())
