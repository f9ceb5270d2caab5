"""A job that ended before any worker read its JobSpec lists every clip as not started,
under the JobSpec's real fingerprint, so `proxx remainder` takes its normal path.

The clips are listed by a short-lived worker (proxx.runtime.listing, workers/listing.py)
reading the claimed inode, never by the supervisor. Slurm is the in-memory double
(tests/slurm_double.py) with the real lister; the local pool runs a real watch folder
whose worker is killed as it takes the job. The real cluster's requeue at launch is
integration/test_slurm_nodes.py. The controls: a JobSpec the lister cannot read, one
renamed over the claim, and a lister that hangs keep today's result (no clips, the zero
fingerprint, the reason) plus a note of why the clips could not be listed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from proxx.content.spec import fingerprint
from proxx.contract.clock import utc_now
from proxx.contract.deadlines import Deadlines
from proxx.contract.results import NO_FINGERPRINT, JobResult
from proxx.runtime.listing import Listings
from proxx.runtime.verdict import result_of
from proxx.watch.folder import Layout
from proxx.watch.supervisor import Supervisor
from testkit import run_cli, spec_dict
from tests.slurm_double import FakeSlurm, make, run_until, until_cancelled

pytestmark = pytest.mark.e2e  # it starts listers (and, for the pool, workers)

REPO = Path(__file__).resolve().parent.parent
NAMES = ["A001_C001.mov", "A001_C002.mov", "B001_C001.mov"]


def _spec(root: Path) -> dict[str, Any]:
    out = root / "out"
    out.mkdir(exist_ok=True)
    return spec_dict([str(root / "camera" / n) for n in NAMES], out)


def _requeued_at_launch(tmp_path: Path, content: bytes, **kw: Any) -> JobResult:
    """A claim the Slurm double requeues at launch (no step ever ran): its result."""
    slurm = FakeSlurm()
    ex, req = make(tmp_path, slurm, lister=kw.pop("lister", Listings(Deadlines())))
    claim = Path(req.jobspec_path)
    claim.write_bytes(content)
    st = claim.stat()
    req = req.model_copy(update={"jobspec_inode": f"{st.st_dev}:{st.st_ino}"})
    ex.submit(req)
    (job_id,) = slurm.states
    slurm.set(job_id, "RUNNING")
    ex.wait(0.01)
    slurm.set(job_id, "PENDING", "launch_failed_requeued_held", restarts=1)
    until_cancelled(ex, slurm)
    if "replace_with" in kw:  # renamed over the claim after it was claimed
        other = tmp_path / "other.json"
        other.write_bytes(kw["replace_with"])
        os.rename(other, claim)
    slurm.set(job_id, "CANCELLED", restarts=1)
    outcome = run_until(ex, 30.0)
    ex.shutdown()
    return result_of(outcome, started=utc_now(), jobspec_path=str(claim), mode="sequential")


def _filed(result: JobResult, root: Path, spec: bytes) -> Path:
    """The result and its JobSpec side by side in failed/, as a runner files them."""
    failed = root / "failed"
    failed.mkdir(exist_ok=True)
    (failed / "job.json").write_bytes(spec)
    path = failed / "job.result.json"
    path.write_text(result.to_json())
    return path


def _remainder(result: Path, rest: Path) -> dict[str, Any]:
    proc = run_cli("remainder", str(result), "-o", str(rest))
    assert proc.returncode == 0, proc.stderr
    got: dict[str, Any] = json.loads(rest.read_text())
    return got


def test_a_job_slurm_requeued_at_launch_lists_every_clip_as_not_started(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    data = json.dumps(spec).encode()
    result = _requeued_at_launch(tmp_path, data)
    res = json.loads(result.to_json())
    assert res["status"] == "FAILED" and result.exit_code() == 5  # interrupted, as before
    assert "failed at launch" in res["interrupted"] and "not run" in res["interrupted"]
    assert res["jobspec_fingerprint"] == fingerprint(spec) != NO_FINGERPRINT
    assert res["jobspec_version"] == "1.0.0"
    assert (res["total_clips"], res["skipped_clips"], res["failed_clips"]) == (3, 3, 0)
    assert [c["source_path"] for c in res["clips"]] == spec["sources"]
    assert [c["output_path"] for c in res["clips"]] == [
        str(tmp_path / "out" / n.replace(".mov", "_proxy.mov")) for n in NAMES
    ]
    for clip in res["clips"]:
        assert clip["status"] == "SKIPPED" and clip["engine"] is None, clip
        assert clip["failure_detail"].startswith(
            "not started: Slurm requeued job 101 after node node7 failed at launch"
        ), clip
        assert "cancelled, not run" in clip["failure_detail"]
    # The remainder's normal path (the fingerprint matches): every clip, by its name.
    rest = _remainder(_filed(result, tmp_path, data), tmp_path / "rest.json")
    assert rest["sources"] == spec["sources"]


def test_a_jobspec_the_lister_cannot_read_keeps_todays_result_plus_a_note(
    tmp_path: Path,
) -> None:
    result = _requeued_at_launch(tmp_path, b'{"jobspec_version": "9.9.9", "sources": 3}')
    res = json.loads(result.to_json())
    assert res["clips"] == [] and res["jobspec_fingerprint"] == NO_FINGERPRINT, res
    assert res["status"] == "FAILED" and result.exit_code() == 5
    why = res["interrupted"]
    assert "failed at launch" in why and why.endswith("nothing was executed"), why
    assert "its clips could not be listed (the JobSpec cannot be read as one" in why, why


def test_the_lister_reads_the_claimed_file_not_one_renamed_over_it(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    other = {**spec, "sources": [str(tmp_path / "camera" / "STRANGER.mov")]}
    result = _requeued_at_launch(
        tmp_path, json.dumps(spec).encode(), replace_with=json.dumps(other).encode()
    )
    res = json.loads(result.to_json())
    assert res["clips"] == [] and res["jobspec_fingerprint"] == NO_FINGERPRINT, res
    assert "another file was put in its place" in res["interrupted"], res["interrupted"]


def test_a_lister_that_hangs_is_killed_at_its_deadline_and_the_job_still_filed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # tests.listing_workers
    lister = Listings(Deadlines(accept=0.5), target="tests.listing_workers:hang")
    result = _requeued_at_launch(tmp_path, json.dumps(_spec(tmp_path)).encode(), lister=lister)
    res = json.loads(result.to_json())
    assert res["clips"] == [] and res["jobspec_fingerprint"] == NO_FINGERPRINT, res
    assert (
        "its clips could not be listed (the lister: accept phase exceeded its 0.5 s limit"
        in (res["interrupted"])
    ), res["interrupted"]


def test_a_pool_worker_killed_before_it_spoke_files_its_clips_as_not_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # tests.listing_workers
    root = tmp_path / "watch"
    root.mkdir()
    spec = _spec(root)
    data = json.dumps(spec).encode()
    (root / "pending").mkdir()
    (root / "pending" / "job.json").write_bytes(data)
    Supervisor(str(root), once=True, worker_target="tests.listing_workers:die_on_job").run()
    assert sorted(os.listdir(root / "failed")) == ["job.json", "job.result.json"]
    assert os.listdir(root / "running") == []
    res = json.loads((root / "failed" / "job.result.json").read_text())
    assert res["status"] == "FAILED" and res["system_error"].startswith("worker_crashed: "), res
    assert "SIGKILL" in res["system_error"]
    assert res["jobspec_fingerprint"] == fingerprint(spec)
    assert [c["source_path"] for c in res["clips"]] == spec["sources"]
    for clip in res["clips"]:
        assert clip["status"] == "SKIPPED", clip
        assert clip["failure_detail"].startswith("not started: worker process was killed by "), clip
    rest = _remainder(root / "failed" / "job.result.json", root / "pending" / "job-rest.json")
    assert rest["sources"] == spec["sources"]


def test_proxx_cancel_of_a_pending_job_lists_its_clips_as_not_started(tmp_path: Path) -> None:
    root = tmp_path / "watch"
    root.mkdir()
    Layout(str(root)).ensure()
    spec = _spec(root)
    (root / "pending" / "job.json").write_text(json.dumps(spec))
    (root / "pending" / "bad.json").write_text('{"jobspec_version": "1.0.0", "sources": 3}')
    for name in ("job.json", "bad.json"):
        proc = run_cli("cancel", str(root), name)
        assert proc.returncode == 0 and "before it started" in proc.stderr, proc.stderr
    assert sorted(os.listdir(root / "failed")) == [
        "bad.json",
        "bad.result.json",
        "job.json",
        "job.result.json",
    ]
    res = json.loads((root / "failed" / "job.result.json").read_text())
    assert res["interrupted"] == "cancelled by proxx cancel before it started", res
    assert res["jobspec_fingerprint"] == fingerprint(spec)
    assert [(c["source_path"], c["status"]) for c in res["clips"]] == [
        (s, "SKIPPED") for s in spec["sources"]
    ]
    assert {c["failure_detail"] for c in res["clips"]} == {
        "not started: cancelled by proxx cancel before it started"
    }
    rest = _remainder(root / "failed" / "job.result.json", tmp_path / "rest.json")
    assert rest["sources"] == spec["sources"]
    bad = json.loads((root / "failed" / "bad.result.json").read_text())
    assert bad["clips"] == [] and bad["jobspec_fingerprint"] == NO_FINGERPRINT, bad
    assert bad["interrupted"].startswith(
        "cancelled by proxx cancel before it started; its clips could not be listed (the "
        "JobSpec cannot be read as one"
    ), bad["interrupted"]
