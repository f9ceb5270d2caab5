"""Resolve engine test jobs: plans of RAW stand-in clips, rendering them (also under a
CancelJob), and what a render leaves in its output folder."""

from __future__ import annotations

import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.content.routing import route_source
from proxx.contract.protocol import CancelJob, encode
from proxx.contract.results import ClipResult
from testkit import redcode
from workers.context import JobContext
from workers.resolve.engine import ResolveEngine


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


def red_plan(tmp_path: Path) -> JobPlan:
    """A one-clip job of a RED clip (a stand-in file), rendering into tmp_path/out."""
    return plan_for([redcode(tmp_path / "A001_C001.R3D")], tmp_path / "out")


def render_red(
    engine: ResolveEngine, tmp_path: Path, context: JobContext
) -> tuple[JobPlan, ClipResult]:
    """Render `red_plan`'s clip: the plan (for its paths) and the result."""
    plan = red_plan(tmp_path)
    return plan, engine.render(plan, plan.clips[0], context)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def render_cancelled(
    engine: ResolveEngine,
    stop_pipe: tuple[JobContext, Connection],
    tmp_path: Path,
    *,
    after_s: float,
    reason: str,
) -> tuple[ClipResult, float]:
    """Render one RED clip while a CancelJob(`reason`) arrives `after_s` in; the result
    and the seconds the render took."""
    context, parent = stop_pipe
    plan = red_plan(tmp_path)
    cancel = encode(CancelJob(job_id="job1", reason=reason))
    timer = threading.Timer(after_s, lambda: parent.send_bytes(cancel))
    timer.start()
    t0 = time.monotonic()
    result = engine.render(plan, plan.clips[0], context)
    timer.join()
    return result, time.monotonic() - t0
