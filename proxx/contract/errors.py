"""Error types and the exit-code contract shared by both sides of the pipe."""

from __future__ import annotations

import signal
from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """`proxx run` exit codes (README "Exit codes"). Automation keys off these."""

    COMPLETED = 0
    VALIDATION = 1
    EXECUTION = 2
    PARTIAL = 3
    SYSTEM = 4
    # Interrupted by SIGINT/SIGTERM: the shell convention 128+signal would vary
    # with the signal; one documented code is easier to alert on.
    INTERRUPTED = 5


class FailureReason(StrEnum):
    VALIDATION_ERROR = "validation_error"
    EXECUTION_ERROR = "execution_error"
    OUTPUT_MISSING = "output_missing"
    INTERRUPTED = "interrupted"
    WORKER_CRASHED = "worker_crashed"
    TIMEOUT = "timeout"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    CANCELLED = "cancelled"  # `proxx cancel`: an operator stopped this one job


def signal_name(signum: int) -> str:
    """SIGKILL, SIGSEGV …, or "signal N" for a number with no name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class ProxxError(Exception):
    """Base class: every error Proxx raises on purpose carries a clear message."""


class ValidationError(ProxxError):
    """The JobSpec (or the filesystem it names) cannot be executed as written."""


class SystemError_(ProxxError):
    """The environment is broken: engine missing, permission denied, disk full."""


class Interrupted(ProxxError):
    """A stop (SIGINT/SIGTERM) arrived before the job could start executing."""


class MixedEngineError(ValidationError):
    """Sources of one job need different engines (RAW and non-RAW)."""
