"""MnRig: one test's watch folder, sources, outputs and `proxx watch --executor slurm`
supervisors on a multi-node namespace cluster (integration/ns_cluster.py), and the
exactly-once audit every multi-node test ends with."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integration.ns_cluster import Daemon, NsCluster
from integration.processes import wait_for
from integration.watch_folder import STATES, drop, listing, prores
from integration.watch_helpers import REPO
from testkit import ANY_ROOT

DEADLINE_S = 150.0  # a test deadline only (node failure is noticed in ~15-20 s)


@dataclass
class MnRig:
    cluster: NsCluster
    root: Path  # the watch folder, on the shared filesystem
    out: Path
    src: Path
    logs: Path
    jobs: dict[str, list[Path]] = field(default_factory=dict)  # JobSpec name → its sources
    supervisors: list[Daemon] = field(default_factory=list)

    @classmethod
    def make(cls, cluster: NsCluster) -> MnRig:
        base = cluster.root
        rig = cls(cluster, base / "watch", base / "out", base / "src", base / "sup")
        for path in (rig.out, rig.src, rig.logs, *(rig.root / s for s in STATES)):
            path.mkdir(parents=True, exist_ok=True)
        return rig

    # ---- jobs -------------------------------------------------------------------

    def drop_job(self, name: str, clip: Path, clips: int = 1) -> None:
        """JobSpec NAME.json with `clips` copies of `clip` (outputs out/NAME-cI_proxy.mov)."""
        shared = self.src / f"{clip.name}"  # one copy on the shared folder, linked
        if not shared.exists():
            shutil.copyfile(clip, shared)
        sources = []
        for i in range(1, clips + 1):
            path = self.src / f"{name}-c{i}{clip.suffix}"
            if not path.exists():
                os.link(shared, path)
            sources.append(path)
        self.jobs[f"{name}.json"] = sources
        drop(self.root, f"{name}.json", prores(sources, self.out))

    def published(self, name: str) -> list[str]:
        """The proxies of job NAME at their final names, now."""
        return sorted(n for n in os.listdir(self.out) if n.startswith(f"{name}-c"))

    def running_on(self, name: str) -> str | None:
        """The node the Slurm job of JobSpec NAME.json runs on, while Slurm says RUNNING."""
        for job in self.cluster.jobs():
            if job.state == "RUNNING" and self._named(job.job_id).endswith(f"-{name}.json"):
                return job.node
        return None

    def _named(self, job_id: str) -> str:
        out = self.cluster.run("squeue", "-h", "-t", "all", "-j", job_id, "-o", "%j", check=False)
        return out.strip()

    # ---- supervisors ----------------------------------------------------------------

    def supervisor(self, host: str, *args: str) -> Daemon:
        """`proxx watch ROOT --executor slurm ARGS…` on `host`, polling quickly."""
        env = {
            **self.cluster.env(),
            "PROXX_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(REPO),
        }
        argv = [sys.executable, "-m", "proxx", "watch", str(self.root), "--executor", "slurm"]
        argv += ["--poll-seconds", "0.2", *ANY_ROOT, *args]
        log = self.logs / f"{host}.{len(self.supervisors)}.log"
        daemon = self.cluster.spawn(host, argv, log, env)
        self.supervisors.append(daemon)
        return daemon

    def kill9(self, sup: Daemon) -> None:
        """kill -9 of a supervisor (its batch jobs are not its children: they go on)."""
        os.kill(sup.pid, signal.SIGKILL)
        sup.nsenter.wait(timeout=DEADLINE_S)

    def records(self) -> list[dict[str, Any]]:
        """The Slurm records (`running/.NAME.json.slurm`) of the claims now in flight."""
        found = []
        for name in os.listdir(self.root / "running"):
            if name.endswith(".slurm"):
                with contextlib.suppress(OSError, ValueError):
                    found.append(json.loads((self.root / "running" / name).read_text()))
        return found

    def slurm_jobs_per_name(self) -> dict[str, int]:
        """How many Slurm jobs each JobSpec had (by the names Proxx gives them)."""
        out = self.cluster.run("squeue", "-h", "-t", "all", "-o", "%j", check=False)
        counts = dict.fromkeys(self.jobs, 0)
        for line in out.split():
            for name in self.jobs:
                if line.endswith(f"-{name}"):
                    counts[name] += 1
        return counts

    def step_logs(self) -> str:
        """What the batch jobs wrote to stderr (`ROOT/slurm/*.err`): a fenced step says so."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}"
            for p in sorted((self.root / "slurm").glob("*.err"))
        )

    def log(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.logs.glob("*.log"))
        )

    def stop_supervisors(self) -> None:
        """SIGTERM to every supervisor still running; each must exit 0."""
        for sup in self.supervisors:
            if sup.nsenter.poll() is None:
                os.kill(sup.pid, signal.SIGTERM)
        for sup in self.supervisors:
            if sup.nsenter.returncode is None:
                code = sup.nsenter.wait(timeout=DEADLINE_S)
                assert code == 0, f"supervisor exit {code}\n{self.log()}"

    def all_filed(self) -> bool:
        done = {n for s in ("completed", "failed") for n in os.listdir(self.root / s)}
        return all(name in done for name in self.jobs)

    def wait_all_filed(self) -> None:
        wait_for(self.all_filed, "every job filed", DEADLINE_S, 0.2, self.log)

    # ---- the audit ---------------------------------------------------------------

    def audit(self) -> dict[str, dict[str, Any]]:
        """Every job once in completed/ or failed/ with a result that matches the files
        on disk, nothing left in pending/ or running/, no proxy nobody accounts for, no
        job process left on any host. Returns the results by JobSpec name."""
        self.stop_supervisors()
        # Then: a step that lives on after its job was filed would publish meanwhile.
        wait_for(
            lambda: not self.cluster.job_procs(),
            "no job process left on any host",
            DEADLINE_S,
            0.2,
            lambda: json.dumps(self.cluster.job_procs(), indent=1),
        )
        results: dict[str, dict[str, Any]] = {}
        for name in self.jobs:
            places = [s for s in ("completed", "failed") if (self.root / s / name).exists()]
            assert len(places) == 1, f"{name} is in {places}\n{self.log()}"
            stem = name[: -len(".json")]
            results[name] = json.loads((self.root / places[0] / f"{stem}.result.json").read_text())
        left = listing(self.root)
        assert left["pending"] == [] and left["running"] == [], left
        accounted = set()
        for name, res in results.items():
            for clip in res["clips"]:
                out = Path(clip["output_path"])
                if clip["status"] == "COMPLETED":
                    accounted.add(out.name)
                    assert out.stat().st_size == clip["output_size_bytes"], (name, clip)
                    assert _sha256(out) == clip["output_sha256"], (name, clip)
                else:
                    assert not out.exists(), (
                        f"{out} is on disk, but {name} says {clip['status']}: "
                        f"{clip.get('failure_detail')}\n{self.step_logs()}"
                    )
        on_disk = {n for n in os.listdir(self.out) if not n.startswith(".")}
        assert on_disk == accounted, f"unaccounted proxies: {sorted(on_disk - accounted)}"
        return results


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def leftovers(namespaces: list[str]) -> list[str]:
    """Processes still in any of these PID namespaces (there must be none after stop)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{entry}/ns/pid") in namespaces:
                    found.append(entry)
    return found
