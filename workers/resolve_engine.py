"""The DaVinci Resolve engine: camera RAW through Resolve's scripting API.

Each clip gets a throw-away project, renders to the same hidden partial name
the FFmpeg engine uses, is verified by probing like any FFmpeg output, and is
published without replacing anything. Resolve's API reports failure by
returning None, False, "" or [] rather than raising, so every return is
checked and turned into a failure_detail naming the call and what it means.
Resolve missing or unreachable is `engine_unavailable`: never a fallback to
FFmpeg, which cannot decode these formats.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any, TypeVar

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.content.media import ProbeFacts
from proxx.contract.clock import iso, utc_now
from proxx.contract.errors import FailureReason
from proxx.contract.naming import partial_path
from proxx.contract.profiles import FORCED_RATES, PROFILES
from proxx.contract.results import ClipResult
from workers import resolve_api as api
from workers.expect import Expected, retime_timecode
from workers.interrupts import Interrupts
from workers.publish import PublishError, publish
from workers.resolve_lock import ResolveLock, acquire
from workers.verify import verify_output

log = logging.getLogger("proxx.resolve")
T = TypeVar("T")

CONNECT_TIMEOUT_S = 20.0  # Resolve answers scripting only once fully started
ACCEPT_TIMEOUT_S = 5.0
POLL_S = 0.5
STALL_GRACE_S = 15.0
RENDER_MODE_SINGLE_CLIP = 1
_FAILED_STATES = ("Failed", "Cancelled")


def default_render_timeout(duration_s: float | None) -> float:
    """A render stuck at 18× the clip's own length (plus 4 min) is hung, not slow."""
    return 240.0 + 18.0 * (duration_s or 60.0)


class _Failed(Exception):
    def __init__(self, reason: FailureReason, detail: str, system: bool = False) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.system = reason, detail, system


