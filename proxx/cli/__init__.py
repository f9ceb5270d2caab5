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
from proxx.cli import authoring, deliver, demo, folder, jobs, jsonlines, plan, reference, streams
from proxx.contract import logs
from proxx.contract.errors import ExitCode


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="proxx")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Line format on stderr, for every command (default: PROXX_LOG_FORMAT, else text). "
    "json: every line is a JSON object (ts, level, logger, pid, msg; job_id, worker_id "
    "wherever a job is involved), usage errors included.",
)
def cli(log_format: str | None) -> None:
    """Proxx renders verified proxy media from a JobSpec, deterministically.

    Logs go to stderr (PROXX_LOG_LEVEL=DEBUG|INFO|WARNING|ERROR); results are
    JSON. `proxx COMMAND -h` explains each command.
    """
    if not _stderr_set_up:  # main() did it already, before click could say anything
        _set_up_stderr(log_format)


_stderr_set_up = False


def _set_up_stderr(log_format: str | None) -> None:
    """Logging, and under the JSON format the net that makes every stderr line JSON."""
    global _stderr_set_up
    logs.setup(fmt=log_format)
    if logs.format_name() == "json":
        jsonlines.install()
    _stderr_set_up = True


def _asked_format(argv: list[str]) -> str | None:
    """`--log-format X` among the group's options (before the command's name)."""
    for i, arg in enumerate(argv):
        if arg == "--log-format":
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg.startswith("--log-format="):
            return arg.partition("=")[2]
        if not arg.startswith("-"):
            break
    return None


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
    fmt = _asked_format(sys.argv[1:])
    # A --log-format click will refuse: PROXX_LOG_FORMAT's choice says so.
    _set_up_stderr(fmt if fmt in logs.FORMATS else None)
    if sys.argv[1:2] in (["run"], ["validate"]) and not {"-h", "--help", "--preset"} & set(
        sys.argv
    ):
        # Their one worker starts now, so its start-up overlaps this process's
        # imports (the pool adopts it; see proxx.runtime.spawn).
        from proxx.runtime.signals import hold_stops
        from proxx.runtime.spawn import WORKER_TARGET, prespawn

        hold_stops()
        _, level, _, used = logs.chosen(fmt=fmt)
        prespawn(WORKER_TARGET, level, used)
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
