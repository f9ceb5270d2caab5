"""The FFmpeg engine: render to a temporary name, verify, publish without replacing."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import subprocess
import time

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.contract.clock import iso, utc_now
from proxx.contract.errors import FailureReason
from proxx.contract.naming import partial_path
from proxx.contract.results import ClipResult
from workers.ffmpeg_args import build_argv, expected_output
from workers.interrupts import Interrupts
from workers.publish import PublishError, publish
from workers.subproc import collect, describe_exit, run_in_group, start_in_group
from workers.verify import check_output, fidelity, sha256_of

log = logging.getLogger("workers.ffmpeg")
VERSION_TIMEOUT_S = 10.0  # `ffmpeg -version` takes ~0.1 s; a hung one must not hang the job
_SYSTEM_MARKERS = (
    "No space left on device",
    "Permission denied",
    "Read-only file system",
    "Disk quota exceeded",
)


class FFmpegEngine:
    name = "ffmpeg"

    def __init__(self) -> None:
        self.ffmpeg = shutil.which("ffmpeg")
        self._versions: dict[str, str] | None = None
        self._version_check: subprocess.Popen[bytes] | None = None

    def versions(self) -> dict[str, str]:
        return dict(self._versions or {})

    def warm_up(self) -> None:
        """Start `ffmpeg -version` while the worker is idle; `available()` collects it."""
        if self.ffmpeg is not None and self._version_check is None and self._versions is None:
            # An ffmpeg that cannot even start (a broken shebang): `available()` says why.
            with contextlib.suppress(OSError):
                self._version_check = start_in_group([self.ffmpeg, "-version"], capture_stdout=True)

    def available(self, interrupts: Interrupts) -> str | None:
        if self.ffmpeg is None:
            return "ffmpeg not found on PATH: install FFmpeg (Debian: apt-get install ffmpeg)"
        if self._versions is not None:
            return None
        if self._version_check is None:
            try:
                self._version_check = start_in_group([self.ffmpeg, "-version"], capture_stdout=True)
            except OSError as exc:
                return f"cannot start `{self.ffmpeg} -version`: {exc.strerror or exc}"
        out = collect(self._version_check, interrupts, VERSION_TIMEOUT_S)
        self._version_check = None
        if out.interrupted:
            return f"`{self.ffmpeg} -version` did not finish: {out.interrupted}"
        if out.returncode != 0:
            return (
                f"`{self.ffmpeg} -version` failed ({describe_exit(out.returncode)}): "
                f"{out.stderr_tail or '(no output)'}"
            )
        try:
            text = out.stdout.decode("utf-8")
        except UnicodeDecodeError:
            text = out.stdout.decode("utf-8", "replace")
            log.warning(
                "`%s -version` printed bytes that are not UTF-8; shown replaced", self.ffmpeg
            )
        first = text.splitlines()[0] if text.strip() else "unknown"
        self._versions = {"ffmpeg": first.removeprefix("ffmpeg version ").split(" Copyright")[0]}
        return None

    def _argv(self, plan: JobPlan, clip: ClipPlan) -> list[str]:
        return build_argv(
            self.ffmpeg or "ffmpeg",
            clip.source_path,
            partial_path(clip.output_path, plan.job_id),
            plan.container,
            plan.proxy_profile,
            plan.fps_mode,
            plan.codec,
            clip.source,
        )

    def finish_job(self, plan: JobPlan) -> None:
        """Nothing to release: each FFmpeg process ends with its clip."""

    def command_for(self, plan: JobPlan, clip: ClipPlan) -> str | None:
        return shlex.join(self._argv(plan, clip))

    def render(self, plan: JobPlan, clip: ClipPlan, interrupts: Interrupts) -> ClipResult:
        started = utc_now()
        t0 = time.monotonic()
        argv = self._argv(plan, clip)
        base: dict[str, object] = {
            "source_path": clip.source_path,
            "output_path": clip.output_path,
            "engine": self.name,
            "started_at": iso(started),
            "ffmpeg_command": shlex.join(argv),
        }

        def finish(**fields: object) -> ClipResult:
            return ClipResult.model_validate(
                {
                    **base,
                    "ended_at": iso(utc_now()),
                    "duration_seconds": round(time.monotonic() - t0, 3),
                    **fields,
                }
            )

        if self.ffmpeg is None:
            return finish(
                status="FAILED",
                failure_reason=FailureReason.ENGINE_UNAVAILABLE,
                failure_detail="ffmpeg not found on PATH: install FFmpeg "
                "(Debian: apt-get install ffmpeg)",
            )
        temp = argv[-1]
        outcome = run_in_group(argv, interrupts)
        partial = temp if os.path.exists(temp) else None
        if outcome.interrupted:
            return finish(
                status="FAILED",
                exit_code=outcome.returncode,
                failure_reason=FailureReason.INTERRUPTED,
                failure_detail=f"stopped: {outcome.interrupted}; FFmpeg "
                f"{describe_exit(outcome.returncode)}",
                partial_output_path=partial,
            )
        if outcome.returncode != 0:
            system = any(m in outcome.stderr_tail for m in _SYSTEM_MARKERS)
            return finish(
                status="FAILED",
                exit_code=outcome.returncode,
                failure_reason=FailureReason.EXECUTION_ERROR,
                system_error=system,
                failure_detail=f"FFmpeg {describe_exit(outcome.returncode)}: "
                f"{outcome.stderr_tail or '(no stderr)'}",
                partial_output_path=partial,
            )
        interrupts.phase("verify", clip.source.duration)
        exp = expected_output(
            plan.codec, plan.proxy_profile, plan.fps_mode, clip.source, plan.container
        )
        problem, proxy = check_output(temp, exp, plan.container)
        base["fidelity"] = fidelity(clip.source, proxy, exp)
        if problem:
            return finish(
                status="FAILED",
                exit_code=0,
                failure_reason=FailureReason.OUTPUT_MISSING,
                failure_detail=f"verification failed: {problem}",
                partial_output_path=partial,
            )
        stop = interrupts.check()
        if stop is not None:
            # Publishing now could contradict a result already written without us
            # (recovery by another runner after our supervisor died).
            return finish(
                status="FAILED",
                exit_code=0,
                failure_reason=FailureReason.INTERRUPTED,
                failure_detail=f"stopped before publication: {stop}; the verified "
                "render is kept at the partial name",
                partial_output_path=temp,
            )
        digest = sha256_of(temp)  # of the bytes about to be published
        try:
            size = publish(temp, clip.output_path)
        except PublishError as failed:
            return finish(
                status="FAILED",
                exit_code=0,
                failure_reason=failed.reason,
                system_error=failed.system,
                failure_detail=failed.detail,
                partial_output_path=temp,
            )
        return finish(status="COMPLETED", exit_code=0, output_size_bytes=size, output_sha256=digest)
