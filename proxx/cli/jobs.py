"""`proxx run`: one JobSpec rendered here, its result on stdout and in the exit code.

Like `watch`, `status`, `cancel` and `drain`, it never reads a JobSpec or media in this
process: a worker does (the content rule in pyproject.toml covers this module). The
commands that read a JobSpec here, for its author, are in `proxx.cli.authoring`."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from proxx.cli.progress import stall_option
from proxx.cli.roots import roots_of, roots_options

if TYPE_CHECKING:
    from proxx.contract.results import JobResult

EXIT_CODES_HELP = """\b
Exit codes of `proxx run`:
  0  COMPLETED: every clip rendered and verified
  1  validation error: nothing was executed (see validation_error)
  2  execution error: the first clip failed
  3  PARTIAL: some clips completed, then one failed (rest SKIPPED)
  4  system error: engine missing, permission denied, disk full
  5  interrupted by SIGINT/SIGTERM (FFmpeg stopped, result written)"""


def naming(reason: str, path: str) -> str:
    """The message once, naming the JobSpec unless it already does."""
    return reason if os.path.abspath(path) in reason else f"{path}: {reason}"


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("spec", type=click.Path(path_type=str))
@click.option(
    "--progress",
    "progress_mode",
    type=click.Choice(["auto", "line", "jsonl", "off"]),
    default="auto",
    show_default=True,
    help="Progress on stderr: one updating line (auto: when stderr is a terminal), "
    "one JSON object per update (jsonl), or none.",
)
@stall_option
@roots_options
def run(
    spec: str,
    progress_mode: str,
    stall_seconds: float,
    source_roots: tuple[str, ...],
    output_roots: tuple[str, ...],
) -> None:
    """Render SPEC.json: result JSON on stdout (and nothing else), logs on stderr.

    Relative source paths resolve against the JobSpec's own folder. Clips run
    one after another in a worker process; the first failure stops the job.
    """
    from proxx.cli.progress import ProgressShow
    from proxx.contract.deadlines import Deadlines
    from proxx.runtime.runjob import log_finished, run_one

    show = ProgressShow(progress_mode)  # type: ignore[arg-type]  # click checked the choice
    try:
        ran = run_one(
            spec,
            deadlines=Deadlines(stall=stall_seconds),
            on_progress=None if show.mode == "off" else show,
            log_end=False,
            roots=roots_of(source_roots, output_roots),
        )
    finally:
        show.close()
    log_finished(ran.result)
    _emit_result(ran.result)


def _emit_result(result: JobResult) -> None:
    """The result on stdout, what went wrong on stderr, the result's exit code.

    What was done decides the exit code, never the streams: with stdout's reader gone
    (`proxx run ok.json | true`) the result is lost to it, stderr says so, and the exit
    code is still the result's; a closed or broken stderr loses only the messages.
    """
    from proxx.cli.streams import say, write_stdout
    from proxx.contract.logs import user_line

    job: dict[str, Any] = {"job_id": result.job_id, "worker_id": result.worker_id}
    if not write_stdout(result.to_json()):
        text = (
            f"proxx: stdout was closed before the result could be printed; the job "
            f"{result.job_id} ended {result.status} all the same (exit code "
            f"{int(result.exit_code())})"
        )
        say(user_line(text, level="ERROR", **job))
    reason = result.validation_error or result.system_error or result.interrupted
    if reason:
        path = result.metadata.jobspec_path or "?"
        text = f"proxx: {result.status}: {naming(reason, path)}"
        say(user_line(text, level="ERROR", **job))
    for clip in result.clips:
        if clip.status == "FAILED":
            text = f"proxx: {clip.source_path}: {clip.failure_reason}: {clip.failure_detail}"
            say(user_line(text, level="ERROR", **job))
    sys.exit(int(result.exit_code()))
