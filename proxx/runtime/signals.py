"""Signal handlers that only record; the supervisor loop acts on what they recorded."""

from __future__ import annotations

import os
import signal
from types import FrameType

STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def hold_stops() -> None:
    """Keep stop signals pending (not fatal) until a StopSignals is there to record them.

    `proxx run` starts its worker before it has imported what it needs to handle
    a Ctrl-C; one that lands in between still ends in a result (exit 5).
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)


class StopSignals:
    """Records SIGTERM/SIGINT/SIGHUP and wakes any wait() that includes `fd`.

    SIGHUP (a closed terminal, or `systemctl reload` by habit) is a graceful stop
    too: dying at once would leave running/ full.
    """

    def __init__(self) -> None:
        self.received: list[str] = []
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._previous = {s: signal.getsignal(s) for s in STOPS}
        self._old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        for s in self._previous:
            signal.signal(s, self._record)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)  # what was held is recorded now

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signal.Signals(signum).name)

    @property
    def fd(self) -> int:
        return self._r

    def drain(self) -> None:
        try:
            while os.read(self._r, 512):
                pass
        except BlockingIOError:
            pass

    @property
    def stop_requested(self) -> bool:
        return bool(self.received)

    def close(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        signal.set_wakeup_fd(self._old_fd)
        os.close(self._r)
        os.close(self._w)
