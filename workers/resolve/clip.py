"""One clip's conversation with DaVinci Resolve, and the cleanup it owes afterwards.

The steps of `ClipRun.execute` are the calls Resolve needs, in order: a
throw-away project, the imported clip on a timeline of the proxy's size and
rate, a single-clip render to the hidden partial name, then verification and
publication. Resolve's API reports failure by returning None, False, "" or []
rather than raising, so every return goes through `need`, which turns a
falsy one into a `Failed` naming the call and what it means.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.contract.errors import FailureReason
from proxx.contract.naming import partial_path
from proxx.contract.results import Fidelity, MediaFacts

from ..context import JobContext
from ..expect import Expected
from ..fence import Published, publish_hashed
from ..private import PrivateDirError, open_private
from ..publish import PublishError
from ..verify import check_output, fidelity
from . import api
from .facts import Failed, expected_proxy, source_facts, source_info

T = TypeVar("T")

STALL_GRACE_S = 15.0
RENDER_MODE_SINGLE_CLIP = 1
_FAILED_STATES = ("Failed", "Cancelled")


class Session(Protocol):
    """What a clip run needs from its engine (the ResolveEngine), named here so this
    module does not import the engine that imports it."""

    accept_timeout_s: float
    poll_s: float
    render_timeout: Callable[[float | None], float]

    def connect_app(self, context: JobContext) -> api.Resolve: ...


class ClipRun:
    """One clip's conversation with Resolve, and the cleanup it owes afterwards."""

    def __init__(self, engine: Session, plan: JobPlan, clip: ClipPlan, context: JobContext) -> None:
        self.engine, self.plan, self.clip, self.context = engine, plan, clip, context
        self.partial = partial_path(clip.output_path, plan.job_id)
        # Resolve appends the format's extension to CustomName.
        self.rendered = f"{self.partial}.{plan.container}"
        self.name = f"proxx-{plan.job_id}-{clip.index + 1:03d}"
        self.last_step = "none"
        self.pm: api.ProjectManager | None = None
        self.project: api.Project | None = None
        self.job_id: str | None = None
        # Source vs proxy, once the render is verified (kept on a failed verification too).
        self.fidelity: Fidelity | None = None
        self.source: MediaFacts | None = None
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
            raise Failed(
                reason,
                f"{call} returned {value!r}: {meaning}",
                system=reason is FailureReason.ENGINE_UNAVAILABLE,
            )
        self.last_step = call
        return value

    def check_stop(self, while_doing: str) -> None:
        stop = self.context.check()
        if stop is not None:
            raise Failed(FailureReason.INTERRUPTED, f"stopped {while_doing}: {stop}")

    def execute(self) -> Published:
        app = self.engine.connect_app(self.context)
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
        src = source_info(self.clip.source, items[0])
        self.source = source_facts(self.clip.source, src)
        exp = expected_proxy(self.plan, src)
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
        label, fmt = self.pick_format()
        codec = self.pick_codec(label, fmt)
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

    def pick_format(self) -> tuple[str, str]:
        """The (label, extension) of this Resolve's one render format for the container."""
        assert self.project is not None
        formats = self.need(
            self.project.GetRenderFormats(),
            "GetRenderFormats()",
            "Resolve lists no render formats",
            FailureReason.ENGINE_UNAVAILABLE,
        )
        picked = api.pick_render_format(formats, self.plan.container)
        return _only(picked, f"render format for .{self.plan.container} files", formats)

    def pick_codec(self, label: str, fmt: str) -> str:
        """This Resolve's one codec name for the plan's codec in that format."""
        assert self.project is not None
        # Which key Resolve takes here is unconfirmed per version (docs/ROUTING.md): the
        # format name first, then its label.
        codecs = self.project.GetRenderCodecs(fmt) or self.project.GetRenderCodecs(label)
        codecs = self.need(
            codecs,
            f"GetRenderCodecs({fmt!r})",
            f"Resolve lists no codecs for {label}",
            FailureReason.ENGINE_UNAVAILABLE,
        )
        picked = api.pick_codec(codecs, self.plan.codec)
        return _only(picked, f"codec matching {self.plan.codec} for {label}", codecs)

    def set_render_settings(self, exp: Expected) -> None:
        assert self.project is not None
        try:  # Resolve renders by name into the job's private folder (made 0700 here)
            os.close(open_private(os.path.dirname(self.partial)))
        except PrivateDirError as exc:
            raise Failed(FailureReason.EXECUTION_ERROR, str(exc)) from exc
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
            self.context.wait(self.engine.poll_s)
        return self.need(
            job_id,
            "AddRenderJob()",
            f"Resolve did not accept the render job within {self.engine.accept_timeout_s:g} s",
        )

    def wait_for_render(self, exp: Expected) -> None:
        """Poll until Complete; a failed, stalled, overdue or stopped render fails the clip."""
        duration = None if exp.frames is None else float(exp.frames / exp.rate)
        limit = self.engine.render_timeout(duration)
        deadline = time.monotonic() + limit
        idle_since: float | None = None
        while (status := self.render_status()) is not None:
            now = time.monotonic()
            if now >= deadline:
                self.stop_render(
                    FailureReason.TIMEOUT,
                    f"Resolve render did not finish within "
                    f"{limit:g} s; stopped it (last status: {_describe(status)})",
                )
            idle_since = self.idle_since(idle_since, now, status)
            self.report_progress(status, duration)
            stop = self.context.wait(self.engine.poll_s)
            if stop is not None:
                self.stop_render(
                    FailureReason.INTERRUPTED,
                    f"stopped: {stop}; Resolve render "
                    f"stopped at {status.get('CompletionPercentage', '?')}%",
                )

    def report_progress(self, status: dict[str, Any], duration: float | None) -> None:
        """The render job's completion percentage, as the clip's progress."""
        pct = status.get("CompletionPercentage")
        if isinstance(pct, int | float) and not isinstance(pct, bool) and 0 <= pct <= 100:
            media = None if duration is None else duration * pct / 100
            self.context.progress(self.clip.index, pct / 100, media)

    def render_status(self) -> dict[str, Any] | None:
        """The render job's status while it runs; None once it is Complete."""
        assert self.project is not None and self.job_id is not None
        status = self.need(
            self.project.GetRenderJobStatus(self.job_id),
            f"GetRenderJobStatus({self.job_id!r})",
            "Resolve no longer knows the render job",
        )
        state = status.get("JobStatus")
        if state == "Complete":
            return None
        if state in _FAILED_STATES:
            raise Failed(
                FailureReason.EXECUTION_ERROR,
                f"Resolve render job ended {state}: {_describe(status)}",
            )
        return status

    def idle_since(self, since: float | None, now: float, status: dict[str, Any]) -> float | None:
        """Since when Resolve has not been rendering (None: it is); too long fails the clip."""
        assert self.project is not None
        since = None if self.project.IsRenderingInProgress() else (since or now)
        if since is not None and now - since >= STALL_GRACE_S:
            raise Failed(
                FailureReason.EXECUTION_ERROR,
                f"Resolve stopped rendering but "
                f"the job never completed (status: {_describe(status)})",
            )
        return since

    def stop_render(self, reason: FailureReason, detail: str) -> None:
        assert self.project is not None
        self.project.StopRendering()
        raise Failed(reason, detail)

    def publish(self, exp: Expected) -> Published:
        if not os.path.exists(self.rendered):
            raise Failed(
                FailureReason.OUTPUT_MISSING,
                f"Resolve reported the render Complete but wrote no file at {self.rendered}",
            )
        os.replace(self.rendered, self.partial)  # our own hidden name: nothing else uses it
        problem, proxy = check_output(self.partial, exp, self.plan.container)
        assert self.source is not None  # set in execute() before the render
        self.fidelity = fidelity(self.source, proxy, exp)
        if problem:
            raise Failed(FailureReason.OUTPUT_MISSING, f"verification failed: {problem}")
        self.context.phase("publish", self.clip.source.duration)
        try:
            return publish_hashed(self.context, self.partial, self.clip.output_path)
        except PublishError as failed:
            raise Failed(failed.reason, failed.detail, failed.system) from failed

    def leftover(self) -> str | None:
        return next((p for p in (self.partial, self.rendered) if os.path.exists(p)), None)

    def cleanup(self) -> str:
        """Leave Resolve as it was; returns a note for anything left behind."""
        if self._cleaned:
            return ""
        self._cleaned = True
        with contextlib.suppress(OSError):  # the private folder, when nothing is left in it
            os.rmdir(os.path.dirname(self.partial))
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


def _only(picked: T | None, what: str, offered: list[Any] | dict[Any, Any]) -> T:
    """The one match Resolve offers; none (or several) means this Resolve cannot render it."""
    if picked is None:
        raise Failed(
            FailureReason.ENGINE_UNAVAILABLE,
            f"this Resolve offers no single {what}; it offers {json.dumps(offered)}",
            True,
        )
    return picked


def _describe(status: dict[str, Any]) -> str:
    return json.dumps(status, sort_keys=True, default=str)
