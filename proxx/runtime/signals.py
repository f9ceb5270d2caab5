"""Signal handlers that only record; the supervisor loop acts on what they recorded."""

from __future__ import annotations

import os
import signal
from types import FrameType


class StopSignals:
    """Records SIGTERM/SIGINT/SIGHUP and wakes any wait() that includes `fd`.

    SIGHUP (a closed terminal, or `systemctl reload` by habit) is a graceful stop
    too: dying at once would leave running/ full.
    """

    def __init__(self) -> None:
        self.received: list[str] = []
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        self._previous = {s: signal.getsignal(s) for s in stops}
        self._old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        for s in self._previous:
            signal.signal(s, self._record)

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