class ResolveEngine:
    name = "resolve"

    def __init__(
        self,
        connect: Callable[[], api.Resolve | None] = api.scriptapp,
        *,
        lock: ResolveLock | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        accept_timeout_s: float = ACCEPT_TIMEOUT_S,
        render_timeout: Callable[[float | None], float] = default_render_timeout,
        poll_s: float = POLL_S,
    ) -> None:
        self._connect = connect
        self._lock = lock or ResolveLock()
        self._lock_job: str | None = None
        self.connect_timeout_s = connect_timeout_s
        self.accept_timeout_s = accept_timeout_s
        self.render_timeout = render_timeout
        self.poll_s = poll_s
        self._versions: dict[str, str] = {}

    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    def warm_up(self) -> None:
        """Nothing: connecting to Resolve is worth doing only for a RAW job."""

    def available(self, interrupts: Interrupts) -> str | None:
        """Connect once before any clip: `validate` and `run` refuse with the same words."""
        try:
            self.connect_app(interrupts)
        except _Failed as failed:
            return failed.detail if failed.reason is FailureReason.ENGINE_UNAVAILABLE else None
        return None

    def command_for(self, plan: JobPlan, clip: ClipPlan) -> str | None:
        return None  # Resolve runs no command line; the result carries the API calls' outcome

    def render(self, plan: JobPlan, clip: ClipPlan, interrupts: Interrupts) -> ClipResult:
        started, t0 = utc_now(), time.monotonic()

        def finish(**fields: Any) -> ClipResult:
            return ClipResult.model_validate(
                {
                    "source_path": clip.source_path,
                    "output_path": clip.output_path,
                    "engine": self.name,
                    "started_at": iso(started),
                    "ended_at": iso(utc_now()),
                    "duration_seconds": round(time.monotonic() - t0, 3),
                    **fields,
                }
            )

        stop = self._hold_lock(plan, interrupts)
        if stop is not None:
            return finish(
                status="FAILED",
                failure_reason=FailureReason.INTERRUPTED,
                failure_detail=f"stopped while waiting for DaVinci Resolve: {stop}",
            )
        run = _ClipRun(self, plan, clip, interrupts)
        try:
            size = run.execute()
            result = finish(status="COMPLETED", output_size_bytes=size)
        except _Failed as failed:
            detail = failed.detail + run.cleanup()
            result = finish(
                status="FAILED",
                failure_reason=failed.reason,
                failure_detail=detail,
                system_error=failed.system,
                partial_output_path=run.leftover(),
            )
        except Exception as exc:  # the native module can raise once Resolve goes away
            result = finish(
                status="FAILED",
                failure_reason=FailureReason.EXECUTION_ERROR,
                failure_detail=f"a DaVinci Resolve scripting call raised "
                f"{type(exc).__name__}: {exc} (last good step: {run.last_step})" + run.cleanup(),
                partial_output_path=run.leftover(),
            )
        else:
            if note := run.cleanup():
                log.warning("job %s clip %d:%s", plan.job_id, clip.index, note)
        self._release_after(plan, clip, result, interrupts)
        return result

    # -- the one-Resolve-per-host lock, held for a whole job ------------------------
    def _hold_lock(self, plan: JobPlan, interrupts: Interrupts) -> str | None:
        if self._lock_job == plan.job_id and self._lock.held:
            return None
        self._lock.release()  # held for an earlier job that never got to its last clip
        owner = f"pid {os.getpid()}, job {plan.job_id}"
        stop = acquire(self._lock, owner, plan.job_id, interrupts)
        self._lock_job = plan.job_id if stop is None else None
        return stop

    def finish_job(self, plan: JobPlan) -> None:
        """End of this job's turn with Resolve, however it ended."""
        if self._lock_job == plan.job_id:
            self._lock.release()
            self._lock_job = None

    def _release_after(
        self, plan: JobPlan, clip: ClipPlan, result: ClipResult, interrupts: Interrupts
    ) -> None:
        # The worker loop stops a job after a failed clip, after its last clip,
        # or on a stop request; each is the end of this job's turn with Resolve.
        last = clip.index == plan.clips[-1].index
        if last or result.status != "COMPLETED" or interrupts.check() is not None:
            self._lock.release()
            self._lock_job = None

    def connect_app(self, interrupts: Interrupts) -> api.Resolve:
        try:
            app = api.connect(self._connect, self.connect_timeout_s, interrupts.wait)
            self._versions = {"resolve": api.product(app)}
            log.info("connected to %s", self._versions["resolve"])
            api.require_studio(app)
        except api.ResolveUnavailable as exc:
            raise _Failed(FailureReason.ENGINE_UNAVAILABLE, str(exc), system=True) from exc
        except api.Stopped as exc:
            raise _Failed(
                FailureReason.INTERRUPTED, f"stopped while connecting to Resolve: {exc}"
            ) from exc
        return app


