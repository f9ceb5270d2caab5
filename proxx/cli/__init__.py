"""The command line. The only package that prints for the user, knows click, or exits.

One module per command group, so each command's owner is plain from the tree:

    jobs.py       run, validate, remainder   one JobSpec and the result it gave
    plan.py       plan                       camera folders → JobSpecs (planner, planout)
    folder.py     watch, status              a watch folder
    reference.py  probe, profiles, schema    what Proxx would do, without doing it
    demo.py       demo                       sample clips rendered end to end
    deliver.py    report                     relink report, ASC MHL, ALE from a result

Commands import their machinery inside the function: `proxx -h` and the
worker start-up overlap in `main` stay cheap.
"""

from __future__ import annotations

import os
import sys

import click

from proxx import __version__
from proxx.cli import authoring, deliver, demo, folder, jobs, plan, reference, streams
from proxx.contract import logs
from proxx.contract.errors import ExitCode


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="proxx")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log line format on stderr (default: PROXX_LOG_FORMAT, else text). "
    "json: one object per line with job_id, worker_id, jobspec, state, reason.",
)
def cli(log_format: str | None) -> None:
    """Proxx renders verified proxy media from a JobSpec, deterministically.

    Logs go to stderr (PROXX_LOG_LEVEL=DEBUG|INFO|WARNING|ERROR); results are
    JSON. `proxx COMMAND -h` explains each command.
    """
    logs.setup(fmt=log_format)


# click lists a group's commands sorted by name, so the order here is free.
for _command in (
    jobs.run,
    authoring.validate,
    authoring.remainder,
    plan.plan,
    folder.watch,
    folder.status,
    folder.drain,
    folder.cancel,
    reference.probe,
    reference.schema,
    reference.profiles,
    demo.demo,
    deliver.report,
):
    cli.add_command(_command)


def main() -> None:
    _utf8_names()
    streams.ensure_std_fds()  # first: a closed stderr must not be the next file opened
    if sys.argv[1:2] in (["run"], ["validate"]) and not {"-h", "--help", "--preset"} & set(
        sys.argv
    ):
        # Their one worker starts now, so its start-up overlaps this process's
        # imports (the pool adopts it; see proxx.runtime.spawn).
        from proxx.runtime.signals import hold_stops
        from proxx.runtime.spawn import WORKER_TARGET, prespawn

        hold_stops()
        _, level, _, fmt = logs.chosen()
        prespawn(WORKER_TARGET, level, fmt)
    cli(prog_name="proxx")


def _utf8_names() -> None:
    """Run in Python's UTF-8 mode whatever the locale: re-exec with `-X utf8` if not.

    Under `LC_ALL=C PYTHONUTF8=0` Python reads file names as ASCII, and a JobSpec
    named `café.json` stayed in pending/ for good, with a traceback on each scan
    (its name could be neither filed nor refused). Linux names are bytes; results
    carry them as UTF-8, so the locale must not decide how they are read. Once:
    the re-executed process is in UTF-8 mode.
    """
    if sys.flags.utf8_mode or sys.getfilesystemencoding().lower() in ("utf-8", "utf8"):
        return
    os.execv(sys.executable, [sys.executable, "-X", "utf8", *sys.orig_argv[1:]])


__all__ = ["ExitCode", "cli", "main"]
