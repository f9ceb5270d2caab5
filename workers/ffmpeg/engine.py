"""The FFmpeg engine: render to a temporary name, verify, publish without replacing."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess

from proxx.content.jobplan import ClipPlan, JobPlan
from proxx.contract.errors import FailureReason
from proxx.contract.results import ClipResult

from ..context import JobContext
from ..engine import ClipRecord
from ..fence import publish_hashed
from ..private import PrivateDirError, fd_path, open_private
from ..publish import SYSTEM_ERRNOS, PublishError
from ..subproc import collect, describe_exit, run_in_group, start_in_group
from ..verify import check_output, fidelity
from .args import build_argv, expected_output
from .progress import ProgressReader, with_progress

log = logging.getLogger("workers.ffmpeg")
VERSION_TIMEOUT_S = 10.0  # `ffmpeg -version` takes ~0.1 s; a hung one must not hang the job
_SYSTEM_MARKERS = (
    "No space left on device",
    "Permission denied",
    "Read-only file system",
    "Disk quota exceeded",
)
# How FFmpeg ends when someone signals it: exit code 255 is its own answer to SIGINT and
# SIGTERM (fftools: `received_nb_signals ? 255 : …`); before its handlers are in place,
# or for SIGHUP, the signal kills it outright. SIGKILL is left out: the kernel's OOM
# killer sends it too, and that is an execution error, not a stop.
_STOPPED_BY_SIGNAL = {255: "its answer to SIGINT or SIGTERM"} | {
    -sig: "" for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
}


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

    def available(self, context: JobContext) -> str | None:
        if self.ffmpeg is None:
            return "ffmpeg not found on PATH: install FFmpeg (Debian: apt-get install ffmpeg)"
        if self._versions is not None:
            return None
        if self._version_check is None:
            try:
                self._version_check = start_in_group([self.ffmpeg, "-version"], capture_stdout=True)
            except OSError as exc:
                return f"cannot start `{self.ffmpeg} -version`: {exc.strerror or exc}"
        out = collect(self._version_check, context, VERSION_TIMEOUT_S)
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

    def finish_job(self, plan: JobPlan) -> None:
        """Nothing to release: each FFmpeg process ends with its clip."""

    def command_for(self, plan: JobPlan, clip: ClipPlan) -> str | None:
        return shlex.join(build_argv(plan, clip, self.ffmpeg or "ffmpeg"))

    def render(self, plan: JobPlan, clip: ClipPlan, context: JobContext) -> ClipResult:
        run = _ClipRun(self.ffmpeg, plan, clip, context)
        try:
            return run.record.result(status="COMPLETED", exit_code=0, **run.execute())
        except _Failed as failed:
            return run.record.result(status="FAILED", **failed.fields)
        finally:
            run.close()


class _Failed(Exception):
    """A clip failure, as the fields of its result (status aside)."""

    def __init__(self, reason: FailureReason, detail: str, **fields: object) -> None:
        super().__init__(detail)
        self.fields = {"failure_reason": reason, "failure_detail": detail, **fields}


class _ClipRun:
    """One clip through FFmpeg: render to the partial name, verify, publish.

    Each step raises `_Failed` with what the result must say; `record` gathers
    what every result of this clip carries, failed or not.
    """

    def __init__(
        self, ffmpeg: str | None, plan: JobPlan, clip: ClipPlan, context: JobContext
    ) -> None:
        self.ffmpeg, self.plan, self.clip, self.context = ffmpeg, plan, clip, context
        self.record = ClipRecord(FFmpegEngine.name, clip)
        self.argv = build_argv(plan, clip, ffmpeg or "ffmpeg")
        # The partial's real name, for results and the command shown (copy-pasteable);
        # FFmpeg and verification reach it through the private folder's descriptor.
        self.partial = self.argv[-1]
        self.temp = self.partial
        self.dir_fd: int | None = None
        self.record.fields["ffmpeg_command"] = shlex.join(self.argv)

    def execute(self) -> dict[str, object]:
        """The steps, in order; returns what a completed result adds."""
        self.require_ffmpeg()
        self.open_private()
        partial = self.encode()
        self.verify(partial)
        self.check_stop()
        return self.publish()

    def require_ffmpeg(self) -> None:
        if self.ffmpeg is None:
            raise _Failed(
                FailureReason.ENGINE_UNAVAILABLE,
                "ffmpeg not found on PATH: install FFmpeg (Debian: apt-get install ffmpeg)",
            )

    def open_private(self) -> None:
        """The job's private folder in the output folder (made 0700), held open."""
        try:
            self.dir_fd = open_private(os.path.dirname(self.partial))
        except PrivateDirError as exc:
            cause = exc.__cause__ or exc.__context__
            system = isinstance(cause, OSError) and cause.errno in SYSTEM_ERRNOS
            raise _Failed(FailureReason.EXECUTION_ERROR, str(exc), system_error=system) from exc
        self.temp = fd_path(self.dir_fd, os.path.basename(self.partial))
        self.argv = [*self.argv[:-1], self.temp]

    def close(self) -> None:
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    def encode(self) -> str | None:
        """Run FFmpeg; returns the partial output it left, if any."""
        assert self.dir_fd is not None
        reader = self.progress_reader()
        outcome = run_in_group(
            with_progress(self.argv),
            self.context,
            on_stdout=reader.feed,
            pass_fds=(self.dir_fd,),
        )
        stats = reader.stats()
        self.record.fields.update(render_speed=stats.render_speed, average_fps=stats.average_fps)
        partial = self.partial if os.path.exists(self.temp) else None
        code = outcome.returncode
        stop = outcome.interrupted or (self.context.settle() if code != 0 else None)
        if stop:
            # A stall names what FFmpeg said last: often why it stands still.
            last = "".join(f"; its last line: {x}" for x in outcome.stderr_tail.splitlines()[-1:])
            kept, note = self.discard(partial)
            raise _Failed(
                FailureReason.INTERRUPTED,
                f"stopped: {stop}; FFmpeg {describe_exit(code)}{last}{note}",
                exit_code=code,
                partial_output_path=kept,
            )
        if code in _STOPPED_BY_SIGNAL:
            # Signalled, and the worker was not: a person killed its pid, or a stop
            # meant for the whole job that reached only FFmpeg. The clip was stopped,
            # not failed by its media (and, like any failed clip, it ends the job).
            why = _STOPPED_BY_SIGNAL[code]
            raise _Failed(
                FailureReason.INTERRUPTED,
                f"FFmpeg was stopped by a signal the worker did not send "
                f"({describe_exit(code)}{', ' + why if why else ''})",
                exit_code=code,
                partial_output_path=partial,
            )
        if code != 0:
            raise _Failed(
                FailureReason.EXECUTION_ERROR,
                f"FFmpeg {describe_exit(code)}: {outcome.stderr_tail or '(no stderr)'}",
                exit_code=code,
                system_error=any(m in outcome.stderr_tail for m in _SYSTEM_MARKERS),
                partial_output_path=partial,
            )
        return partial

    def discard(self, partial: str | None) -> tuple[str | None, str]:
        """A cancelled (or stalled, timed-out) clip's partial goes, when the stop asked for
        it: unlinked by name in the private folder's descriptor (a link there is removed,
        never followed). The partial the result names (None once gone), and what its
        detail adds."""
        if partial is None or not self.context.discard_partial or self.dir_fd is None:
            return partial, ""
        try:
            os.unlink(os.path.basename(self.partial), dir_fd=self.dir_fd)
        except FileNotFoundError:
            return None, ""
        except OSError as exc:
            return partial, f"; its partial render could not be removed ({exc.strerror})"
        return None, "; its partial render was removed"

    def progress_reader(self) -> ProgressReader:
        """Progress as output media time over the proxy's expected duration."""
        plan, source = self.plan, self.clip.source
        exp = expected_output(plan.codec, plan.proxy_profile, plan.fps_mode, source, plan.container)
        seconds = float(exp.frames / exp.rate) if exp.frames is not None else source.duration
        return ProgressReader(self.clip.index, seconds, self.context)

    def verify(self, partial: str | None) -> None:
        plan, source = self.plan, self.clip.source
        self.context.phase("verify", source.duration)
        exp = expected_output(plan.codec, plan.proxy_profile, plan.fps_mode, source, plan.container)
        problem, proxy = check_output(self.temp, exp, plan.container)
        self.record.fields["fidelity"] = fidelity(source, proxy, exp)
        if problem:
            raise _Failed(
                FailureReason.OUTPUT_MISSING,
                f"verification failed: {problem}",
                exit_code=0,
                partial_output_path=partial,
            )

    def check_stop(self) -> None:
        stop = self.context.check()
        if stop is not None:
            # Publishing now could contradict a result already written without us
            # (recovery by another runner after our supervisor died).
            kept, note = self.discard(self.partial)
            raise _Failed(
                FailureReason.INTERRUPTED,
                f"stopped before publication: {stop}"
                + (note or "; the verified render is kept at the partial name"),
                exit_code=0,
                partial_output_path=kept,
            )

    def publish(self) -> dict[str, object]:
        self.context.phase("publish", self.clip.source.duration)
        try:
            published = publish_hashed(
                self.context, self.partial, self.clip.output_path, dir_fd=self.dir_fd
            )
        except PublishError as failed:
            raise _Failed(
                failed.reason,
                failed.detail,
                exit_code=0,
                system_error=failed.system,
                partial_output_path=self.partial,
            ) from failed
        return {"output_size_bytes": published.size, "output_sha256": published.sha256}
