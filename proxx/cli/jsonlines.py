"""stderr under `--log-format json` (or PROXX_LOG_FORMAT=json): every line a JSON object.

The CLI's own lines and log records are JSON already; this wrapper is the net for the
rest that reaches `sys.stderr` (click's usage errors, an uncaught traceback, a warning):
each complete line that is not a JSON object goes out wrapped as one
(`proxx.contract.logs.as_record`). Lines relayed from children are wrapped where they
are written (`proxx.runtime.relay`).
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

from proxx.contract.logs import as_record


class JsonLines(io.TextIOBase):
    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner
        self._partial = ""

    # click writes through a text stream whose encoding it recognises; this one has no
    # `buffer`, so nothing can write bytes past the wrapping.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.inner.errors

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def close_line(self) -> None:
        """What is left without its newline goes out too (at exit)."""
        if self._partial:
            self._emit(self._partial)
            self._partial = ""
        self.inner.flush()

    def _emit(self, line: str) -> None:
        line = line.replace("\r", "")
        if line.strip():
            self.inner.write(as_record(line) + "\n")


def install() -> None:
    """Wrap sys.stderr (once) so that each line it carries is a JSON object."""
    if not isinstance(sys.stderr, JsonLines):
        sys.stderr = JsonLines(sys.stderr)
