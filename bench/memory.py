"""5. Memory: peak RSS of the supervisor, each worker (and a forkserver, in trees that have one)
and each FFmpeg.

The process tree under `proxx watch --once --max-workers 2` (two 1080p jobs)
and under `proxx run` (one) is walked through /proc every 10 ms; each
process's VmHWM (its own peak RSS, kept by the kernel) and, for the Python
processes, Pss (shared pages split between sharers) are recorded. Bare
FFmpeg's peak comes from `/usr/bin/time -v` (or the same sampler if absent).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    Ctx,
    bare,
    children,
    clear_dir,
    cmdline,
    commands_of,
    copies,
    hd_clip,
    proc_status,
    proxx,
    reap_orphans,
    spec_dict,
    write_json,
)
from bench.report import Report


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class TreeSampler:
    """Peak memory of every process under `root`, labelled by its role."""

    root: int
    interval: float = 0.01
    kind: dict[int, str] = field(default_factory=dict)
    hwm: dict[int, int] = field(default_factory=dict)  # kB
    pss: dict[int, int] = field(default_factory=dict)  # kB, Python processes only
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        tick = 0
        while not self._stop.is_set():
            self._sample(tick % 5 == 0)
            tick += 1
            self._stop.wait(self.interval)

    def _sample(self, with_pss: bool) -> None:
        todo = [(self.root, "supervisor")]
        while todo:
            pid, role = todo.pop()
            st = proc_status(pid)
            if not st:
                continue
            if self.kind.get(pid) != role:  # exec'd since the last look: a new peak
                self.hwm[pid] = 0
            self.kind[pid] = role
            self.hwm[pid] = max(self.hwm.get(pid, 0), st.get("VmHWM", 0))
            if with_pss and role in ("supervisor", "forkserver", "worker"):
                self.pss[pid] = max(self.pss.get(pid, 0), _pss(pid))
            for kid in children(pid):
                todo.append((kid, self._role(kid, role)))

    @staticmethod
    def _role(pid: int, parent_role: str) -> str:
        comm = _comm(pid)
        if comm in ("ffmpeg", "ffprobe"):
            return f"{comm} (under {parent_role})"
        line = cmdline(pid)
        # Workers are `python -m proxx.runtime.child TARGET …` children of the supervisor
        # (earlier trees: children of a multiprocessing forkserver).
        if "proxx.runtime.child" in line and parent_role == "supervisor":
            return "worker"
        if "forkserver" in line:
            if parent_role == "supervisor":
                return "forkserver"
            if parent_role == "forkserver":
                return "worker"
        return f"{comm or '?'} (under {parent_role}, before exec)"

    def peaks(self) -> dict[str, list[int]]:
        """Role → peak kB of each process that had that role."""
        out: dict[str, list[int]] = {}
        for pid, role in self.kind.items():
            out.setdefault(role, []).append(self.hwm[pid])
        return out


def sampled(argv: list[str], log: Path) -> tuple[TreeSampler, int, bytes]:
    with open(log, "ab") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        out, _ = proc.communicate()
        sampler.stop()
    reap_orphans()
    return sampler, proc.returncode, out


def bare_peak_kb(argv: list[str]) -> int:
    if shutil.which("time") and Path("/usr/bin/time").exists():
        proc = subprocess.run(
            ["/usr/bin/time", "-v", *argv],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=True,
        )
        for line in proc.stderr.splitlines():
            if "Maximum resident set size" in line:
                return int(line.split(":")[1])
    sampler, code, _ = sampled(argv, Path("/dev/null"))
    if code != 0:
        raise RuntimeError("bare ffmpeg failed")
    return max(sampler.hwm.values())


def _mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def run(ctx: Ctx, rep: Report) -> None:
    d = ctx.fresh("memory")
    srcs = copies(hd_clip(ctx), d / "sources", 2, stem="hd")
    out = d / "out"
    out.mkdir()
    watch = _watch_two_jobs(ctx, d, srcs, out)
    clear_dir(out)
    spec = write_json(d / "job.json", spec_dict([srcs[0]], out))
    ctx.log("memory: proxx run, one 1080p job")
    run_s, code, stdout = sampled(proxx("run", str(spec)), d / "run.log")
    if code != 0:
        raise RuntimeError(f"proxx run failed; log {d / 'run.log'}")
    bare_kb = bare_peak_kb(bare(commands_of(json.loads(stdout))[0], d))
    for label, s in (("watch -w 2", watch), ("run", run_s)):
        _process_details(rep, label, s)
    _rows(rep, watch.peaks(), bare_kb)
    rep.raw["memory"] = {
        "watch": {str(k): v for k, v in watch.peaks().items()},
        "run": {str(k): v for k, v in run_s.peaks().items()},
        "bare": bare_kb,
        "t": time.time(),
    }


def _watch_two_jobs(ctx: Ctx, d: Path, srcs: list[Path], out: Path) -> TreeSampler:
    root = d / "watch"
    (root / "pending").mkdir(parents=True)
    for i, src in enumerate(srcs):
        write_json(root / "pending" / f"job_{i}.json", spec_dict([src], out))
    ctx.log("memory: proxx watch --once --max-workers 2, two 1080p jobs")
    watch, code, _ = sampled(
        proxx("watch", str(root), "--once", "--max-workers", "2"), d / "watch.log"
    )
    if code != 0 or len(list((root / "completed").glob("*.result.json"))) != 2:
        raise RuntimeError(f"proxx watch failed; log {d / 'watch.log'}")
    return watch


def _process_details(rep: Report, label: str, s: TreeSampler) -> None:
    """Each Proxx process's peak RSS (and Pss), then each FFmpeg/ffprobe role's largest."""
    peaks = s.peaks()
    for role in ("supervisor", "forkserver", "worker"):
        if role in peaks:
            kbs = peaks[role]
            pss = [s.pss.get(p, 0) for p, r in s.kind.items() if r == role]
            rep.detail(
                "memory",
                f"{label}: {role} peak RSS" + (f" (each of {len(kbs)})" if len(kbs) > 1 else ""),
                " / ".join(_mb(k) for k in kbs),
                f"peak Pss {' / '.join(_mb(p) for p in pss)}",
            )
    for role, kbs in sorted(peaks.items()):
        if role.startswith(("ffmpeg", "ffprobe")):
            boot = " (incl. `ffmpeg -version` at worker boot)" if role.startswith("ffmpeg") else ""
            rep.detail(
                "memory",
                f"{label}: {role} peak RSS",
                _mb(max(kbs)),
                f"largest of {len(kbs)} process(es){boot}",
            )


def _rows(rep: Report, peaks: dict[str, list[int]], bare_kb: float) -> None:
    """The table rows: supervisor, worker, FFmpeg against bare; the Python side in all."""
    sup, workers = max(peaks.get("supervisor", [0])), max(peaks.get("worker", [0]))
    ff = max(peaks.get("ffmpeg (under worker)", [0]))
    for name, kb in (
        ("supervisor peak RSS (watch, 2 workers, 1080p)", sup),
        ("worker peak RSS (max of 2)", workers),
    ):
        rep.row(
            section="memory", name=name, value=_mb(kb), target="(none set)", proxx=_mb(kb), n="1"
        )
    rep.row(
        section="memory",
        name="FFmpeg under Proxx ÷ bare FFmpeg, peak RSS",
        value=f"{ff / bare_kb:.2f}×" if bare_kb else "—",
        target="(none set; ≈ 1×)",
        proxx=_mb(ff),
        bare=_mb(bare_kb),
        n="1",
    )
    python_side = sup + max(peaks.get("forkserver", [0])) + sum(peaks.get("worker", [0]))
    rep.detail(
        "memory",
        "watch -w 2: Python side total (RSS, shared pages counted twice)",
        _mb(python_side),
        f"vs one FFmpeg 1080p render {_mb(bare_kb)}",
    )
