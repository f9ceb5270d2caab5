"""What `proxx run` and `proxx watch` share: an executor, the signals that stop its
jobs, and one wait for both.

Signal handlers only record (proxx.runtime.signals); the caller's loop acts: on the
first stop request every running job is interrupted, once.
"""

from __future__ import annotations

from proxx.runtime.executor import Executor, PoolEvent
from proxx.runtime.signals import StopSignals


class Dispatcher:
    def __init__(self, executor: Executor, command: str) -> None:
        self.executor = executor
        self.command = command  # "proxx run", "proxx watch": named in every stop reason
        self.stops = StopSignals()
        self._interrupted = False

    def start(self) -> None:
        self.executor.start()

    def wait(self, timeout: float | None) -> list[PoolEvent]:
        """Until an event, a stop signal, or `timeout`."""
        events = self.executor.wait(timeout, extra=[self.stops.fd])
        self.stops.drain()
        return events

    @property
    def stop_requested(self) -> bool:
        return self.stops.stop_requested

    def stop_reason(self) -> str:
        received = self.stops.received
        return (
            f"{self.command} received {received[0]}" if received else f"{self.command} is stopping"
        )

    def interrupt_all(self) -> bool:
        """Cancel every running job, the first time only; True if this call did."""
        if self._interrupted:
            return False
        self._interrupted = True
        self.executor.cancel_all(self.stop_reason())
        return True

    def close(self) -> None:
        self.executor.shutdown()
        self.stops.close()
