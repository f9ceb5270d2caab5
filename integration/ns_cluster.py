"""A multi-node Slurm cluster on this one machine, each host in its own namespaces.

Every host (heads `head1`, `head2`; compute nodes `node1`…) is a set of network, UTS,
IPC, mount and PID namespaces whose PID 1 is `integration/ns_init.py`: its own
hostname, `/tmp` (munge socket, slurmd spool), `/etc/hosts` and munged (one key for
the cluster). Hosts talk over veths on a bridge that lives in a "switch" network
namespace, on 10.77.0.0/24, which exists only in there: two clusters side by side
(one per xdist worker) never meet, and Slurm's default ports need no juggling. The
rest of the filesystem is shared by every host: the NFS stand-in. So the shared
folder (watch folder, sources, outputs, slurm.conf, StateSaveLocation, logs) must
not be under `/tmp`, which every host hides behind its own.

Everything is started and stopped by PID, never by name: daemons run as
`nsenter --target INIT … -- DAEMON -D` children of this process (the daemon is the
nsenter's only child); `stop()` SIGKILLs each host's PID 1 (which takes every process
of the host with it, jobs included) and the switch, and their namespaces, veths,
bridge and mounts go with the last process in them.

What the tests do to a node: `power_off` (SIGKILL of its PID 1: slurmd, steps,
FFmpeg, munged at once), `kill_slurmd` (slurmd only; the steps live on), `cut`
(its link down: Slurm loses it, the shared storage does not).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from integration.ns_slurm_conf import write_config
from integration.slurm_cluster import _tool, missing_tools
from proxx.slurm.states import SlurmJob, parse_scontrol

SUBNET = "10.77.0"
READY_TIMEOUT = 60.0
INIT = Path(__file__).with_name("ns_init.py")
NS_FLAGS = ["--net", "--uts", "--ipc", "--mount", "--pid"]
PR_SET_PDEATHSIG = 1


@dataclass
class Daemon:
    nsenter: subprocess.Popen[bytes]
    pid: int  # the daemon itself: the nsenter's only child


@dataclass
class Host:
    name: str
    addr: str
    unshare: subprocess.Popen[bytes]
    init: int  # PID 1 of the host, as this process sees it
    daemons: dict[str, Daemon] = field(default_factory=dict)
    powered: bool = True


def unavailable() -> str | None:
    """Why the namespace cluster cannot be made here, or None."""
    missing = missing_tools() + [t for t in ("unshare", "nsenter", "ip") if not _which(t)]
    if missing:
        return f"missing tools: {', '.join(missing)} (`./dev test` installs slurm-wlm and munge)"
    if os.geteuid() != 0:
        return "the namespace cluster needs root (namespaces, mounts, slurmd)"
    probe = subprocess.run(
        [
            "unshare",
            *NS_FLAGS,
            "--fork",
            "--mount-proc",
            "--",
            "ip",
            "link",
            "add",
            "p0",
            "type",
            "veth",
            "peer",
            "name",
            "p1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot make namespaces and veths here: {probe.stderr.strip()}"
    return None


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))


def _only_child(pid: int, timeout: float = READY_TIMEOUT) -> int:
    deadline = time.monotonic() + timeout
    path = f"/proc/{pid}/task/{pid}/children"
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            kids = Path(path).read_text().split()
            if kids:
                return int(kids[0])
        time.sleep(0.02)
    raise RuntimeError(f"process {pid} started no child")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the test process dies, however it dies
    (with --kill-child, unshare passes it on to the host's PID 1, and so to every
    process of the host): a killed pytest leaves no cluster behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")


def _net_ns(proc: subprocess.Popen[bytes] | None) -> str | None:
    try:
        return None if proc is None else os.readlink(f"/proc/{proc.pid}/ns/net")
    except OSError:
        return None


def pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


@dataclass
class NsCluster:
    root: Path  # shared by every host
    nodes: list[str]
    heads: list[str]
    switch: subprocess.Popen[bytes] | None = None
    hosts: dict[str, Host] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    # ---- lifecycle -------------------------------------------------------------

    @classmethod
    def start(cls, root: Path, *, nodes: int = 3, heads: int = 2) -> NsCluster:
        if str(root.resolve()).startswith("/tmp/"):
            raise ValueError(f"{root}: every host hides /tmp behind its own; share another folder")
        cluster = cls(
            root,
            [f"node{i}" for i in range(1, nodes + 1)],
            [f"head{i}" for i in range(1, heads + 1)],
        )
        try:
            cluster._boot()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _boot(self) -> None:
        for sub in ("log", "state", "ready"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [_tool("mungekey"), "-c", "-k", str(self.root / "munge.key")],
            check=True,
            capture_output=True,
        )
        (self.root / "munge.key").chmod(0o600)
        addrs = self._addresses()
        (self.root / "hosts").write_text(
            "127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in addrs.items())
        )
        write_config(self.root, self.heads, self.nodes, addrs)
        self.switch = subprocess.Popen(
            ["unshare", "--net", "--", "sleep", "infinity"],
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        # Not before unshare(2) has run: a bridge made earlier would land in our own netns.
        mine = os.readlink("/proc/self/ns/net")
        self._wait(lambda: _net_ns(self.switch) not in (None, mine), "the switch namespace")
        self._ip(self.switch.pid, "link add br0 type bridge", "link set br0 up")
        for name in addrs:
            self.boot(name)
        self._spawn_slurm(self.heads[0], "slurmctld")
        self.wait_controller()
        for node in self.nodes:
            self._spawn_slurm(node, "slurmd")
        self.wait_nodes("idle")

    def _addresses(self) -> dict[str, str]:
        heads = {h: f"{SUBNET}.{i}" for i, h in enumerate(self.heads, start=1)}
        return heads | {n: f"{SUBNET}.{10 + i}" for i, n in enumerate(self.nodes, start=1)}

    def boot(self, name: str) -> Host:
        """Start host `name` (again, after a power-off): its namespaces, link and munged."""
        addr = self._addresses()[name]
        ready = self.root / "ready" / f"{name}.{time.monotonic_ns()}"
        unshare = subprocess.Popen(  # its stderr: a complaint each time its host dies
            [
                "unshare",
                *NS_FLAGS,
                "--fork",
                "--kill-child=SIGKILL",
                "--mount-proc",
                "--",
                sys.executable,
                "-P",
                str(INIT),
                name,
                str(self.root / "hosts"),
                str(ready),
            ],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        host = Host(name, addr, unshare, _only_child(unshare.pid))
        self.hosts[name] = host
        self._wait(ready.exists, f"{name} ready")
        assert self.switch is not None
        self._ip(
            self.switch.pid,
            f"link add v{name} type veth peer name eth0 netns {host.init}",
            f"link set v{name} master br0",
            f"link set v{name} up",
        )
        self._ip(host.init, f"addr add {addr}/24 dev eth0", "link set eth0 up", "link set lo up")
        self._spawn_munge(host)
        return host

    def stop(self) -> None:
        """Every host powered off and the switch gone: no process, namespace, veth,
        bridge or mount of this cluster is left. Safe to call twice."""
        for host in self.hosts.values():
            self._power_off(host)
        if self.switch is not None and self.switch.poll() is None:
            self.switch.kill()
            self.switch.wait(timeout=30)

    # ---- what the tests do to a node ------------------------------------------

    def power_off(self, name: str) -> None:
        self._power_off(self.hosts[name])

    def kill_slurmd(self, name: str) -> None:
        daemon = self.hosts[name].daemons.pop("slurmd")
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.nsenter.wait(timeout=30)

    def cut(self, name: str) -> None:
        """Take the node's link down on the switch: the controller and heads lose it."""
        assert self.switch is not None
        self._ip(self.switch.pid, f"link set v{name} down")

    def reconnect(self, name: str) -> None:
        assert self.switch is not None
        self._ip(self.switch.pid, f"link set v{name} up")

    def _power_off(self, host: Host) -> None:
        if host.unshare.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(host.init, signal.SIGKILL)
            host.unshare.wait(timeout=30)
        for daemon in host.daemons.values():
            with contextlib.suppress(ProcessLookupError):
                daemon.nsenter.kill()  # it exits with its child; never left a zombie
            daemon.nsenter.wait(timeout=30)
        host.daemons.clear()
        host.powered = False

    # ---- processes on hosts -----------------------------------------------------

    def enter(self, host: str, *, pids: bool = True) -> list[str]:
        """The argv prefix that runs a command on `host`."""
        flags = NS_FLAGS if pids else [f for f in NS_FLAGS if f != "--pid"]
        return ["nsenter", f"--target={self.hosts[host].init}", *flags, "--wd=/", "--"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def spawn(
        self, host: str, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> Daemon:
        """`argv` on `host`, its output in `log`; returns it with the PID to signal."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [*self.enter(host), *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env or self.env(),
                start_new_session=True,
            )
        return Daemon(proc, _only_child(proc.pid))

    def procs_on(self, host: str) -> dict[int, str]:
        """pid → command line of every process on `host` (its PID namespace)."""
        ns = pid_ns(self.hosts[host].init)
        found: dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and ns is not None and pid_ns(int(entry)) == ns:
                with contextlib.suppress(OSError):
                    cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
                    found[int(entry)] = cmd.replace(b"\0", b" ").decode(errors="replace")
        return found

    def job_procs(self) -> dict[str, list[str]]:
        """Per host, the processes that are not the host's own (PID 1, munged, Slurm's
        daemons): what a test must not leave behind. slurmstepd is Slurm's, not the
        job's: on a node cut off from the controller it waits to report the job's end
        long after the job's processes are gone."""
        own = ("ns_init.py", "munged", "slurmd", "slurmctld", "slurmstepd")
        left: dict[str, list[str]] = {}
        for name, host in self.hosts.items():
            if not host.powered:
                continue
            extra = [
                f"{p} {c[:150]}"
                for p, c in self.procs_on(name).items()
                if not any(o in c[:200] for o in own)
            ]
            if extra:
                left[name] = extra
        return left

    # ---- Slurm clients (run on head1) -------------------------------------------------

    def call(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.enter(self.heads[0], pids=False), _tool(argv[0]), *argv[1:]],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, *argv: str, check: bool = True) -> str:
        proc = self.call(*argv)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def show(self, job_id: str) -> SlurmJob | None:
        """`scontrol show job -o ID`, parsed as the executor parses it."""
        return parse_scontrol(self.run("scontrol", "show", "job", "-o", job_id, check=False))

    def node_states(self) -> dict[str, str]:
        out = self.run("sinfo", "-h", "-N", "-o", "%N %T", check=False)
        states = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        return {n: s.strip().rstrip("*~#!%$@^-").lower() for n, s in states.items()}

    def wait_nodes(
        self, wanted: str, names: list[str] | None = None, timeout: float = READY_TIMEOUT
    ) -> None:
        names = names or self.nodes
        self._wait(
            lambda: all(self.node_states().get(n) == wanted for n in names),
            f"{', '.join(names)} {wanted}",
            timeout,
            lambda: repr(self.node_states()),
        )

    def wait_controller(self) -> None:
        self._wait(
            lambda: "UP" in self.call("scontrol", "ping", timeout=10).stdout,
            "slurmctld answering",
            on_fail=self.log_tail,
        )

    def jobs(self) -> list[SlurmJob]:
        """Every job Slurm still remembers, with its exit code and restarts."""
        ids = self.run("squeue", "-h", "-t", "all", "-o", "%i", check=False).split()
        return [j for j in (self.show(i) for i in ids) if j is not None]

    def log_tail(self, lines: int = 12) -> str:
        parts = []
        for log in sorted((self.root / "log").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # ---- internals -------------------------------------------------------------

    def _ip(self, target: int, *commands: str) -> None:
        proc = subprocess.run(
            ["nsenter", f"--target={target}", "--net", "--", "ip", "-batch", "-"],
            input="\n".join(commands) + "\n",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"ip {commands} in {target}: {proc.stderr.strip()}")

    def _spawn_munge(self, host: Host) -> None:
        log = self.root / "log" / f"munged-{host.name}.log"
        host.daemons["munged"] = self.spawn(
            host.name,
            [
                _tool("munged"),
                "-F",
                "--force",
                "--socket=/tmp/munge/munge.socket",
                f"--key-file={self.root / 'munge.key'}",
                "--pid-file=/tmp/munge/munged.pid",
                f"--log-file={log}",
                "--seed-file=/tmp/munge/munged.seed",
            ],
            self.root / "log" / f"munged-{host.name}.out",
        )
        self._wait(
            lambda: Path(f"/proc/{host.init}/root/tmp/munge/munge.socket").exists(),
            f"munged on {host.name}",
        )

    def _spawn_slurm(self, host: str, daemon: str) -> None:
        argv = [_tool(daemon), "-D", "-f", str(self.conf)]
        self.hosts[host].daemons[daemon] = self.spawn(
            host, argv, self.root / "log" / f"{daemon}-{host}.out"
        )

    def start_slurmd(self, node: str) -> None:
        """slurmd on `node` again (after kill_slurmd or a boot)."""
        self._spawn_slurm(node, "slurmd")

    def _wait(
        self, cond: object, what: str, timeout: float = READY_TIMEOUT, on_fail: object = None
    ) -> None:
        assert callable(cond)
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                more = on_fail() if callable(on_fail) else ""
                raise RuntimeError(f"timed out waiting for {what}: {more}\n{self.log_tail()}")
            time.sleep(0.1)
