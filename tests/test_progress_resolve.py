"""The Resolve engine reports its render job's completion percentage (issue 19).

Driven against the Resolve double, whose render job's percentage follows the
time its render has taken; every report is kept (the one-a-second limit is
lifted for the test), and the clip announces its publish phase.
"""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from proxx.contract.protocol import ClipProgress, FromWorker, PhaseStarted
from tests.resolve_behaviour import Behaviour
from tests.resolve_double import FakeResolve
from tests.resolve_jobs import render_red
from workers import context as context_module
from workers.context import JobContext
from workers.resolve.engine import ResolveEngine

# Makes media or starts processes in every test: not for the in-process tier.
pytestmark = pytest.mark.e2e


def test_a_resolve_render_reports_its_completion_percentage(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context_module, "PROGRESS_INTERVAL_S", 0.0)
    context = stop_pipe[0]
    sent: list[FromWorker] = []
    context.emit = sent.append

    _plan, result = render_red(
        make_engine(FakeResolve(Behaviour(render_seconds=1.0))), tmp_path, context
    )

    assert result.status == "COMPLETED", result.failure_detail
    fractions = [m.fraction for m in sent if isinstance(m, ClipProgress)]
    assert fractions == sorted(fractions)
    assert len({f for f in fractions if 0 < f < 1}) >= 2, fractions  # it moved, in between
    assert all(m.index == 0 for m in sent if isinstance(m, ClipProgress))
    assert [m.phase for m in sent if isinstance(m, PhaseStarted)][-1:] == ["publish"]
