"""SlurmRig: one test's watch folder and `proxx watch --executor slurm` runners on the
shared private cluster (integration/slurm_cluster.py; the `rig` fixture, conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from integration.processes import wait_for
from integration.slurm_cluster import SlurmCluster
from integration.watch_folder import drop, partials, prores
from integration.watch_helpers import Launcher, Watch

DEADLINE_S = 120.0  # a test deadline only, never a claim about speed


@dataclass
class SlurmRig:
    """One test's watch folder and output folder, and the runners it starts on the
    shared cluster."""

    cluster: SlurmCluster
    launcher: Launcher
    root: Path
    out: Path

    def watch(self, *args: str, env: dict[str, str] | None = None) -> Watch:
        """`proxx watch ROOT --executor slurm ARGS…` on the cluster, polling quickly."""
        env = {"SLURM_CONF": str(self.cluster.conf), **(env or {})}
        return self.launcher.cli(
            self.root, "--executor", "slurm", "--poll-seconds", "0.2", *args, env=env
        )

    def drop_long(self, long_clip: Path, *stems: str) -> None:
        """One long ProRes job STEM.json (its proxy: out/STEM.mov) for each stem."""
        for stem in stems:
            drop(
                self.root, f"{stem}.json", prores([long_clip], self.out, output_name_template=stem)
            )

    def rendering(self, *stems: str) -> bool:
        """FFmpeg has started writing each of these jobs' proxies (the temporary names exist)."""
        names = partials(self.out)  # in the jobs' private folders
        return all(
            any(n.startswith(f".{stem}") and n.endswith(".partial") for n in names)
            for stem in stems
        )

    def wait_rendering(self, w: Watch, *stems: str) -> None:
        wait_for(lambda: self.rendering(*stems), f"{' and '.join(stems)} rendering", on_fail=w.log)

    def render_long(self, long_clip: Path, stem: str, *args: str) -> Watch:
        """A long job STEM.json, and a runner (`args`) that is rendering it on a node."""
        self.drop_long(long_clip, stem)
        w = self.watch(*args)
        self.wait_rendering(w, stem)
        return w