class _ClipRun:
    """One clip's conversation with Resolve, and the cleanup it owes afterwards."""

    def __init__(
        self, engine: ResolveEngine, plan: JobPlan, clip: ClipPlan, interrupts: Interrupts
    ) -> None:
        self.engine, self.plan, self.clip, self.interrupts = engine, plan, clip, interrupts
        self.partial = partial_path(clip.output_path, plan.job_id)
        # Resolve appends the format's extension to CustomName.
        self.rendered = f"{self.partial}.{plan.container}"
        self.name = f"proxx-{plan.job_id}-{clip.index + 1:03d}"
        self.last_step = "none"
        self.pm: api.ProjectManager | None = None
        self.project: api.Project | None = None
        self.job_id: str | None = None
        self._cleaned = False

    def need(
        self,
        value: T | None,
        call: str,
        meaning: str,
        reason: FailureReason = FailureReason.EXECUTION_ERROR,
    ) -> T:
        """The value of a Resolve call, or a failure naming the call and what it means."""
        if not value:
            raise _Failed(
                reason,
                f"{call} returned {value!r}: {meaning}",
                system=reason is FailureReason.ENGINE_UNAVAILABLE,
            )
        self.last_step = call
        return value

    def check_stop(self, while_doing: str) -> None:
        stop = self.interrupts.check()
        if stop is not None:
            raise _Failed(FailureReason.INTERRUPTED, f"stopped {while_doing}: {stop}")

    def execute(self) -> int:
        app = self.engine.connect_app(self.interrupts)
        self.pm = self.need(
            app.GetProjectManager(),
            "GetProjectManager()",
            "Resolve has no project database open",
            FailureReason.ENGINE_UNAVAILABLE,
        )
        self.check_stop("before creating the Resolve project")
        self.project = self.need(
            self.pm.CreateProject(self.name),
            f"CreateProject({self.name!r})",
            "a project with that name exists or the database is read-only",
        )
        project = self.project
        pool = self.need(
            project.GetMediaPool(), "GetMediaPool()", "the new project has no media pool"
        )
        media = api.media_spec(self.clip.source_path)
        items = self.need(
            pool.ImportMedia([media]),
            f"ImportMedia([{media!r}])",
            "Resolve could not import the source: it is damaged, offline to Resolve, "
            "or this Resolve version cannot read the format (update Resolve)",
        )
        self.check_stop("after importing into Resolve")
        exp = self.expected(items[0])
        self.setup_timeline(pool, items, exp)
        self.choose_format()
        self.set_render_settings(exp)
        self.job_id = self.add_job()
        self.check_stop("before starting the Resolve render")
        self.need(
            project.StartRendering([self.job_id], False),
            f"StartRendering([{self.job_id!r}], isInteractiveMode=False)",
            "Resolve refused to start the render",
        )
        self.wait_for_render(exp)
        return self.publish(exp)

    def expected(self, item: api.MediaPoolItem) -> Expected:
        src = source_info(self.clip.source, item)
        w, h = PROFILES[self.plan.proxy_profile].size.target(src.width, src.height)
        src_rate = src.rate
        assert src_rate is not None  # source_info fails the clip otherwise
        rate = FORCED_RATES.get(self.plan.fps_mode, src_rate)
        frames = None if src.frames is None else round(src.frames * rate / src_rate)
        # Resolve renders its Main 1 bus: a stereo mix whenever the source has sound.
        audio = (2,) if src.audio_channels else ()
        # ±1 frame: how Resolve counts a RAW clip's frames is not something
        # Proxx could check against a real install (docs/ROUTING.md).
        return Expected(
            self.plan.codec,
            w,
            h,
            rate,
            frames,
            False,
            audio,
            retime_timecode(src.timecode, src_rate, rate),
        )

    def setup_timeline(
        self, pool: api.MediaPool, items: list[api.MediaPoolItem], exp: Expected
    ) -> None:
        assert self.project is not None
        # Timeline rate and size lock once a timeline exists, so they go first.
        for key, value in (
            ("timelineFrameRate", api.rate_text(exp.rate)),
            ("timelineResolutionWidth", str(exp.width)),
            ("timelineResolutionHeight", str(exp.height)),
        ):
            self.need(
                self.project.SetSetting(key, value),
                f"SetSetting({key!r}, {value!r})",
                "Resolve rejected the project setting",
            )
        timeline = self.need(
            pool.CreateTimelineFromClips(self.name, items),
            f"CreateTimelineFromClips({self.name!r}, [clip])",
            "Resolve could not build a timeline from the imported clip",
        )
        self.need(
            self.project.SetCurrentTimeline(timeline),
            "SetCurrentTimeline(timeline)",
            "Resolve would not make the new timeline current",
        )
        if exp.timecode:
            self.need(
                timeline.SetStartTimecode(exp.timecode),
                f"SetStartTimecode({exp.timecode!r})",
                "the proxy would lose the source timecode editors relink by",
            )

    def choose_format(self) -> None:
        assert self.project is not None
        unavailable = FailureReason.ENGINE_UNAVAILABLE
        formats = self.need(
            self.project.GetRenderFormats(),
            "GetRenderFormats()",
            "Resolve lists no render formats",
            unavailable,
        )
        picked = api.pick_render_format(formats, self.plan.container)
        if picked is None:
            raise _Failed(
                unavailable,
                f"this Resolve offers no single render format for "
                f".{self.plan.container} files; it offers {json.dumps(formats)}",
                True,
            )
        label, fmt = picked
        codecs = self.project.GetRenderCodecs(fmt) or self.project.GetRenderCodecs(label)
        codecs = self.need(
            codecs, f"GetRenderCodecs({fmt!r})", f"Resolve lists no codecs for {label}", unavailable
        )
        codec = api.pick_codec(codecs, self.plan.codec)
        if codec is None:
            raise _Failed(
                unavailable,
                f"this Resolve offers no single codec matching "
                f"{self.plan.codec} for {label}; it offers {json.dumps(codecs)}",
                True,
            )
        self.need(
            self.project.SetCurrentRenderFormatAndCodec(fmt, codec),
            f"SetCurrentRenderFormatAndCodec({fmt!r}, {codec!r})",
            "Resolve refused the format and codec it had just listed",
        )
        self.need(
            self.project.SetCurrentRenderMode(RENDER_MODE_SINGLE_CLIP),
            "SetCurrentRenderMode(1)",
            "Resolve refused single-clip render mode",
        )

    def set_render_settings(self, exp: Expected) -> None:
        assert self.project is not None
        settings: api.RenderSettings = {
            "SelectAllFrames": True,
            "TargetDir": os.path.dirname(self.partial),
            "CustomName": os.path.basename(self.partial),
            "ExportVideo": True,
            "ExportAudio": bool(exp.audio_channels),
            "FormatWidth": exp.width,
            "FormatHeight": exp.height,
            "FrameRate": round(float(exp.rate), 3),
            "ReplaceExistingFilesInPlace": False,  # Proxx never overwrites
        }
        self.need(
            self.project.SetRenderSettings(settings),
            f"SetRenderSettings({json.dumps(settings, sort_keys=True)})",
            "Resolve rejected the render settings (is TargetDir writable by the user "
            "Resolve runs as?)",
        )

    def add_job(self) -> str:
        assert self.project is not None
        # Resolve can answer "" right after settings change. Asking again until
        # it accepts is a bounded wait for one job to be queued, not a retry of
        # a failed render: nothing was queued while the answer was empty.
        deadline = time.monotonic() + self.engine.accept_timeout_s
        while True:
            job_id = self.project.AddRenderJob()
            if job_id or time.monotonic() >= deadline:
                break
            self.check_stop("waiting for Resolve to accept the render job")
            self.interrupts.wait(self.engine.poll_s)
        return self.need(
            job_id,
            "AddRenderJob()",
            f"Resolve did not accept the render job within {self.engine.accept_timeout_s:g} s",
        )

    def wait_for_render(self, exp: Expected) -> None:
        assert self.project is not None and self.job_id is not None
        duration = None if exp.frames is None else float(exp.frames / exp.rate)
        limit = self.engine.render_timeout(duration)
        deadline = time.monotonic() + limit
        idle_since: float | None = None
        while True:
            status = self.need(
                self.project.GetRenderJobStatus(self.job_id),
                f"GetRenderJobStatus({self.job_id!r})",
                "Resolve no longer knows the render job",
            )
            state = status.get("JobStatus")
            if state == "Complete":
                return
            if state in _FAILED_STATES:
                raise _Failed(
                    FailureReason.EXECUTION_ERROR,
                    f"Resolve render job ended {state}: {_describe(status)}",
                )
            now = time.monotonic()
            if now >= deadline:
                self.project.StopRendering()
                raise _Failed(
                    FailureReason.TIMEOUT,
                    f"Resolve render did not finish within "
                    f"{limit:g} s; stopped it (last status: {_describe(status)})",
                )
            idle_since = None if self.project.IsRenderingInProgress() else (idle_since or now)
            if idle_since is not None and now - idle_since >= STALL_GRACE_S:
                raise _Failed(
                    FailureReason.EXECUTION_ERROR,
                    f"Resolve stopped rendering but "
                    f"the job never completed (status: {_describe(status)})",
                )
            stop = self.interrupts.wait(self.engine.poll_s)
            if stop is not None:
                self.project.StopRendering()
                raise _Failed(
                    FailureReason.INTERRUPTED,
                    f"stopped: {stop}; Resolve render "
                    f"stopped at {status.get('CompletionPercentage', '?')}%",
                )

    def publish(self, exp: Expected) -> int:
        if not os.path.exists(self.rendered):
            raise _Failed(
                FailureReason.OUTPUT_MISSING,
                f"Resolve reported the render Complete but wrote no file at {self.rendered}",
            )
        os.replace(self.rendered, self.partial)  # our own hidden name: nothing else uses it
        problem = verify_output(self.partial, exp, self.plan.container)
        if problem:
            raise _Failed(FailureReason.OUTPUT_MISSING, f"verification failed: {problem}")
        try:
            return publish(self.partial, self.clip.output_path)
        except PublishError as failed:
            raise _Failed(failed.reason, failed.detail, failed.system) from failed

    def leftover(self) -> str | None:
        return next((p for p in (self.partial, self.rendered) if os.path.exists(p)), None)

    def cleanup(self) -> str:
        """Leave Resolve as it was; returns a note for anything left behind."""
        if self._cleaned:
            return ""
        self._cleaned = True
        problems: list[str] = []
        steps: list[tuple[str, Callable[[], object]]] = []
        project, pm, job_id = self.project, self.pm, self.job_id
        if project is not None and job_id:
            steps.append((f"DeleteRenderJob({job_id!r})", lambda: project.DeleteRenderJob(job_id)))
        if pm is not None and project is not None:
            steps.append(("CloseProject(project)", lambda: pm.CloseProject(project)))
            steps.append((f"DeleteProject({self.name!r})", lambda: pm.DeleteProject(self.name)))
        for call, step in steps:
            try:
                ok: object = step()
            except Exception as exc:  # same reason as in render(): Resolve may be gone
                ok = f"{type(exc).__name__}: {exc}"
            if ok is not True:
                problems.append(f"{call} returned {ok!r}")
        if not problems:
            return ""
        return (
            f" (cleanup: {'; '.join(problems)} — remove project {self.name!r} and its "
            "render job by hand in Resolve)"
        )


