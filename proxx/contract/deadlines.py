"""A deadline for every phase of a job (docs/ARCHITECTURE.md).

The worker announces each phase (`PhaseStarted`); the supervisor, which
cannot be hung by what the worker reads, enforces the limit. Values are
generous: a phase past its limit is hung (a blocked mount, a FIFO, a libav
loop), not slow. `basis` scales the limits that depend on the job's size; it
is capped, so a hostile JobSpec cannot buy itself unbounded time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from proxx.contract.protocol import Phase

MAX_SOURCE_SECONDS = 24 * 3600.0  # a day of footage in one clip is already absurd
MAX_SOURCES = 10_000


def default_render_limit(duration_s: float | None) -> float:
    """A clip stuck at 20× its own length (plus 5 min) is hung, not slow."""
    return 300.0 + 20.0 * min(duration_s or 60.0, MAX_SOURCE_SECONDS)


def _probe(n: float | None) -> float:
    # Re-armed for each source (basis 1): one probe is milliseconds in-process; 40 s
    # covers a slow network volume, not a FIFO or a dead mount.
    return 30.0 + 10.0 * min(n or 1.0, MAX_SOURCES)


def _verify(duration_s: float | None) -> float:
    return 60.0 + 2.0 * min(duration_s or 60.0, MAX_SOURCE_SECONDS)


@dataclass(frozen=True)
class Deadlines:
    """Seconds allowed per phase; tests pass shorter ones through the Python API."""

    accept: float = 30.0  # StartJob sent → first word from the worker (covers its boot)
    read: float = 10.0  # reading ≤ 64 MiB of JobSpec (a page of JSON is typical)
    validate: float = 10.0  # parsing and checking it, output names included
    engine_check: float = 30.0  # `ffmpeg -version`, connecting to Resolve
    finish: float = 30.0  # last clip reported → JobFinished
    recover: float = 60.0  # accounting for a dead runner's job
    # A render whose progress has not moved this long is stalled (`--stall-seconds`);
    # its render deadline still applies.
    stall: float = 300.0
    probe: Callable[[float | None], float] = field(default=_probe)
    render: Callable[[float | None], float] = field(default=default_render_limit)
    verify: Callable[[float | None], float] = field(default=_verify)
    # Publishing hashes the verified proxy and links it in: a read of the proxy, as
    # verification is, so the same limit.
    publish: Callable[[float | None], float] = field(default=_verify)

    def limit(self, phase: Phase, basis: float | None = None) -> float:
        if phase == "probe":
            return self.probe(basis)
        if phase == "render":
            return self.render(basis)
        if phase == "verify":
            return self.verify(basis)
        if phase == "publish":
            return self.publish(basis)
        value: float = getattr(self, phase)
        return value
