"""The Resolve engine against a test double of Resolve's raw API.

The double's surface (and the public `fusionscript-stubs`) are checked against
the engine's Protocols first, so the double cannot drift into an API Resolve
does not have. Renders are real files written by FFmpeg, verified by the
engine exactly like FFmpeg outputs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import multiprocessing
import os
import signal
import threading
import time
import types
import typing
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.content.media import probe
from proxx.content.routing import route_source
from proxx.contract.errors import FailureReason
from proxx.contract.protocol import CancelJob, ClipFinished, JobNote, encode
from proxx.contract.protocol import decode_for_supervisor as decode
from proxx.contract.results import ClipResult
from testkit import ffprobe_video, noise, redcode
from tests.resolve_double import (
    Behaviour,
    FakeMediaPool,
    FakeMediaPoolItem,
    FakeProject,
    FakeProjectManager,
    FakeResolve,
    FakeTimeline,
    RenderOutcome,
    run_engine,
)
from workers import resolve_api as api
from workers import resolve_lock
from workers.interrupts import Interrupts
from workers.resolve_api import media_spec
from workers.resolve_engine import ResolveEngine
from workers.resolve_lock import ResolveLock

PROTOCOLS: dict[str, type[Any]] = {
    "Resolve": api.Resolve,
    "ProjectManager": api.ProjectManager,
    "Project": api.Project,
    "MediaPool": api.MediaPool,
    "MediaPoolItem": api.MediaPoolItem,
    "Timeline": api.Timeline,
}
DOUBLES: dict[str, type[Any]] = {
    "Resolve": FakeResolve,
    "ProjectManager": FakeProjectManager,
    "Project": FakeProject,
    "MediaPool": FakeMediaPool,
    "MediaPoolItem": FakeMediaPoolItem,
    "Timeline": FakeTimeline,
}


# -- the API surface -------------------------------------------------------------------
def _stub_tree() -> ast.Module:
    dist = importlib.metadata.distribution("fusionscript-stubs")
    path = Path(str(dist.locate_file("fusionscript-stubs/fusionscript.pyi")))
    return ast.parse(path.read_text(encoding="utf-8"))


def _runtime_kinds(tp: Any) -> set[str]:
    """A return type reduced to what matters at a call site: list, dict, str, a class …"""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_runtime_kinds(a) for a in typing.get_args(tp)))
    if tp is type(None) or tp is None:
        return {"None"}
    base = origin or tp
    if base in (list, dict):
        return {base.__name__}
    return {getattr(base, "__name__", str(base))}


def _stub_kinds(node: ast.expr | None, typeddicts: set[str]) -> set[str]:
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return {"None"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _stub_kinds(node.left, typeddicts) | _stub_kinds(node.right, typeddicts)
    if isinstance(node, ast.Subscript):
        name = ast.unparse(node.value)
        if name == "Optional":
            return _stub_kinds(node.slice, typeddicts) | {"None"}
    else:
        name = ast.unparse(node)
    if name in ("List", "list") or name.startswith("["):
        return {"list"}
    if name in ("dict", "Dict") or name in typeddicts:
        return {"dict"}
    return {name}


def _accepts(stub: ast.FunctionDef, wanted: inspect.Signature) -> bool:
    """Whether one stub overload takes the call the Protocol declares, by position and name."""
    args = stub.args.args[1:]
    defaults = [False] * (len(args) - len(stub.args.defaults)) + [True] * len(stub.args.defaults)
    params = [p for p in wanted.parameters.values() if p.name != "self"]
    if len(params) > len(args) and stub.args.vararg is None:
        return False
    for param, arg in zip(params, args, strict=False):
        if param.name != arg.arg:
            return False
    for arg, has_default in list(zip(args, defaults, strict=True))[len(params) :]:
        # Known stub defect: optional parameters typed Optional[...] without a default.
        optional = arg.annotation is not None and ast.unparse(arg.annotation).startswith("Optional")
        if not (has_default or optional):
            return False
    return True


def _protocol_methods(proto: type[Any]) -> dict[str, Callable[..., Any]]:
    return {n: f for n, f in vars(proto).items() if inspect.isfunction(f) and not n.startswith("_")}


def test_the_public_stubs_offer_every_call_the_engine_makes() -> None:
    tree = _stub_tree()
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
    typeddicts = {
        n for n, c in classes.items() if any(ast.unparse(b) == "TypedDict" for b in c.bases)
    }
    problems = []
    for cls_name, proto in PROTOCOLS.items():
        stub_cls = classes[cls_name]
        for name, method in _protocol_methods(proto).items():
            overloads = [
                f for f in stub_cls.body if isinstance(f, ast.FunctionDef) and f.name == name
            ]
            if not overloads:
                problems.append(f"{cls_name}.{name} is not in the stubs")
                continue
            matching = [f for f in overloads if _accepts(f, inspect.signature(method))]
            if not matching:
                problems.append(f"{cls_name}.{name}{inspect.signature(method)} fits no overload")
                continue
            # Known stub defect: None returns are not always typed, so None is not compared.
            want = _runtime_kinds(typing.get_type_hints(method)["return"]) - {"None"}
            got = [_stub_kinds(f.returns, typeddicts) - {"None"} for f in matching]
            if want not in got:
                problems.append(f"{cls_name}.{name} returns {want} here, {got} in the stubs")
    assert problems == []


def _shape(sig: inspect.Signature) -> list[tuple[str, bool]]:
    return [(p.name, p.default is inspect.Parameter.empty) for p in sig.parameters.values()]


def test_the_double_has_exactly_the_protocol_signatures() -> None:
    problems = []
    for cls_name, proto in PROTOCOLS.items():
        double = DOUBLES[cls_name]
        for name, method in _protocol_methods(proto).items():
            fake = getattr(double, name, None)
            if fake is None:
                problems.append(f"{double.__name__}.{name} is missing")
                continue
            want, got = inspect.signature(method), inspect.signature(fake)
            if _shape(want) != _shape(got):
                problems.append(f"{double.__name__}.{name}{got} != {want}")
            want_ret = _runtime_kinds(typing.get_type_hints(method)["return"])
            got_ret = _runtime_kinds(typing.get_type_hints(fake)["return"])
            if not got_ret <= want_ret:
                problems.append(f"{double.__name__}.{name} returns {got_ret}, not {want_ret}")
    assert problems == []


# -- fixtures --------------------------------------------------------------------------
@pytest.fixture
def stop_pipe() -> Iterator[tuple[Interrupts, Connection]]:
    """A worker's Interrupts on a real pipe; the parent end sends CancelJob and reads notes."""
    old_term, old_int = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    previous = signal.set_wakeup_fd(-1)
    parent, child = multiprocessing.Pipe()
    interrupts = Interrupts(child)
    interrupts.job_id = "job1"  # plan_for()'s job
    interrupts.emit = lambda msg: child.send_bytes(encode(msg))
    yield interrupts, parent
    os.close(signal.set_wakeup_fd(previous))
    signal.signal(signal.SIGTERM, old_term)
    signal.signal(signal.SIGINT, old_int)
    parent.close()
    child.close()


