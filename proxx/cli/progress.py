"""How `proxx run` shows a job's progress on stderr: one updating line, or JSON lines.

stdout carries the result and nothing else, so both go to stderr. The line is
for a person at a terminal (redrawn in place, ended when the job ends); JSON
lines are for CI logs and scripts (one object per update, the same record
`proxx status --json` shows).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Literal, TextIO

import click

from proxx.contract import logs

if TYPE_CHECKING:  # the CLI loads this for its options: pydantic waits for a job
    from proxx.contract.progress import ProgressRecord

Mode = Literal["auto", "line", "jsonl", "off"]
_CLEAR = "\r\x1b[K"


def stall_option(f: Any) -> Any:
    """--stall-seconds, for run and watch: a render's stall limit (README, "Stalls")."""
    return click.option(
        "--stall-seconds",
        type=click.FloatRange(min=1.0),
        default=300.0,
        show_default=True,
        help="Cancel a render whose progress has not moved for this long (as timeout); "
        "each clip's render deadline still applies.",
    )(f)


def resolve_mode(mode: Mode, stream: TextIO) -> Mode:
    """`auto`: the line on a terminal, nothing otherwise (a log file wants no redraws).
    Under `--log-format json` every stderr line is JSON: the line becomes JSON lines."""
    if mode == "auto":
        mode = "line" if stream.isatty() else "off"
    return "jsonl" if mode == "line" and logs.format_name() == "json" else mode


class ProgressShow:
    def __init__(self, mode: Mode, stream: TextIO | None = None) -> None:
        # sys.stderr as it is now: this module is imported before a stderr closed at
        # start is replaced (streams.ensure_std_fds), when sys.stderr is still None.
        stream = stream if stream is not None else sys.stderr
        self.mode, self.stream = resolve_mode(mode, stream), stream
        self._drawn = False

    def __call__(self, job_id: str, record: ProgressRecord) -> None:
        if self.mode == "jsonl":
            line = {"event": "progress", "job_id": job_id, "progress": record.model_dump()}
            self.stream.write(json.dumps(line) + "\n")
        elif self.mode == "line":
            # The cursor goes back to the line's start: a log line written meanwhile
            # overwrites the progress text instead of being glued to its end.
            from proxx.contract.progress import describe

            self.stream.write(_CLEAR + describe(record) + "\r")
            self._drawn = True
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line, so what follows starts on a line of its own."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
