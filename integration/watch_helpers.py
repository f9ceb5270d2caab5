"""Supervisors for the `proxx watch` integration tests: start them, watch them, stop them.

Everything runs in real subprocesses: the supervisor (the real CLI, or a small
driver that injects a fake worker target), its workers and
their FFmpeg. Each supervisor is started in a new session, so every process
it ever started — even one orphaned by a kill -9 — is found by its session id
in /proc, and nothing is looked up by name (integration/processes.py). The
watch folder's helpers are in integration/watch_folder.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from integration.processes import DEADLINE_S, ProcInfo, is_python, session_procs, wait_for

REPO = Path(__file__).resolve().parent.parent

# The driver runs a Supervisor through the Python API, with an injected worker
# target and (optionally) a short per-clip timeout for sources longer than
# SHORT_LIMIT_OVER_S (the long test clips only).
SHORT_LIMIT_OVER_S = 30.0
DRIVER = "import sys; from integration.watch_helpers import driver_main; driver_main(sys.argv[1:])"


def driver_main(argv: list[str]) -> None:
    import argparse

    from proxx.contract import logs
    from proxx.contract.deadlines import Deadlines, default_render_limit
    from proxx.watch.folder import FatalWatchError
    from proxx.watch.supervisor import Supervisor

    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--target", default="proxx_workers.main:worker_main")
    p.add_argument("--max-workers", type=int, default=1)
    p.add_argument("--poll-seconds", type=float, default=0.2)
    p.add_argument("--once", action="store_true")
    p.add_argument("--metrics-file", default=None)
    p.add_argument(
        "--clip-timeout",
        type=float,
        default=None,
        help=f"limit for clips of sources over {SHORT_LIMIT_OVER_S:g} s (the long "
        "test clips); shorter ones keep the default, so that a loaded machine "
        "never times out the tiny jobs around them",
    )
    p.add_argument(
        "--die-after-step",
        default=None,
        help="SIGKILL this supervisor right after that step of filing a job "
        "(staged, linked, moved): the fault-injection point of proxx.watch.filing",
    )
    p.add_argument("--probe-timeout", type=float, default=None, help="the probe limit, s")
    p.add_argument("--mhl", action="store_true", help="an ASC MHL generation per filed job")
    a = p.parse_args(argv)
    logs.setup()
    if a.die_after_step:
        from proxx.watch import filing

        def die(step: str) -> None:
            if step == a.die_after_step:
                os.kill(os.getpid(), signal.SIGKILL)

        filing.after_step = die
    module, _, name = a.target.rpartition(":")
    target = f"{module or 'integration.fake_workers'}:{name}"
    deadlines = Deadlines()
    if a.clip_timeout is not None:
        limit: float = a.clip_timeout

        def render_limit(duration: float | None) -> float:
            if (duration or 0.0) > SHORT_LIMIT_OVER_S:
                return limit
            return default_render_limit(duration)

        deadlines = Deadlines(render=render_limit)
    if a.probe_timeout is not None:
        probe_limit: float = a.probe_timeout
        deadlines = dataclasses.replace(deadlines, probe=lambda _n: probe_limit)
    try:
        Supervisor(
            a.root,
            max_workers=a.max_workers,
            poll_seconds=a.poll_seconds,
            once=a.once,
            worker_target=target,
            deadlines=deadlines,
            metrics_file=a.metrics_file,
            mhl=a.mhl,
        ).run()
    except FatalWatchError as exc:
        print(f"driver: {exc}", file=sys.stderr)
        sys.exit(1)


# -- supervisors -------------------------------------------------------------------------
@dataclass
class Watch:
    """A running supervisor (CLI or driver) in its own session; logs go to a file."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = DEADLINE_S) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"supervisor {self.pid} still running after {timeout:g} s; log:\n{self.log()}"
            ) from None

    def procs(self) -> list[ProcInfo]:
        """Every live process of this supervisor's session (it, its workers, FFmpeg)."""
        return session_procs(self.pid)

    def leftovers(self) -> list[ProcInfo]:
        return [p for p in self.procs() if p.pid != self.pid]

    def workers(self) -> list[ProcInfo]:
        """Worker processes: the supervisor's python children (started via proxx.runtime.child)."""
        return [
            p
            for p in self.procs()
            if p.ppid == self.pid and is_python(p) and "proxx.runtime.child" in p.argv
        ]

    def kill_everything(self) -> None:
        """Teardown: SIGKILL each process of the session, one by one, by pid."""
        for p in self.procs():
            with contextlib.suppress(ProcessLookupError):
                os.kill(p.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, "PROXX_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(extra or {})
    return env


class Launcher:
    """Starts supervisors for one test and makes sure none outlives it."""

    def __init__(self, logs_dir: Path) -> None:
        self.logs_dir = logs_dir
        self.started: list[Watch] = []

    def _start(self, argv: list[str], env: dict[str, str] | None) -> Watch:
        log_path = self.logs_dir / f"watch-{len(self.started)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=self.logs_dir,
                env=_env(env),
                start_new_session=True,
            )
        watch = Watch(proc, log_path, argv)
        self.started.append(watch)
        return watch

    def cli(self, root: Path, *args: str, env: dict[str, str] | None = None) -> Watch:
        """`python -m proxx watch ROOT ARGS…` — the real command line, confined (as
        `watch` always is) to the watch root plus this pytest worker's temp tree, where
        the tests' sources (the clip cache) and output folders are."""
        tree = str(self.logs_dir.parent.parent)
        roots = ("--source-root", tree, "--output-root", tree)
        return self._start([sys.executable, "-m", "proxx", "watch", str(root), *roots, *args], env)

    def driver(
        self, root: Path, target: str, *args: str, env: dict[str, str] | None = None
    ) -> Watch:
        """A Supervisor with worker_target=`target` (a name in integration.fake_workers,
        or module:function)."""
        return self._start(
            [sys.executable, "-c", DRIVER, str(root), "--target", target, *args], env
        )

    def cleanup(self) -> list[str]:
        """Kill whatever is left; return a description of what had to be killed."""
        stray = []
        for watch in self.started:
            left = watch.procs()
            if watch.alive():
                stray.append(f"supervisor {watch.pid} ({' '.join(watch.argv[-3:])})")
            stray += [f"{p.pid} {' '.join(p.argv)[:120]}" for p in left if p.pid != watch.pid]
            watch.kill_everything()
        return stray


def assert_session_empty(watch: Watch, timeout: float = 30.0) -> None:
    """The supervisor has exited and left no process of its session behind."""
    wait_for(
        lambda: not watch.leftovers(),
        f"session of supervisor {watch.pid} to empty",
        timeout=timeout,
        on_fail=lambda: "\n".join(f"{p.pid} {' '.join(p.argv)[:150]}" for p in watch.leftovers()),
    )


def claimed_order(log: str) -> list[str]:
    """JobSpec names in the order the supervisor logged claiming them."""
    out = []
    for line in log.splitlines():
        if "): claimed by worker" in line:
            out.append(line.split(" (", 1)[1].split("): claimed", 1)[0])
    return out
