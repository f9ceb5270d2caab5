"""Logging to stderr, the same in the supervisor and in every worker.

PROXX_LOG_LEVEL sets verbosity and PROXX_LOG_FORMAT (`text` or `json`) the
line format (`proxx --log-format` overrides it); neither changes what is executed.
Under `json` every line on stderr is a JSON object: log records, the CLI's own
lines (`user_line`), and anything else that reaches stderr (`as_record`: click's
usage errors, a traceback, a worker's stray output), wrapped. Workers set logging up in the
child (`proxx.runtime.child`) from values their parent passes explicitly, and every
line about a job carries its job id and worker id (`job_context`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
# Fields a log call may attach with `extra=` (and job_context sets): the JSON
# format prints each one that is set; the text format shows job and worker.
FIELDS = ("job_id", "worker_id", "jobspec", "state", "reason")
_context: dict[str, Any] = {}


def level_name() -> str:
    """The level this process logs at (what a worker it starts should use too)."""
    return logging.getLevelName(logging.getLogger("proxx").getEffectiveLevel())


def format_name() -> str:
    handlers = logging.getLogger("proxx").handlers
    return "json" if any(isinstance(h.formatter, JsonFormatter) for h in handlers) else "text"


class _Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


# C0 controls and DEL (a newline, a carriage return, a terminal escape), as `\xNN`: a
# file name may hold any of them, and one log record must stay one line of text.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def escaped(text: str) -> str:
    """`text` with control characters shown as `\\xNN` (a backslash itself as `\\\\`)."""
    return text.replace("\\", "\\\\").translate(_CONTROLS)


class TextFormatter(logging.Formatter):
    """One record, one line: the message (file names included) is escaped; only a
    traceback, which follows its record, spans lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escaped(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        # One line per event: FFmpeg's multi-line stderr tail, a traceback (kept whole
        # in the result, or in the JSON format's `exc`) are folded with " | ".
        line = fold(super().format(record))
        tags = [
            f"{k.removesuffix('_id')} {getattr(record, k)}"
            for k in ("worker_id", "job_id")
            if getattr(record, k, None) is not None
        ]
        return f"{line} [{', '.join(tags)}]" if tags else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                obj[key] = value
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False)


def fold(text: str) -> str:
    """`text` as one line: its non-blank lines joined with " | "."""
    return " | ".join(part.strip() for part in text.splitlines() if part.strip())


def user_line(text: str, *, level: str = "INFO", logger: str = "proxx.cli", **fields: Any) -> str:
    """A line for the user on stderr: folded text, or under the JSON format a JSON object
    like a log record's (with `job_id` and `worker_id` where a job is involved)."""
    if format_name() != "json":
        return fold(text)
    obj: dict[str, Any] = {
        "ts": logging.Formatter().formatTime(logging.makeLogRecord({}), "%Y-%m-%dT%H:%M:%S%z"),
        "level": level,
        "logger": logger,
        "pid": os.getpid(),
        "msg": fold(text),
    }
    obj.update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(obj, ensure_ascii=False)


def as_record(line: str, *, level: str = "INFO", logger: str = "proxx.cli", **fields: Any) -> str:
    """A line bound for stderr, under the JSON format always a JSON object: one already
    (a log record, a progress update) passes as it is; any other text is wrapped."""
    if format_name() != "json" or _is_object(line):
        return line
    if level == "INFO" and line.startswith(("Error:", "Traceback", "Usage:", "Try '")):
        level = "ERROR"  # click's usage errors, an uncaught exception
    return user_line(line, level=level, logger=logger, **fields)


def as_records(data: bytes, *, logger: str, **fields: Any) -> bytes:
    """`as_record` for each line of bytes (a child's stderr, relayed); blank lines go."""
    if format_name() != "json":
        return data
    lines = data.decode("utf-8", "backslashreplace").splitlines()
    out = [as_record(line, logger=logger, **fields) for line in lines if line.strip()]
    return "".join(f"{line}\n" for line in out).encode()


def _is_object(line: str) -> bool:
    if not line.startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def chosen(level: str | None = None, fmt: str | None = None) -> tuple[str, str, str, str]:
    """(level, format) as asked — argument, else environment, else default — and as used."""
    raw_level = (level or os.environ.get("PROXX_LOG_LEVEL", "INFO")).upper()
    raw_fmt = (fmt or os.environ.get("PROXX_LOG_FORMAT", "text")).lower()
    return (
        raw_level,
        raw_level if raw_level in LEVELS else "INFO",
        raw_fmt,
        raw_fmt if raw_fmt in FORMATS else "text",
    )


def setup(level: str | None = None, fmt: str | None = None) -> None:
    """Configure the `proxx` and `workers` loggers (idempotent)."""
    raw_level, chosen_level, raw_fmt, fmt_name = chosen(level, fmt)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt_name == "json" else TextFormatter())
    handler.addFilter(_Context())
    for name in ("proxx", "workers"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(chosen_level)
        logger.propagate = False
    root = logging.getLogger("proxx")
    if raw_level != chosen_level:
        root.warning(
            "PROXX_LOG_LEVEL=%r is not one of %s; using INFO", raw_level, ", ".join(LEVELS)
        )
    if raw_fmt != fmt_name:
        root.warning(
            "PROXX_LOG_FORMAT=%r is not one of %s; using text", raw_fmt, ", ".join(FORMATS)
        )


def set_context(**fields: Any) -> None:
    """Fields every later log line of this process carries (e.g. the worker id)."""
    _context.update({k: v for k, v in fields.items() if v is not None})


@contextmanager
def job_context(**fields: Any) -> Iterator[None]:
    """While a job runs in this process, its log lines carry its id and name."""
    saved = dict(_context)
    set_context(**fields)
    try:
        yield
    finally:
        _context.clear()
        _context.update(saved)