def plan_for(
    sources: list[Path],
    out: Path,
    *,
    codec: str = "prores_proxy",
    container: str = "mov",
    profile: str = "proxy_prores_proxy_resolve",
    fps_mode: str = "preserve_source",
    job_id: str = "job1",
) -> JobPlan:
    out.mkdir(exist_ok=True)
    clips = []
    for i, src in enumerate(sources):
        decision = route_source(str(src))
        assert decision.engine is not None and decision.facts is not None, decision.reason
        clips.append(
            ClipPlan(
                index=i,
                source_path=str(src),
                source=decision.facts,
                output_path=str(out / f"{src.stem}_proxy.{container}"),
            )
        )
    return JobPlan(
        job_id=job_id,
        engine=decision.engine,
        codec=codec,
        container=container,
        fps_mode=fps_mode,
        proxy_profile=profile,
        clips=clips,
    )


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., ResolveEngine]:
    def factory(fake: FakeResolve | None = None, **kwargs: Any) -> ResolveEngine:
        kwargs.setdefault("connect", (fake or FakeResolve()).connect)
        settings = {"poll_s": 0.02, "accept_timeout_s": 0.3, "connect_timeout_s": 0.5, **kwargs}
        return ResolveEngine(lock=ResolveLock(str(tmp_path / "resolve.lock")), **settings)

    return factory


