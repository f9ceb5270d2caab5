"""A worker reads the JobSpec the supervisor claimed, never a file put in its place since.

The supervisor names the locked file's inode in `StartJob`; the worker checks
it on the file it opens. The control: the same replacement, read without the
inode (as before), yields the impostor's bytes.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from proxx.contract.errors import FailureReason
from proxx.contract.progress import ProgressRecord
from proxx.contract.protocol import StartJob
from proxx.runtime.executor import Adoption, PoolEvent
from proxx.watch.claims import Claim
from proxx.watch.clerk import Clerk
from proxx.watch.folder import Layout
from proxx.watch.intake import Intake
from proxx.watch.jobs import Jobs
from workers.prepare import read_spec


class _Capture:
    """An executor that only records what it is asked to run."""

    worker_restarts = 0

    def __init__(self) -> None:
        self.submitted: list[StartJob] = []

    def start(self) -> None: ...

    def free_slots(self) -> int:
        return 1

    def busy(self) -> int:
        return len(self.submitted)

    def submit(self, req: StartJob) -> int:
        self.submitted.append(req)
        return 0

    def cancel(
        self, job_id: str, reason: str, failure: FailureReason = FailureReason.INTERRUPTED
    ) -> None: ...

    def cancel_all(self, reason: str) -> None: ...

    def wait(self, timeout: float | None, extra: list[int] | None = None) -> list[PoolEvent]:
        return []

    def progress(self, now: float, wall: datetime) -> dict[str, ProgressRecord]:
        return {}

    def planned(self) -> dict[str, list[str]]:
        return {}

    def adopt(self, req: StartJob) -> Adoption:
        return "foreign"

    def shutdown(self) -> None: ...


def _claimed(tmp_path: Path) -> tuple[StartJob, Path]:
    layout = Layout(str(tmp_path))
    layout.ensure()
    pending = Path(layout.pending) / "a.json"
    pending.write_text('{"the": "claimed one"}')
    executor = _Capture()
    got = Intake(layout).take("a.json")
    assert isinstance(got, Claim)
    Jobs(layout, Clerk(layout), executor, "sequential").take(got)
    [req] = executor.submitted
    return req, Path(layout.running) / "a.json"


def test_the_request_names_the_claimed_file_and_the_worker_reads_it(tmp_path: Path) -> None:
    req, running = _claimed(tmp_path)
    st = running.stat()
    assert req.jobspec_path == str(running)
    assert req.jobspec_inode == f"{st.st_dev}:{st.st_ino}"
    assert read_spec(req.jobspec_path, req.jobspec_inode) == b'{"the": "claimed one"}'


def test_a_file_put_in_its_place_after_the_claim_is_not_read(tmp_path: Path) -> None:
    req, running = _claimed(tmp_path)
    impostor = tmp_path / "impostor.json"
    impostor.write_text('{"the": "impostor"}')
    os.replace(impostor, running)  # an operator "fixing" a running job

    with pytest.raises(OSError, match="another file was put in its place after it was claimed"):
        read_spec(req.jobspec_path, req.jobspec_inode)
    # Control: without the claimed inode, the impostor would have been run.
    assert read_spec(req.jobspec_path) == b'{"the": "impostor"}'
