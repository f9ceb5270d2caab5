"""Shared helpers for the `proxx watch` integration tests.

Everything runs in real subprocesses: the supervisor (the real CLI, or a small
driver that injects a fake worker target), its workers and
their FFmpeg. Each supervisor is started in a new session, so every process
it ever started — even one orphaned by a kill -9 — is found by its session id
in /proc, and nothing is looked up by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from testkit import spec_dict

REPO = Path(__file__).resolve().parent.parent
STATES = ("pending", "running", "completed", "failed")
DEADLINE_S = 90.0  # a test deadline only, never a claim about speed
# How long a worker may take to notice its supervisor died and stop its FFmpeg
# (it wakes on the pipe's EOF at once; FFmpeg gets TERM, then KILL after 3 s).
# Generous, yet well below the time FFmpeg needs to finish a long clip on its own.
DEATH_NOTICE_S = 15.0
T = TypeVar("T")

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
    p.add_argument("--target", default="workers.main:worker_main")
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
        "(staged, linked, moved): the fault-injection point of watchfolder",
    )
    p.add_argument("--probe-timeout", type=float, default=None, help="the probe limit, s")
    a = p.parse_args(argv)
    logs.setup()
    if a.die_after_step:
        from proxx.watch import folder as watchfolder

        def die(step: str) -> None:
            if step == a.die_after_step:
                os.kill(os.getpid(), signal.SIGKILL)

        watchfolder.after_step = die
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
        ).run()
    except FatalWatchError as exc:
        print(f"driver: {exc}", file=sys.stderr)
        sys.exit(1)


# -- /proc ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    sid: int
    state: str
    argv: list[str]


def proc_info(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    return ProcInfo(pid, int(fields[1]), int(fields[3]), fields[0], argv)


def all_procs() -> list[ProcInfo]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = proc_info(int(entry))
            if info is not None and info.state != "Z":
                out.append(info)
    return out


def session_procs(sid: int) -> list[ProcInfo]:
    """Live (non-zombie) processes of session `sid`, the supervisor's own included."""
    return [p for p in all_procs() if p.sid == sid]


def ffmpeg_procs(fragment: str) -> list[ProcInfo]:
    """Live FFmpeg processes whose command line mentions `fragment` (e.g. a tmp path)."""
    return [
        p
        for p in all_procs()
        if p.argv
        and os.path.basename(p.argv[0]) in ("ffmpeg", "ffprobe")
        and any(fragment in a for a in p.argv)
    ]


def is_python(info: ProcInfo) -> bool:
    return bool(info.argv) and "python" in os.path.basename(info.argv[0])


# -- polling --------------------------------------------------------------------------
def wait_for(
    predicate: Callable[[], T],
    what: str,
    timeout: float = DEADLINE_S,
    interval: float = 0.05,
    on_fail: Callable[[], str] | None = None,
) -> T:
    """Poll until `predicate()` is truthy; fail the test (saying `what`) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{on_fail()}" if on_fail else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


# -- the watch folder -------------------------------------------------------------------
def spec(sources: Sequence[str | Path], output_dir: str | Path, **overrides: Any) -> dict[str, Any]:
    return spec_dict([str(s) for s in sources], output_dir, **overrides)


def prores(
    sources: Sequence[str | Path], output_dir: str | Path, **overrides: Any
) -> dict[str, Any]:
    return spec(
        sources, output_dir, codec="prores_proxy", proxy_profile="proxy_prores_proxy", **overrides
    )


def drop(root: Path, name: str, content: dict[str, Any] | bytes | str) -> Path:
    """Put a JobSpec into pending/ the Maildir way: write a dot-file, then rename in."""
    data = (
        json.dumps(content).encode()
        if isinstance(content, dict)
        else content.encode()
        if isinstance(content, str)
        else content
    )
    tmp = root / "pending" / f".{name}.tmp"
    tmp.write_bytes(data)
    final = root / "pending" / name
    os.rename(tmp, final)
    return final


def drop_named(root: Path, name: str, source: str | Path, out: Path) -> Path:
    """A one-clip H.264 job NAME.json whose proxy is out/NAME_<source name>.mov."""
    return drop(
        root, f"{name}.json", spec([source], out, output_name_template=f"{name}_{{source_name}}")
    )


def make_root(base: Path, name: str = "watch") -> Path:
    root = base / name
    for state in STATES:
        (root / state).mkdir(parents=True, exist_ok=True)
    return root


def listing(root: Path) -> dict[str, list[str]]:
    """Every entry of each state folder, dot-files included (sorted)."""
    return {s: sorted(os.listdir(root / s)) for s in STATES}


def specs_in(root: Path, state: str) -> list[str]:
    """JobSpec names in a state folder (results and dot-files left out)."""
    return sorted(
        n
        for n in os.listdir(root / state)
        if n.endswith(".json") and not n.endswith(".result.json") and not n.startswith(".")
    )


def result(root: Path, state: str, stem: str) -> dict[str, Any]:
    path = root / state / f"{stem}.result.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def results(root: Path, state: str) -> dict[str, dict[str, Any]]:
    return {
        n[: -len(".json")]: result(root, state, n[: -len(".json")]) for n in specs_in(root, state)
    }


def done_count(root: Path) -> int:
    return len(specs_in(root, "completed")) + len(specs_in(root, "failed"))


def partials(out_dir: Path) -> list[str]:
    return sorted(n for n in os.listdir(out_dir) if n.endswith(".partial"))


def failed_clip(res: dict[str, Any]) -> dict[str, Any]:
    failed = [c for c in res["clips"] if c["status"] == "FAILED"]
    assert len(failed) == 1, f"expected exactly one FAILED clip in {json.dumps(res, indent=1)}"
    clip: dict[str, Any] = failed[0]
    return clip


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
        """`python -m proxx watch ROOT ARGS…` — the real command line."""
        return self._start([sys.executable, "-m", "proxx", "watch", str(root), *args], env)

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


def assert_no_ffmpeg(fragment: str, timeout: float = 30.0) -> None:
    """No FFmpeg mentioning `fragment` survives (given time to notice a death)."""
    wait_for(
        lambda: not ffmpeg_procs(fragment),
        f"no FFmpeg running on {fragment}",
        timeout=timeout,
        on_fail=lambda: "\n".join(" ".join(p.argv) for p in ffmpeg_procs(fragment)),
    )


def assert_gone(pids: list[int], what: str, timeout: float = DEATH_NOTICE_S) -> None:
    """Each of `pids` has exited (or is a zombie) within `timeout`."""

    def alive() -> list[ProcInfo]:
        return [p for p in map(proc_info, pids) if p is not None and p.state != "Z"]

    wait_for(
        lambda: not alive(),
        what,
        timeout=timeout,
        on_fail=lambda: "\n".join(f"{p.pid} {' '.join(p.argv)[:150]}" for p in alive()),
    )


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
