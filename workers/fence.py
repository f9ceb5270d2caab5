"""Fencing a Slurm step that lost its job: it stops before it publishes.

Slurm can call a node dead while the node lives on: its slurmd crashed, or the
node lost its link to the controller while the shared storage stayed
reachable. Slurm then says NODE_FAIL, the supervisor files the job, and the
step — which no signal reaches — would go on rendering and publishing proxies
the filed result says are missing.

The step's claim is its spool: the file it created (O_EXCL) at `running/.NAME.json.spool`.
The supervisor revokes the claim by renaming the spool away the moment Slurm says the
job ended (and unlinks it when it files the result). So the step owns its job
exactly while the spool's path still names the inode its descriptor writes to,
and the claim's record still names its Proxx job id. The step asks:

- every CHECK_S seconds, from a thread: a lost claim stops FFmpeg/Resolve the
  way SIGTERM does (the clip is interrupted, its partial removed by the engine);
- right before each publication (the rename to the final name), synchronously;
- right after it, synchronously: a claim lost while renaming means the proxy
  is removed again and the clip is not reported as completed.

A proxy whose line reaches the spool after revocation is still read: the
supervisor keeps reading the renamed spool for its spool grace (3 s) before it
files the result. See docs/SLURM.md, "Node failures", for the windows.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import NamedTuple

from proxx.contract.errors import FailureReason
from proxx.contract.fsutil import move_no_replace

from .context import JobContext
from .private import PrivateDirError, fd_path, open_private
from .publish import PublishError, publish
from .verify import sha256_of

CHECK_S = 0.5  # how often the thread asks; bounds how long a fenced FFmpeg runs on


class Fence:
    """Whether this step still owns its claim: its spool file and its record."""

    def __init__(
        self, fd: int, spool: str, owns_record: Callable[[], str | None] = lambda: None
    ) -> None:
        st = os.fstat(fd)
        self.fd, self.spool, self.owns_record = fd, spool, owns_record
        self._ident = (st.st_dev, st.st_ino)
        self.lost: str | None = None

    def check(self) -> str | None:
        """Why the claim is no longer this step's, or None. Once lost, lost for good."""
        if self.lost is None:
            self.lost = self._why()
        return self.lost

    def _why(self) -> str | None:
        try:
            st = os.stat(self.spool)
        except FileNotFoundError:
            return (
                f"fenced: the supervisor revoked this step's claim (its spool {self.spool} "
                "is gone): the job was filed without it"
            )
        except OSError as exc:
            return f"fenced: cannot see this step's spool {self.spool}: {exc.strerror or exc}"
        if (st.st_dev, st.st_ino) != self._ident:
            return f"fenced: {self.spool} is another step's spool now"
        why = self.owns_record()
        return None if why is None else f"fenced: {why}"


def watch(fence: Fence, on_lost: Callable[[str], None], every: float = CHECK_S) -> threading.Event:
    """Checks `fence` every `every` seconds from a daemon thread; `on_lost` once when it
    is lost. Set the returned event to stop the thread."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            why = fence.check()
            if why is not None:
                on_lost(why)
                return

    threading.Thread(target=loop, name="proxx-fence", daemon=True).start()
    return stop


def wake_self() -> None:
    """Wake the worker's select loop as a stop request does (its SIGTERM wakeup fd)."""
    os.kill(os.getpid(), signal.SIGTERM)


def publish_fenced(
    context: JobContext,
    partial: str,
    final: str,
    sha256: str | None = None,
    *,
    dir_fd: int | None = None,
) -> int:
    """`publish`, guarded by the step's fence on both sides of the rename (a no-op
    guard outside Slurm: only a Slurm step has a fence). A claim lost during the
    rename takes the proxy back to its partial name, so nothing published
    contradicts the result the supervisor filed."""
    stop = context.before_publish()
    if stop is not None:
        raise PublishError(
            FailureReason.INTERRUPTED,
            f"stopped before publication: {stop}; the verified render is kept at the partial name",
        )
    size = publish(partial, final, sha256, dir_fd=dir_fd)
    lost = context.after_publish()
    if lost is not None:
        move_no_replace(final, partial)  # ours: published a moment ago, under our claim
        raise PublishError(
            FailureReason.INTERRUPTED,
            f"{lost}; the proxy it had just published was moved back to the partial name",
        )
    return size


class Published(NamedTuple):
    size: int
    sha256: str  # of the bytes published: the result's `output_sha256`, the record's too


def publish_hashed(
    context: JobContext, partial: str, final: str, *, dir_fd: int | None = None
) -> Published:
    """Hash the verified render, then `publish_fenced` it with that SHA-256 in its
    publication record: what every engine publishes with (the result, `proxx report
    --mhl` and recovery all take the hash from here). It is read through the private
    folder's descriptor (`dir_fd`, else the folder opened here), the same inode the
    rename then publishes from."""
    if dir_fd is None:
        try:
            dir_fd = open_private(os.path.dirname(partial), create=False)
        except PrivateDirError as exc:
            raise PublishError(FailureReason.EXECUTION_ERROR, f"not published: {exc}") from exc
        try:
            return publish_hashed(context, partial, final, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
    digest = sha256_of(fd_path(dir_fd, os.path.basename(partial)))  # the bytes to publish
    return Published(publish_fenced(context, partial, final, digest, dir_fd=dir_fd), digest)