def stream_profile(path: str) -> str:
    return str(ffprobe_video(path)["profile"])


def red_plan(tmp_path: Path) -> JobPlan:
    """A one-clip job of a RED clip (a stand-in file), rendering into tmp_path/out."""
    return plan_for([redcode(tmp_path / "A001_C001.R3D")], tmp_path / "out")


def render_red(
    engine: ResolveEngine, tmp_path: Path, interrupts: Interrupts
) -> tuple[JobPlan, ClipResult]:
    """Render `red_plan`'s clip: the plan (for its paths) and the result."""
    plan = red_plan(tmp_path)
    return plan, engine.render(plan, plan.clips[0], interrupts)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- rendering -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("codec", "container", "profile", "codec_name", "profile_name"),
    [
        ("prores_proxy", "mov", "proxy_prores_proxy_resolve", "prores", "Proxy"),
        ("prores422", "mov", "proxy_prores422_resolve", "prores", "Standard"),
        ("prores422hq", "mov", "proxy_prores_hq_resolve", "prores", "HQ"),
        ("dnxhr_hq", "mxf", "proxy_dnxhr_hq_resolve", "dnxhd", "DNXHR HQ"),
    ],
)
def test_a_raw_clip_renders_verifies_and_publishes(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
    codec: str,
    container: str,
    profile: str,
    codec_name: str,
    profile_name: str,
) -> None:
    fake = FakeResolve()
    plan = plan_for(
        [redcode(tmp_path / "A001_C001.R3D")],
        tmp_path / "out",
        codec=codec,
        container=container,
        profile=profile,
    )
    engine = make_engine(fake)

    result = engine.render(plan, plan.clips[0], stop_pipe[0])

    assert (result.status, result.failure_detail) == ("COMPLETED", None)
    assert (result.engine, result.ffmpeg_command, engine.command_for(plan, plan.clips[0])) == (
        "resolve",
        None,
        None,
    )
    out = plan.clips[0].output_path
    assert leftovers(tmp_path / "out") == [os.path.basename(out)]
    assert result.output_size_bytes == os.path.getsize(out)
    facts = probe(out, count_frames=container == "mxf")
    assert facts.video is not None
    assert (facts.video.codec_name, stream_profile(out)) == (codec_name, profile_name)
    assert (facts.video.width, facts.video.height, facts.video.frame_rate) == (640, 360, "25")
    assert facts.frame_count() == 10
    assert [a.channels for a in facts.audio] == [2]
    assert facts.timecode == "01:00:00:00"
    assert engine.versions() == {"resolve": "DaVinci Resolve Studio 19.1.3.7"}
    assert fake.pm.projects == {}  # the throw-away project is gone from Resolve


def test_frame_size_and_forced_rate_come_from_resolves_clip_properties(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
) -> None:
    clip = {
        "Resolution": "4096x2160",
        "FPS": "23.976",
        "Frames": "24",
        "Audio Ch": "0",
        "Start TC": "14:02:11:23",
    }
    plan = plan_for([redcode(tmp_path / "B002_C007.R3D")], tmp_path / "out", fps_mode="force_25")

    result = make_engine(FakeResolve(Behaviour(clip=clip))).render(
        plan, plan.clips[0], stop_pipe[0]
    )

    assert result.status == "COMPLETED", result.failure_detail
    facts = probe(plan.clips[0].output_path)
    assert facts.video is not None
    assert (facts.video.width, facts.video.height, facts.video.frame_rate) == (2048, 1080, "25")
    assert facts.frame_count() == 25  # one second of picture, conformed to 25 fps
    assert facts.audio == []
    assert facts.timecode == "14:02:11:24"


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
def test_every_failed_call_is_a_precise_failure_and_leaves_nothing(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
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
    stop_pipe: tuple[Interrupts, Connection],
) -> None:
    fake = FakeResolve(Behaviour(fail=frozenset({"ImportMedia", "DeleteProject"})))
    _, result = render_red(make_engine(fake), tmp_path, stop_pipe[0])

    assert result.failure_detail is not None
    assert "DeleteProject('proxx-job1-001') returned False" in result.failure_detail
    assert "remove project 'proxx-job1-001'" in result.failure_detail