def source_info(facts: ProbeFacts, item: api.MediaPoolItem) -> api.ClipInfo:
    """What Resolve will render from: its own clip properties, else ffprobe's facts."""
    got, video = api.clip_info(item), facts.video
    width, height = (
        (got.width, got.height) if got.width else ((video.width, video.height) if video else (0, 0))
    )
    rate = got.rate or (Fraction(video.frame_rate) if video and video.frame_rate else None)
    for missing, prop in ((width <= 0 or height <= 0, "Resolution"), (rate is None, "FPS")):
        if missing:
            raise _Failed(
                FailureReason.EXECUTION_ERROR,
                f"neither Resolve (GetClipProperty("
                f"{prop!r}) = {got.raw[prop]!r}) nor ffprobe reports the clip's "
                f"{'frame size' if prop == 'Resolution' else 'frame rate'}",
            )
    assert rate is not None
    return api.ClipInfo(
        width,
        height,
        rate,
        got.frames if got.frames is not None else facts.frame_count(),
        got.audio_channels
        if got.audio_channels is not None
        else sum(a.channels or 0 for a in facts.audio),
        got.timecode or facts.timecode,
        got.raw,
    )


def _describe(status: dict[str, Any]) -> str:
    return json.dumps(status, sort_keys=True, default=str)
