"""Fixtures of the Resolve engine tests (tests/test_resolve_*.py): a worker's JobContext
on a real pipe, and a ResolveEngine on the Resolve double with short timeouts."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from proxx.contract.protocol import encode
from tests.resolve_double import FakeResolve
from workers.context import JobContext
from workers.resolve.engine import ResolveEngine
from workers.resolve.lock import ResolveLock


# -- fixtures --------------------------------------------------------------------------
@pytest.fixture
def stop_pipe() -> Iterator[tuple[JobContext, Connection]]:
    """A worker's JobContext on a real pipe; the parent end sends CancelJob and reads notes."""
    old_term, old_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    previous = signal.set_wakeup_fd(-1)
    parent, child = multiprocessing.Pipe()
    context = JobContext(child)
    context.job_id = "job1"  # plan_for()'s job
    context.emit = lambda msg: child.send_bytes(encode(msg))
    yield context, parent
    os.close(signal.set_wakeup_fd(previous))
    signal.signal(signal.SIGTERM, old_term)
    signal.signal(signal.SIGINT, old_int)
    parent.close()
    child.close()


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., ResolveEngine]:
    def factory(fake: FakeResolve | None = None, **kwargs: Any) -> ResolveEngine:
        kwargs.setdefault("connect", (fake or FakeResolve()).connect)
        settings = {"poll_s": 0.02, "accept_timeout_s": 0.3, "connect_timeout_s": 0.5, **kwargs}
        return ResolveEngine(lock=ResolveLock(str(tmp_path / "resolve.lock")), **settings)

    return factory
