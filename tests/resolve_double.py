"""A test double of DaVinci Resolve's raw scripting API (the `fusionscript` objects).

It answers the way Resolve answers: failures are None, False, "" or [] —
never exceptions — render jobs move through Ready/Rendering to Complete,
Failed or Cancelled, and a render can hang forever. Its "renders" are real:
FFmpeg writes a small file with the codec, size, rate, frame count, audio
and timecode the engine asked for, so the engine's verification probes a
real file. Its surface is checked against `fusionscript-stubs` through the
engine's Protocols (tests/test_resolve_api_surface.py).

This module holds the API objects and a worker loop around them; what the
double offers and which failures a test injects are in tests/resolve_behaviour.py
(`Behaviour`), its FFmpeg renders in tests/resolve_render.py. Every public name
of those is importable from here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from tests.resolve_behaviour import (
    DEFAULT_CLIP,
    FAILURE_RETURNS,
    RENDER_CODECS,
    RENDER_FORMATS,
    Behaviour,
    RenderOutcome,
)
from tests.resolve_render import RenderJob, start_ffmpeg, timeline_rate
from workers.resolve import api

__all__ = [
    "DEFAULT_CLIP",
    "FAILURE_RETURNS",
    "RENDER_CODECS",
    "RENDER_FORMATS",
    "Behaviour",
    "FakeMediaPool",
    "FakeMediaPoolItem",
    "FakeProject",
    "FakeProjectManager",
    "FakeResolve",
    "FakeTimeline",
    "RenderOutcome",
    "run_engine",
    "timeline_rate",
]


class FakeMediaPoolItem:
    def __init__(self, path: str, props: dict[str, str]) -> None:
        self.path, self.props = path, props

    def GetName(self) -> str:
        return os.path.basename(self.path)

    def GetClipProperty(self, propertyName: str) -> str | dict[str, Any] | None:
        return self.props.get(propertyName, "")


class FakeTimeline:
    def __init__(self, name: str, items: list[FakeMediaPoolItem], b: Behaviour) -> None:
        self.name, self.items, self.b = name, items, b
        self.start_tc = "01:00:00:00"  # Resolve's default timeline start

    def SetStartTimecode(self, timecode: str) -> bool:
        if "SetStartTimecode" in self.b.fail:
            return False
        self.start_tc = timecode
        return True


class FakeMediaPool:
    def __init__(self, b: Behaviour) -> None:
        self.b = b
        self.imported: list[api.MediaSpec] = []

    def ImportMedia(self, items: list[api.MediaSpec]) -> list[api.MediaPoolItem] | None:
        self.imported = list(items)
        if "ImportMedia" in self.b.fail:
            return []
        paths = [
            i if isinstance(i, str) else str(i["FilePath"]) % int(i["StartIndex"]) for i in items
        ]
        if not all(os.path.isfile(p) for p in paths):
            return []  # Resolve answers an empty list for media it cannot find
        return [FakeMediaPoolItem(p, dict(self.b.clip)) for p in paths]

    def CreateTimelineFromClips(
        self, name: str, clips: list[api.MediaPoolItem]
    ) -> api.Timeline | None:
        ours = [c for c in clips if isinstance(c, FakeMediaPoolItem)]
        if "CreateTimelineFromClips" in self.b.fail or not ours or len(ours) != len(clips):
            return None
        return FakeTimeline(name, ours, self.b)


class FakeProject:
    def __init__(self, name: str, b: Behaviour) -> None:
        self.name, self.b = name, b
        self.pool = FakeMediaPool(b)
        self.settings: dict[str, str] = {"timelineFrameRate": "24"}
        self.render_settings: dict[str, Any] = {}
        self.timeline: FakeTimeline | None = None
        self.format_codec: tuple[str, str] | None = None
        self.mode = 0
        self.jobs: dict[str, RenderJob] = {}
        self.interactive: list[bool] = []
        self._empty_left = b.add_job_empty_times

    def _fails(self, call: str) -> bool:
        return call in self.b.fail

    def GetMediaPool(self) -> api.MediaPool | None:
        return None if self._fails("GetMediaPool") else self.pool

    def SetSetting(self, settingName: str, settingValue: str) -> bool:
        if self._fails("SetSetting") or (settingName == "timelineFrameRate" and self.timeline):
            return False  # the rate locks once a timeline exists
        self.settings[settingName] = settingValue
        return True

    def SetCurrentTimeline(self, timeline: api.Timeline) -> bool:
        if self._fails("SetCurrentTimeline") or not isinstance(timeline, FakeTimeline):
            return False
        self.timeline = timeline
        return True

    def GetRenderFormats(self) -> dict[str, str] | None:
        return {} if self._fails("GetRenderFormats") else dict(RENDER_FORMATS)

    def GetRenderCodecs(self, renderFormat: str) -> dict[str, str] | None:
        return {} if self._fails("GetRenderCodecs") else dict(self.b.codecs.get(renderFormat, {}))

    def SetCurrentRenderFormatAndCodec(self, format: str, codec: str) -> bool:
        if self._fails("SetCurrentRenderFormatAndCodec"):
            return False
        if codec not in self.b.codecs.get(format, {}).values():
            return False
        self.format_codec = (format, codec)
        return True

    def SetCurrentRenderMode(self, renderMode: int) -> bool:
        if self._fails("SetCurrentRenderMode") or renderMode not in (0, 1):
            return False
        self.mode = renderMode
        return True

    def SetRenderSettings(self, settings: Mapping[str, Any]) -> bool:
        if self._fails("SetRenderSettings") or not os.path.isdir(settings.get("TargetDir", "")):
            return False
        self.render_settings.update(settings)
        return True

    def AddRenderJob(self) -> str | None:
        if self._empty_left > 0:
            self._empty_left -= 1
            return ""
        if self._fails("AddRenderJob") or self.timeline is None or self.format_codec is None:
            return ""
        job_id = f"{len(self.jobs) + 1:08x}-fake"
        fmt, codec = self.format_codec
        self.jobs[job_id] = RenderJob(
            dict(self.render_settings),
            fmt,
            codec,
            self.timeline,
            self.settings["timelineFrameRate"],
        )
        return job_id

    def StartRendering(self, jobIds: list[str], isInteractiveMode: bool = False) -> bool:
        self.interactive.append(isInteractiveMode)
        if self._fails("StartRendering") or not all(j in self.jobs for j in jobIds):
            return False
        for job_id in jobIds:
            job = self.jobs[job_id]
            job.state, job.started = "Rendering", time.monotonic()
            if self.b.render in ("complete", "wrong_size"):
                job.proc = start_ffmpeg(job, self.b)
        return True

    def IsRenderingInProgress(self) -> bool:
        return any(self._state(j) == "Rendering" for j in self.jobs.values())

    def GetRenderJobStatus(self, jobId: str) -> dict[str, Any] | None:
        job = self.jobs.get(jobId)
        if job is None or self._fails("GetRenderJobStatus"):
            return None
        state = self._state(job)
        status: dict[str, Any] = {
            "JobStatus": state,
            "CompletionPercentage": 100 if state == "Complete" else self._percent(job),
        }
        if job.error:
            status["Error"] = job.error
        return status

    def StopRendering(self) -> None:
        for job in self.jobs.values():
            if self._state(job) == "Rendering":
                if job.proc is not None:
                    job.proc.kill()
                    job.proc.wait()
                job.state = "Cancelled"

    def DeleteRenderJob(self, jobId: str) -> bool:
        if self._fails("DeleteRenderJob") or jobId not in self.jobs:
            return False
        if self._state(self.jobs[jobId]) == "Rendering":
            return False  # Resolve refuses to delete a job that is rendering
        del self.jobs[jobId]
        return True

    def _percent(self, job: RenderJob) -> int:
        """Like Resolve: the share of the render's time gone by (a render that never
        ends stands at 12 %)."""
        if self.b.render == "never" or job.started is None or self.b.render_seconds <= 0:
            return 12
        return min(99, int(100 * (time.monotonic() - job.started) / self.b.render_seconds))

    def _state(self, job: RenderJob) -> str:
        if job.state != "Rendering" or job.started is None:
            return job.state
        if time.monotonic() - job.started < self.b.render_seconds or self.b.render == "never":
            return "Rendering"
        if self.b.render == "failed":
            job.state, job.error = "Failed", "Render failed: could not decode frame 3 of the clip"
        elif self.b.render == "no_file":
            job.state = "Complete"
        elif job.proc is not None and job.proc.poll() is not None:
            err = (job.proc.stderr.read() if job.proc.stderr else b"").decode(errors="replace")
            job.state = "Complete" if job.proc.returncode == 0 else "Failed"
            job.error = None if job.proc.returncode == 0 else err.strip()[-300:]
        return job.state


class FakeProjectManager:
    def __init__(self, b: Behaviour) -> None:
        self.b = b
        self.projects: dict[str, FakeProject] = {}
        self.open: FakeProject | None = None

    def CreateProject(self, projectName: str) -> api.Project | None:
        if "CreateProject" in self.b.fail or projectName in self.projects:
            return None
        _log_session(self.b, "open")
        self.projects[projectName] = self.open = FakeProject(projectName, self.b)
        return self.open

    def CloseProject(self, project: api.Project) -> bool:
        if "CloseProject" in self.b.fail or project is not self.open:
            return False
        self.open = None
        return True

    def DeleteProject(self, projectName: str) -> bool:
        project = self.projects.get(projectName)
        if "DeleteProject" in self.b.fail or project is None or project is self.open:
            return False  # Resolve cannot delete the project that is open
        del self.projects[projectName]
        _log_session(self.b, "close")
        return True


class FakeResolve:
    def __init__(self, b: Behaviour | None = None) -> None:
        self.b = b or Behaviour()
        self.pm = FakeProjectManager(self.b)

    def GetProjectManager(self) -> api.ProjectManager | None:
        return None if "GetProjectManager" in self.b.fail else self.pm

    def GetProductName(self) -> str | None:
        return self.b.product

    def GetVersionString(self) -> str | None:
        return self.b.version

    def connect(self) -> FakeResolve:
        """The engine's `connect`: what `fusionscript.scriptapp("Resolve")` returns."""
        return self


def _log_session(b: Behaviour, event: str) -> None:
    if b.session_log is not None:
        with open(b.session_log, "a") as fh:
            fh.write(f"{event} {os.getpid()} {time.time():.6f}\n")


def run_engine(conn: Connection, plan_json: str, b: Behaviour, lock_path: str) -> None:
    """A worker's job loop around a ResolveEngine driving this double (a process target)."""
    from proxx.content.jobplan import JobPlan
    from proxx.contract.protocol import ClipFinished, encode
    from workers.context import JobContext
    from workers.resolve.engine import ResolveEngine
    from workers.resolve.lock import ResolveLock

    context = JobContext(conn)
    engine = ResolveEngine(FakeResolve(b).connect, lock=ResolveLock(lock_path), poll_s=0.05)
    plan = JobPlan.model_validate_json(plan_json)
    context.job_id = plan.job_id
    context.emit = lambda msg: conn.send_bytes(encode(msg))
    for clip in plan.clips:
        result = engine.render(plan, clip, context)
        conn.send_bytes(encode(ClipFinished(job_id=plan.job_id, clip=result)))
        if result.status != "COMPLETED":
            break
