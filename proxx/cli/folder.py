"""`proxx watch` and `proxx status`: run a watch folder, and look at one."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from proxx.cli.progress import stall_option
from proxx.cli.roots import roots_of, roots_options

if TYPE_CHECKING:
    from proxx.contract.deadlines import Deadlines
    from proxx.runtime.executor import Executor

F = TypeVar("F", bound=Callable[..., object])


def _bounded(
    flag: str, kind: click.IntRange | click.FloatRange, default: float, help: str
) -> Callable[[F], F]:
    """A numeric option whose range and default `-h` shows."""
    return click.option(flag, type=kind, default=default, show_default=True, help=help)


@click.command()
@click.argument("folder", type=click.Path(path_type=str))
@_bounded(
    "--max-workers",
    click.IntRange(1, 64),
    1,
    "Worker processes, each running one job at a time (clips in order).",
)
@_bounded(
    "--poll-seconds",
    click.FloatRange(0.05, 3600),
    2.0,
    "Seconds between scans of pending/ (a finished job also triggers a scan).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Process what is in pending/ now, wait for it to finish, then exit.",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write Prometheus metrics here (atomically, each loop) for node_exporter's "
    "textfile collector, e.g. /var/lib/node_exporter/textfile/proxx.prom.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "slurm"]),
    default="local",
    show_default=True,
    help="Where jobs run: local worker processes, or one Slurm batch job each "
    "(see docs/SLURM.md; --max-workers is then the number of Slurm jobs in flight).",
)
@click.option(
    "--slurm-arg",
    "slurm_args",
    multiple=True,
    metavar="ARG",
    help="Extra sbatch argument for every job, e.g. --slurm-arg=--partition=render "
    "(repeatable; --executor slurm only).",
)
@stall_option
@click.option(
    "--on-job-end",
    metavar="PROGRAM",
    help="Run PROGRAM (no shell) once each job's pair is filed: the result's path as its "
    "last argument, PROXX_JOB_ID, PROXX_JOB_STATUS and PROXX_JOBSPEC_PATH in its "
    "environment, 60 s at most; at least once per job (again after a crash).",
)
@click.option(
    "--mhl",
    is_flag=True,
    help="Once each job with a COMPLETED clip is filed, append an ASC MHL generation for "
    "its COMPLETED proxies to its output folder (`proxx report RESULT --mhl`, in a child "
    "process); at least once per job. Needs the deliver extra.",
)
@roots_options
def watch(
    folder: str,
    max_workers: int,
    poll_seconds: float,
    once: bool,
    metrics_file: str | None,
    executor: str,
    slurm_args: tuple[str, ...],
    stall_seconds: float,
    on_job_end: str | None,
    mhl: bool,
    source_roots: tuple[str, ...],
    output_roots: tuple[str, ...],
) -> None:
    """Run jobs dropped into FOLDER/pending/ until SIGTERM/SIGINT (or --once).

    \b
    FOLDER/pending/    drop JobSpecs here (*.json; write elsewhere, then rename in)
    FOLDER/running/    claimed jobs, locked by their runner
    FOLDER/completed/  JOB.json + JOB.result.json when every clip completed
    FOLDER/failed/     JOB.json + JOB.result.json for everything else

    Relative source paths resolve against FOLDER. Sources and output folders must
    be inside FOLDER or a --source-root / --output-root (links and '..' resolved);
    a JobSpec reaching elsewhere fails validation. On SIGTERM/SIGINT running jobs
    are interrupted, their results written, and they move to failed/; exit 0.
    Exit 1 if FOLDER is missing or not writable.
    """
    from proxx.cli.streams import tell
    from proxx.contract.deadlines import Deadlines
    from proxx.slurm.client import SlurmUnavailable
    from proxx.watch.folder import FatalWatchError
    from proxx.watch.supervisor import Supervisor

    _check_slurm_args(executor, slurm_args)
    if mhl and importlib.util.find_spec("ascmhl") is None:
        click.echo(
            "proxx watch: --mhl needs the ascmhl package: pip install 'proxx[deliver]'", err=True
        )
        sys.exit(1)
    deadlines = Deadlines(stall=stall_seconds)
    try:
        Supervisor(
            folder,
            max_workers=max_workers,
            poll_seconds=poll_seconds,
            once=once,
            metrics_file=metrics_file,
            deadlines=deadlines,
            on_job_end=on_job_end,
            mhl=mhl,
            executor=_executor(executor, folder, max_workers, slurm_args, deadlines),
            roots=roots_of(source_roots, output_roots, folder),
        ).run()
    except (FatalWatchError, SlurmUnavailable) as exc:
        tell(f"proxx watch: {exc}", "ERROR")
        sys.exit(1)


def _check_slurm_args(executor: str, slurm_args: tuple[str, ...]) -> None:
    """--slurm-arg only with the Slurm executor, and never one that Proxx sets itself."""
    from proxx.slurm.client import reserved_args

    if slurm_args and executor != "slurm":
        raise click.UsageError("--slurm-arg needs --executor slurm")
    if refused := reserved_args(slurm_args):
        raise click.UsageError("--slurm-arg cannot set " + "; ".join(refused))


def _executor(
    name: str, folder: str, size: int, slurm_args: tuple[str, ...], deadlines: Deadlines
) -> Executor | None:
    if name != "slurm":
        return None  # the supervisor's default: the local pool
    from proxx.slurm.executor import SlurmExecutor

    return SlurmExecutor(
        size=size, root=os.path.abspath(folder), extra_args=slurm_args, deadlines=deadlines
    )


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(folder: str, as_json: bool) -> None:
    """Show a watch folder: jobs per state, running jobs (age, worker, runner alive?)
    and the most recent failures with their reasons. Reads the folder only."""
    from proxx.watch.status import folder_status, render_text

    report = folder_status(folder)
    click.echo(json.dumps(report, indent=2) if as_json else render_text(report))


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--off", is_flag=True, help="Lift the drain: runners claim again.")
def drain(folder: str, off: bool) -> None:
    """Ask every runner on FOLDER to finish what it runs, claim nothing more, and exit 0.

    The request is the file FOLDER/.proxx-drain, seen by every runner on the
    folder (on any host sharing it) within its poll interval; it stays in force,
    for runners started later too, until `proxx drain FOLDER --off`.
    """
    from proxx.contract.logs import user_line
    from proxx.watch import drain as draining

    root = os.path.abspath(folder)
    if off:
        done = draining.lift(root)
        click.echo(user_line("drain lifted" if done else "no drain was in force"), err=True)
        return
    try:
        done = draining.request(root)
    except OSError as exc:
        why = f"proxx drain: cannot write {draining.marker(root)}: {exc.strerror}"
        click.echo(user_line(why, level="ERROR"), err=True)
        sys.exit(1)
    said = "drain in force: runners finish what they run, then exit"
    click.echo(user_line(said if done else "a drain was already in force"), err=True)


# `proxx cancel` exit codes (documented in its -h and docs/OPERATIONS.md); 2 is click's
# for a usage error.
CANCEL_NO_SUCH_JOB = 1
CANCEL_ENDED_FIRST = 3
CANCEL_WAIT_RAN_OUT = 4


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.argument("name")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until the running job's pair is filed (--no-wait: ask its runner and return).",
)
@_bounded(
    "--wait-seconds",
    click.FloatRange(0, 86400),
    30.0,
    "How long to wait for a running job's pair to be filed.",
)
def cancel(folder: str, name: str, wait: bool, wait_seconds: float) -> None:
    """Stop one job: NAME is its JobSpec's name in pending/ or running/, or its job id.

    A pending job is filed in failed/ at once and never starts. A running job's
    runner (on this host or another sharing FOLDER) is asked to stop it: within
    its --poll-seconds its FFmpeg/Resolve work is stopped, its partial render
    removed, and the JobSpec and a result (the clip that was running: `cancelled`)
    are filed in failed/. Unless --no-wait, this waits for that pair and prints
    where it was filed and the job's status.

    \b
    Exit 0  cancelled (filed in failed/), or asked (--no-wait)
    Exit 1  nothing pending or running goes by NAME
    Exit 2  a usage error
    Exit 3  the job ended on its own (completed, say) before the cancel took
    Exit 4  --wait-seconds ran out before the runner filed the job (the request stays)
    """
    from proxx.contract.logs import user_line
    from proxx.watch.cancel import NoSuchJob, wait_filed
    from proxx.watch.cancel import cancel as cancel_job

    def say(text: str, level: str = "INFO") -> None:
        click.echo(user_line(text, level=level, job_id=asked.job_id), err=True)

    try:
        asked = cancel_job(folder, name)
    except NoSuchJob as exc:
        click.echo(user_line(f"proxx cancel: {exc}", level="ERROR"), err=True)
        sys.exit(CANCEL_NO_SUCH_JOB)
    job = f"job {asked.job_id} ({asked.name})"
    if asked.state == "pending":
        return say(f"cancelled {asked.name} before it started: filed in {asked.where}")
    if not wait:
        return say(f"asked {asked.where} to cancel {job}")
    filed = wait_filed(folder, asked, wait_seconds)
    if filed is None:
        say(
            f"proxx cancel: {asked.where} was asked to cancel {job} and has not filed it "
            f"within {wait_seconds:g} s; the request stays in force ({asked.request})",
            "ERROR",
        )
        sys.exit(CANCEL_WAIT_RAN_OUT)
    if not filed.cancelled:
        say(
            f"proxx cancel: {job} ended before the cancel took: {filed.status}, "
            f"filed as {filed.result_path}",
            "WARNING",
        )
        sys.exit(CANCEL_ENDED_FIRST)
    say(f"cancelled {job} on {asked.where}: {filed.status}, filed as {filed.result_path}")