def test_a_job_resolve_accepts_late_is_queued_once_not_retried(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
) -> None:
    fake = FakeResolve(Behaviour(add_job_empty_times=3))
    plan, result = render_red(make_engine(fake, accept_timeout_s=2.0), tmp_path, stop_pipe[0])

    assert result.status == "COMPLETED", result.failure_detail
    assert os.path.exists(plan.clips[0].output_path)


def test_a_render_job_that_ends_failed_reports_resolves_status(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
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
    stop_pipe: tuple[Interrupts, Connection],
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


def render_cancelled(
    engine: ResolveEngine,
    stop_pipe: tuple[Interrupts, Connection],
    tmp_path: Path,
    *,
    after_s: float,
    reason: str,
) -> tuple[ClipResult, float]:
    """Render one RED clip while a CancelJob(`reason`) arrives `after_s` in; the result
    and the seconds the render took."""
    interrupts, parent = stop_pipe
    plan = red_plan(tmp_path)
    cancel = encode(CancelJob(job_id="job1", reason=reason))
    timer = threading.Timer(after_s, lambda: parent.send_bytes(cancel))
    timer.start()
    t0 = time.monotonic()
    result = engine.render(plan, plan.clips[0], interrupts)
    timer.join()
    return result, time.monotonic() - t0


def test_a_cancel_stops_the_render_promptly(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
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
def test_a_complete_render_still_has_to_verify(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
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
    stop_pipe: tuple[Interrupts, Connection],
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
    stop_pipe: tuple[Interrupts, Connection],
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
    stop_pipe: tuple[Interrupts, Connection],
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
    stop_pipe: tuple[Interrupts, Connection],
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


# -- one Resolve job per host ------------------------------------------------------------
def _max_concurrent(events: list[tuple[str, int, float]]) -> int:
    depth = deepest = 0
    for event, _, _ in events:
        depth += 1 if event == "open" else -1
        deepest = max(deepest, depth)
    return deepest


def _run_two_jobs(
    tmp_path: Path, shared_lock: bool
) -> tuple[list[tuple[str, int, float]], dict[str, list[Any]]]:
    """Two worker-like processes, one 2-clip RAW job each, let loose on Resolve together.

    The test holds their lock(s) until both report waiting, so both really
    contend however slowly each process starts.
    """
    ctx = multiprocessing.get_context("spawn")
    log = tmp_path / "sessions.log"
    behaviour = Behaviour(render_seconds=0.5, session_log=str(log))
    locks = {
        job: tmp_path / ("resolve.lock" if shared_lock else f"{job}.lock")
        for job in ("jobA", "jobB")
    }
    held = [ResolveLock(str(p)) for p in set(locks.values())]
    assert all(lock.try_acquire("the test, holding the start") for lock in held)
    procs: list[Any] = []
    parents: dict[str, Connection] = {}
    messages: dict[str, list[Any]] = {}
    for job, lock_path in locks.items():
        srcs = [redcode(tmp_path / f"{job}_{n}.R3D") for n in (1, 2)]
        plan = plan_for(srcs, tmp_path / f"out_{job}", job_id=job)
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=run_engine, args=(child, plan.model_dump_json(), behaviour, str(lock_path))
        )
        proc.start()
        child.close()
        procs.append(proc)
        parents[job], messages[job] = parent, []

    def collect(job: str, until: Callable[[list[Any]], bool]) -> None:
        while not until(messages[job]):
            assert parents[job].poll(60), f"{job} sent nothing for 60 s"
            messages[job].append(decode(parents[job].recv_bytes()))

    for job in locks:
        collect(job, lambda ms: any(isinstance(m, JobNote) for m in ms))
    for lock in held:
        lock.release()
    for job in locks:
        collect(job, lambda ms: sum(isinstance(m, ClipFinished) for m in ms) == 2)
    for proc in procs:
        proc.join(10)
    events = [
        (e, int(pid), float(t))
        for e, pid, t in (line.split() for line in log.read_text().splitlines())
    ]
    return sorted(events, key=lambda e: e[2]), messages


def test_two_processes_never_drive_resolve_at_once(tmp_path: Path) -> None:
    events, messages = _run_two_jobs(tmp_path, shared_lock=True)

    results = [m.clip for ms in messages.values() for m in ms if isinstance(m, ClipFinished)]
    assert [r.status for r in results] == ["COMPLETED"] * 4
    assert _max_concurrent(events) == 1
    owners = [pid for event, pid, _ in events if event == "open"]
    assert owners[0] == owners[1] != owners[2] == owners[3]  # a whole job, then the other
    notes = {job: [m.note for m in ms if isinstance(m, JobNote)] for job, ms in messages.items()}
    for job_notes in notes.values():
        assert job_notes[0].startswith("waiting for DaVinci Resolve, which is in use by ")
    # Each job says when it finally got Resolve.
    freed = [
        m.note
        for ms in messages.values()
        for m in ms
        if isinstance(m, JobNote) and m.note.startswith("DaVinci Resolve is free after waiting")
    ]
    assert len(freed) == 2


def test_without_the_shared_lock_the_same_jobs_would_overlap(tmp_path: Path) -> None:
    # The control for the test above: it shows the double and the log can see
    # two processes inside Resolve at once, so "never at once" is measured.
    events, _ = _run_two_jobs(tmp_path, shared_lock=False)

    assert _max_concurrent(events) == 2


def test_the_lock_is_held_for_the_whole_job_and_released_after_its_last_clip(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
) -> None:
    plan = plan_for([redcode(tmp_path / "C1.R3D"), redcode(tmp_path / "C2.R3D")], tmp_path / "out")
    engine = make_engine()
    other = ResolveLock(str(tmp_path / "resolve.lock"))

    first = engine.render(plan, plan.clips[0], stop_pipe[0])
    held_between_clips = not other.try_acquire("another job")
    second = engine.render(plan, plan.clips[1], stop_pipe[0])

    assert (first.status, second.status) == ("COMPLETED", "COMPLETED")
    assert held_between_clips
    assert other.try_acquire("another job")
    other.release()


def test_a_job_waiting_for_resolve_says_so_and_can_be_cancelled(
    tmp_path: Path,
    make_engine: Callable[..., ResolveEngine],
    stop_pipe: tuple[Interrupts, Connection],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(resolve_lock, "NOTE_EVERY_S", 0.4)  # 30 s in production
    holder = ResolveLock(str(tmp_path / "resolve.lock"))
    assert holder.try_acquire("pid 4242, job nightly-dailies")

    result, took = render_cancelled(
        make_engine(), stop_pipe, tmp_path, after_s=1.2, reason="proxx run received SIGINT"
    )
    holder.release()

    assert took < 2.5
    assert (result.failure_reason, result.failure_detail) == (
        FailureReason.INTERRUPTED,
        "stopped while waiting for DaVinci Resolve: proxx run received SIGINT",
    )
    notes = []
    parent = stop_pipe[1]
    while parent.poll():
        msg = decode(parent.recv_bytes())
        assert isinstance(msg, JobNote) and msg.job_id == "job1"
        notes.append(msg.note)
    holder_text = "for DaVinci Resolve, which is in use by pid 4242, job nightly-dailies, since "
    assert notes[0].startswith(f"waiting {holder_text}")
    assert len(notes) >= 2
    assert all(n.startswith("still waiting after ") and holder_text in n for n in notes[1:])


# -- image sequences ---------------------------------------------------------------------
def test_a_frame_of_an_image_sequence_imports_its_whole_contiguous_run(tmp_path: Path) -> None:
    for n in (7, 8, 9, 10, 12):  # 11 is missing: 12 starts another run
        (tmp_path / f"A002_C003_{n:06d}.dng").write_bytes(b"II*\x00")

    spec = media_spec(str(tmp_path / "A002_C003_000009.dng"))

    assert spec == {
        "FilePath": str(tmp_path / "A002_C003_%06d.dng"),
        "StartIndex": 7,
        "EndIndex": 10,
    }
    assert media_spec(str(tmp_path / "A001_C001_0001.R3D")) == str(tmp_path / "A001_C001_0001.R3D")
