"""A private one-node Slurm cluster for the integration tests.

`SlurmCluster.start(root)` runs `munged`, `slurmctld` and `slurmd` in the
foreground as children of this process, with every key, socket, state, spool,
pid and log file under `root`, on free TCP ports, so it never touches (or
collides with) a system Slurm. Clients reach it through `env()` (SLURM_CONF).
`stop()` cancels what is left and stops the daemons by the PIDs it holds —
never by name: other Slurm processes on the host are not ours.

Run it by hand: `python -m integration.slurm_cluster DIR` starts the cluster,
prints `export SLURM_CONF=…` and waits for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from proxx.slurm.client import SlurmClient
from proxx.slurm.states import SlurmJob

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol")
READY_TIMEOUT = 60.0


def missing_tools() -> list[str]:
    """The Slurm/munge programs not on this host (sbin included: they live there)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in DAEMONS if shutil.which(name, path=path) is None]


def _tool(name: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise FileNotFoundError(name)
    return found


def _free_ports(n: int) -> list[int]:
    """`n` distinct free ports: all bound at once, so the kernel cannot hand one out twice
    (closed between two asks, the same port can come back, and slurmd then fails to bind)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


@dataclass
class SlurmCluster:
    root: Path
    node: str
    conf: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # ---- lifecycle -------------------------------------------------------------

    @classmethod
    def start(cls, root: Path, *, cpus: int = 2) -> SlurmCluster:
        root.mkdir(parents=True, exist_ok=True)
        node = socket.gethostname().split(".")[0]
        cluster = cls(root=root, node=node, conf=root / "slurm.conf")
        try:
            cluster._start_munge()
            cluster._write_config(cpus)
            cluster._spawn("slurmctld", [_tool("slurmctld"), "-D", "-f", str(cluster.conf)])
            cluster._wait_controller()
            cluster._spawn("slurmd", [_tool("slurmd"), "-D", "-f", str(cluster.conf), "-N", node])
            cluster.wait_node_state("idle")
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            # Steps run under slurmstepd, which outlives slurmd: cancel them first
            # so no test leaves an encoder behind.
            self.run("scancel", "--full", "--state=RUNNING,PENDING", check=False)
            self.run("scancel", "--full", check=False)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.queue_ids():
                time.sleep(0.3)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def stop_controller(self) -> None:
        """slurmctld goes away (by its PID); slurmd and running steps carry on."""
        proc = self.procs.pop("slurmctld")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

    def start_controller(self) -> None:
        """Start slurmctld again; it recovers its jobs from StateSaveLocation."""
        self._spawn("slurmctld", [_tool("slurmctld"), "-D", "-f", str(self.conf)])
        self._wait_controller()

    # ---- clients ---------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["SLURM_CONF"] = str(self.conf)
        return env

    def call(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_tool(argv[0]), *argv[1:]],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> str:
        proc = self.call(*argv, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def node_state(self) -> str:
        out = self.run("sinfo", "-h", "-N", "-n", self.node, "-o", "%T", check=False)
        return out.strip().lower()

    def wait_node_state(self, wanted: str, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            self._check_alive()
            state = self.node_state()
            if state.rstrip("*~#!%$@^-") == wanted:
                return
            time.sleep(0.3)
        raise RuntimeError(f"node {self.node} is {state!r}, not {wanted!r}: {self.log_tail()}")

    def set_node(self, state: str, reason: str = "test") -> None:
        args = ["scontrol", "update", f"nodename={self.node}", f"state={state}"]
        if state.lower() in ("down", "drain"):
            args.append(f"reason={reason}")
        self.run(*args)

    def queue_ids(self) -> list[str]:
        out = self.run("squeue", "-h", "-o", "%i", check=False)
        return out.split()

    def jobs_named(self, jobspec: str) -> list[SlurmJob]:
        """Every Slurm job (any state Slurm still remembers) Proxx submitted for `jobspec`."""
        out = self.run("squeue", "-h", "-t", "all", "-o", "%i|%j", check=False)
        ids = [
            line.split("|", 1)[0]
            for line in out.splitlines()
            if line.split("|", 1)[-1].endswith(f"-{jobspec}")
        ]
        jobs = [SlurmClient(env=self.env()).show(i) for i in ids]
        return [j for j in jobs if j is not None]

    def running_job(self, jobspec: str) -> SlurmJob | None:
        jobs = [j for j in self.jobs_named(jobspec) if j.state == "RUNNING"]
        return jobs[0] if jobs else None

    def dead_conf(self, path: Path) -> Path:
        """Writes this cluster's config to `path`, but with a controller port nobody
        listens on: clients using it find the controller gone."""
        text = "\n".join(
            ln
            for ln in self.conf.read_text().splitlines()
            if not ln.startswith(("SlurmctldPort=", "MessageTimeout="))
        )
        path.write_text(text + "\nSlurmctldPort=9\nMessageTimeout=2\n")
        return path

    def log_tail(self, lines: int = 15) -> str:
        parts = []
        for name in ("slurmctld", "slurmd", "munged"):
            log = self.root / "log" / f"{name}.log"
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name}.log\n" + "\n".join(tail))
        return "\n".join(parts)

    # ---- internals -------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.out", "ab")  # noqa: SIM115 - child owns it
        try:
            self.procs[name] = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                start_new_session=True,
            )
        finally:
            log.close()

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                out = (self.root / "log" / f"{name}.out").read_text(errors="replace")
                raise RuntimeError(
                    f"{name} exited {proc.returncode}: {out[-2000:]}\n{self.log_tail()}"
                )

    def _start_munge(self) -> None:
        for sub in ("munge", "log", "state", "spool", "run"):
            (self.root / sub).mkdir(exist_ok=True)
        munge = self.root / "munge"
        munge.chmod(0o700)
        key = munge / "munge.key"
        if not key.exists():
            subprocess.run(
                [_tool("mungekey"), "-c", "-k", str(key)], check=True, capture_output=True
            )
        key.chmod(0o600)
        sock = munge / "munge.socket"
        # --force: munged refuses root-owned keys/dirs in /tmp without it; the
        # whole tree is 0700 and ours alone.
        self._spawn(
            "munged",
            [
                _tool("munged"),
                "-F",
                "--force",
                f"--socket={sock}",
                f"--key-file={key}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={self.root / 'log/munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not sock.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("munged did not create its socket")
            time.sleep(0.1)

    def _write_config(self, cpus: int) -> None:
        r = self.root
        sock = r / "munge" / "munge.socket"
        ctld_port, slurmd_port = _free_ports(2)
        (r / "gres.conf").write_text(f"NodeName={self.node} Name=resolve Count=1\n")
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=proxxtest",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    f"SlurmctldPort={ctld_port}",
                    f"SlurmdPort={slurmd_port}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"AuthInfo=socket={sock}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    "MpiDefault=none",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SwitchType=switch/none",
                    "JobRequeue=0",
                    "ReturnToService=2",
                    # Two 1-CPU jobs side by side: CPUs are the consumable, not whole nodes.
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU",
                    "SchedulerType=sched/backfill",
                    "GresTypes=resolve",
                    # Kill a job's steps quickly on cancel/timeout so the tests stay short.
                    "KillWait=5",
                    "OverTimeLimit=0",
                    "InactiveLimit=0",
                    "MinJobAge=600",
                    "SlurmdTimeout=30",
                    "MessageTimeout=10",
                    f"StateSaveLocation={r / 'state'}",
                    f"SlurmdSpoolDir={r / 'spool'}",
                    f"SlurmctldPidFile={r / 'run/slurmctld.pid'}",
                    f"SlurmdPidFile={r / 'run/slurmd.pid'}",
                    f"SlurmctldLogFile={r / 'log/slurmctld.log'}",
                    f"SlurmdLogFile={r / 'log/slurmd.log'}",
                    "JobCompType=jobcomp/filetxt",
                    f"JobCompLoc={r / 'log/jobcomp.txt'}",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} Gres=resolve:1 "
                    "State=UNKNOWN",
                    f"PartitionName=proxx Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _wait_controller(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            self._check_alive()
            if self.run("scontrol", "ping", check=False, timeout=10).find("UP") >= 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"slurmctld did not answer: {self.log_tail()}")
            time.sleep(0.3)


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    cluster = SlurmCluster.start(root)
    print(f"export SLURM_CONF={cluster.conf}", flush=True)
    # A handler, not a blocked mask: the daemons inherit the mask and must stay killable.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
