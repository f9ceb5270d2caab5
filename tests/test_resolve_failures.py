"""How Resolve fails and how the engine reports it: every failed call, failed, hung,
cancelled and unverifiable renders, codecs it does not offer, and Resolve missing
(not answering, the free edition, no or a broken scripting library)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from proxx.contract.errors import FailureReason
from testkit import noise
from tests.resolve_double import Behaviour, FakeResolve, RenderOutcome
from tests.resolve_jobs import leftovers, red_plan, render_cancelled, render_red
from workers.context import JobContext
from workers.resolve.engine import ResolveEngine
from workers.resolve.lock import ResolveLock


# -- how Resolve fails -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "reason", "detail"),
    [
        ("GetProjectManager", "engine_unavailable", "GetProjectManager() returned None"),
        ("CreateProject", "execution_error", "CreateProject('proxx-job1-001') returned None"),
        ("GetMediaPool", "execution_error", "GetMediaPool() returned None"),
        ("ImportMedia", "execution_error", "returned []: Resolve could not import the source"),
        ("SetSetting", "execution_error", "SetSetting('timelineFrameRate', '25') returned False"),
        ("CreateTimelineFromClips", "execution_error", "CreateTimelineFromClips('proxx-job1-001'"),
        ("SetCurrentTimeline", "execution_error", "SetCurrentTimeline(timeline) returned False"),
        ("SetStartTimecode", "execution_error", "SetStartTimecode('01:00:00:00') returned False"),
        ("GetRenderFormats", "engine_unavailable", "GetRenderFormats() returned {}"),
        ("GetRenderCodecs", "engine_unavailable", "GetRenderCodecs('mov') returned {}"),
        (
            "SetCurrentRenderFormatAndCodec",
            "execution_error",
            "SetCurrentRenderFormatAndCodec('mov', 'ProRes422P') returned False",
        ),
        ("SetCurrentRenderMode", "execution_error", "SetCurrentRenderMode(1) returned False"),
        ("SetRenderSettings", "execution_error", "SetRenderSettings("),
        (
            "AddRenderJob",
            "execution_error",
            "AddRenderJob() returned '': Resolve did not accept the render job within 0.3 s",
        ),
        (
            "StartRendering",
            "execution_error",
            "isInteractiveMode=False) returned False: Resolve refused to start the render",
        ),
        ("GetRenderJobStatus", "execution_error", "returned None: Resolve no longer knows"),
    ],
)
@pytest.mark.e2e
def test_every_failed_call_is_a_precise_failure_and_leaves_nothing(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
    call: str,
    reason: str,
    detail: str,
) -> None:
    fake = FakeResolve(Behaviour(fail=frozenset({call})))
    _, result = render_red(make_engine(fake), tmp_path, stop_pipe[0])

    assert (result.status, result.failure_reason) == ("FAILED", reason)
    assert result.failure_detail is not None and detail in result.failure_detail
    assert result.system_error is (reason == "engine_unavailable")
    assert leftovers(tmp_path / "out") == []
    assert fake.pm.projects == {}


def test_cleanup_that_fails_is_reported_with_what_to_remove(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    fake = FakeResolve(Behaviour(fail=frozenset({"ImportMedia", "DeleteProject"})))
    _, result = render_red(make_engine(fake), tmp_path, stop_pipe[0])

    assert result.failure_detail is not None
    assert "DeleteProject('proxx-job1-001') returned False" in result.failure_detail
    assert "remove project 'proxx-job1-001'" in result.failure_detail


@pytest.mark.e2e
def test_a_job_resolve_accepts_late_is_queued_once_not_retried(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    fake = FakeResolve(Behaviour(add_job_empty_times=3))
    plan, result = render_red(make_engine(fake, accept_timeout_s=2.0), tmp_path, stop_pipe[0])

    assert result.status == "COMPLETED", result.failure_detail
    assert os.path.exists(plan.clips[0].output_path)


def test_a_render_job_that_ends_failed_reports_resolves_status(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    fake = FakeResolve(Behaviour(render="failed"))
    _, result = render_red(make_engine(fake), tmp_path, stop_pipe[0])

    assert (result.status, result.failure_reason) == ("FAILED", FailureReason.EXECUTION_ERROR)
    assert result.failure_detail is not None
    assert result.failure_detail.startswith("Resolve render job ended Failed: ")
    assert "could not decode frame 3" in result.failure_detail
    assert leftovers(tmp_path / "out") == []
    assert fake.pm.projects == {}


def test_a_render_that_never_finishes_times_out_and_is_stopped(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    fake = FakeResolve(Behaviour(render="never"))
    plan = red_plan(tmp_path)
    engine = make_engine(fake, render_timeout=lambda duration: 1.0)

    t0 = time.monotonic()
    result = engine.render(plan, plan.clips[0], stop_pipe[0])

    assert time.monotonic() - t0 < 5
    assert (result.status, result.failure_reason) == ("FAILED", FailureReason.TIMEOUT)
    assert result.failure_detail is not None
    assert result.failure_detail.startswith("Resolve render did not finish within 1 s; stopped it")
    assert fake.pm.projects == {}  # a stopped job can be deleted, and its project too
    assert leftovers(tmp_path / "out") == []


def test_a_cancel_stops_the_render_promptly(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    fake = FakeResolve(Behaviour(render="never"))

    result, took = render_cancelled(
        make_engine(fake), stop_pipe, tmp_path, after_s=0.5, reason="proxx watch received SIGTERM"
    )

    assert took < 2.5
    assert (result.status, result.failure_reason) == ("FAILED", FailureReason.INTERRUPTED)
    assert result.failure_detail == (
        "stopped: proxx watch received SIGTERM; Resolve render stopped at 12%"
    )
    assert fake.pm.projects == {}


@pytest.mark.parametrize(
    ("render", "detail"),
    [
        ("wrong_size", "verification failed: frame size is 640×180, expected 640×360"),
        ("no_file", "Resolve reported the render Complete but wrote no file at "),
    ],
)
@pytest.mark.e2e
def test_a_complete_render_still_has_to_verify(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
    render: RenderOutcome,
    detail: str,
) -> None:
    plan = red_plan(tmp_path)

    result = make_engine(FakeResolve(Behaviour(render=render))).render(
        plan, plan.clips[0], stop_pipe[0]
    )

    assert (result.status, result.failure_reason) == ("FAILED", FailureReason.OUTPUT_MISSING)
    assert result.failure_detail is not None and detail in result.failure_detail
    assert not os.path.exists(plan.clips[0].output_path)
    if render == "wrong_size":  # kept under its hidden temporary name for diagnosis
        assert result.partial_output_path is not None
        assert os.path.basename(result.partial_output_path).startswith(".A001_C001_proxy.mov.")


def test_a_codec_this_resolve_does_not_offer_is_engine_unavailable(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    fake = FakeResolve(
        Behaviour(codecs={"mov": {"H.264": "H264", "Apple ProRes 422 HQ": "ProRes422HQ"}})
    )
    _, result = render_red(make_engine(fake), tmp_path, stop_pipe[0])

    assert result.failure_reason == FailureReason.ENGINE_UNAVAILABLE
    assert result.failure_detail == (
        "this Resolve offers no single codec matching prores_proxy for QuickTime; it offers "
        '{"H.264": "H264", "Apple ProRes 422 HQ": "ProRes422HQ"}'
    )


# -- Resolve missing -------------------------------------------------------------------
def test_resolve_not_answering_is_engine_unavailable_with_what_to_fix(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    _, result = render_red(make_engine(connect=lambda: None), tmp_path, stop_pipe[0])

    assert (result.status, result.failure_reason) == ("FAILED", "engine_unavailable")
    assert result.system_error
    detail = result.failure_detail or ""
    assert "fusionscript.scriptapp('Resolve') returned None for 0.5 s" in detail
    for fix in (
        "start DaVinci Resolve Studio",
        "-nogui",
        "'External scripting using' must be Local",
        "free edition does not allow external scripting",
    ):
        assert fix in detail


def test_the_free_edition_is_engine_unavailable(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[JobContext, Connection],
) -> None:
    fake = FakeResolve(Behaviour(product="DaVinci Resolve", version="20.0.1.6"))
    _, result = render_red(make_engine(fake), tmp_path, stop_pipe[0])

    assert result.failure_reason == "engine_unavailable"
    assert (result.failure_detail or "").startswith(
        "connected to DaVinci Resolve 20.0.1.6, which is not DaVinci Resolve Studio"
    )


@pytest.mark.parametrize(
    ("library", "detail"),
    [
        ("missing", "RESOLVE_SCRIPT_LIB={lib} does not exist"),
        ("garbage", "could not load DaVinci Resolve's scripting library {lib}"),
    ],
)
def test_a_missing_or_broken_library_is_engine_unavailable(
    tmp_path: Path,
    stop_pipe: tuple[JobContext, Connection],
    monkeypatch: pytest.MonkeyPatch,
    library: str,
    detail: str,
) -> None:
    lib = tmp_path / "fusionscript.so"
    if library == "garbage":
        lib.write_bytes(noise(4096))
    monkeypatch.setenv("RESOLVE_SCRIPT_LIB", str(lib))
    plan = red_plan(tmp_path)
    engine = ResolveEngine(lock=ResolveLock(str(tmp_path / "resolve.lock")))  # the real loader

    result = engine.render(plan, plan.clips[0], stop_pipe[0])

    assert result.failure_reason == "engine_unavailable"
    assert (result.failure_detail or "").startswith(detail.format(lib=lib))
    assert engine.versions() == {}
