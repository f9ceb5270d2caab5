"""`proxx plan`'s options, checks and output: what goes where, and nothing half-written.

Every JobSpec is checked by the worker `proxx validate` uses (a pool of one, the
same code path as `proxx run`) before any is written: a plan that writes has
passed validation, and one that does not writes nothing. Files are created
exclusively under a dot-name, never following a link, and renamed into place
without replacing anything: a watch folder's intake ignores dot-files, so a
runner never sees half a JobSpec.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from proxx.cli.streams import tell
from proxx.contract.clock import utc_now
from proxx.contract.errors import ExitCode, ValidationError
from proxx.contract.fsutil import write_new

if TYPE_CHECKING:
    from proxx.cli.planner import Job, Plan
    from proxx.content.preset import Fields
    from proxx.runtime.runjob import Roots


@dataclass(frozen=True)
class Target:
    """Where JobSpecs go: stdout, one file, a folder (one per roll), or WATCH/pending/."""

    kind: Literal["stdout", "file", "folder", "into"]
    path: str = ""

    def file_for(self, job: Job) -> str:
        return self.path if self.kind == "file" else os.path.join(self.path, f"{job.name}.json")


def settle_options(
    preset_path: str | None,
    options: dict[str, Any],
    created_at: str | None,
    output: str | None,
    into: str | None,
    split: bool,
    name: str | None,
) -> tuple[Fields, str | None, Target]:
    """The JobSpec fields, created_at and target the options give; ValidationError if they
    contradict each other or the preset (before any file is probed)."""
    from proxx.content.preset import check_fields, load_preset, settle

    preset = load_preset(preset_path) if preset_path else None
    if options.get("output_dir"):
        options["output_dir"] = os.path.abspath(str(options["output_dir"]))
    fields = settle(preset, options)
    if "proxy_profile" not in fields.values:
        raise ValidationError("give --profile PROFILE or --preset FILE naming a proxy_profile")
    if "output_dir" not in fields.values:
        raise ValidationError("give --output-dir DIR (or output_dir in the preset)")
    check_fields(
        fields, sources=1, where="options" + (f" over preset {preset_path}" if preset_path else "")
    )
    return fields, _created_at(created_at), _target(output, into, split, name)


def _created_at(value: str | None) -> str | None:
    if value is None:
        return None
    if value == "now":
        return utc_now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"--created-at {value!r} is not ISO 8601 (or `now`)") from None
    if stamp.tzinfo is None:
        raise ValidationError(
            f"--created-at {value!r} has no UTC offset (e.g. 2026-01-15T09:30:00Z)"
        )
    return value


def _target(output: str | None, into: str | None, split: bool, name: str | None) -> Target:
    if output is not None and into is not None:
        raise ValidationError("give -o or --into, not both")
    if split and name is not None:
        raise ValidationError(
            "--name names one JobSpec; --split-by folder names each after its roll"
        )
    if into is not None:
        pending = os.path.join(os.path.abspath(into), "pending")
        if not _is_dir(pending):
            raise ValidationError(f"--into {into}: not a watch folder ({pending} is not a folder)")
        return Target("into", pending)
    if output is None:
        if split:
            raise ValidationError(
                "--split-by folder writes several JobSpecs: give -o DIR or --into WATCH"
            )
        return Target("stdout")
    path = os.path.abspath(output)
    if split:
        if not _is_dir(path):
            raise ValidationError(f"-o {output}: with --split-by folder, an existing folder")
        return Target("folder", path)
    return Target("file", path)


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def jobspec_bytes(spec: dict[str, Any]) -> bytes:
    """The JobSpec as written: fixed key order and layout, so equal plans are equal bytes."""
    return (json.dumps(spec, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def validate_jobs(jobs: list[Job], roots: Roots = (None, None)) -> int:
    """`proxx validate` on each JobSpec (from a private folder), confined to `roots`
    (source roots, output roots) as a runner would; refusals name the fix.
    The exit code: 0, 1 (any refusal), or 4 (the engine cannot render here)."""
    from proxx.runtime.runjob import run_one

    code = 0
    scratch = tempfile.mkdtemp(prefix="proxx-plan-")
    try:
        for i, job in enumerate(jobs):
            if job.refusal is None:
                path = os.path.join(scratch, f"{i}.json")
                with open(path, "xb") as fh:
                    fh.write(jobspec_bytes(job.spec))
                result = run_one(path, "validate", roots=roots).result
                why = result.validation_error or result.system_error or result.interrupted
                if why is not None:
                    exit_code = int(result.exit_code()) or int(ExitCode.SYSTEM)
                    job.refusal = f"{why.replace(path + ': ', '')}; fix: {_fix(why, exit_code)}"
                    tell(f"proxx plan: job {job.name} REFUSED: {job.refusal}", "ERROR")
                    code = max(code, exit_code)
            if job.refusal is not None:
                code = max(code, int(ExitCode.VALIDATION))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return code


def _fix(why: str, exit_code: int) -> str:
    if "outside the allowed source roots" in why:
        return (
            "start the runner with --source-root DIR (a folder holding the sources) and "
            "give `proxx plan` the same --source-root"
        )
    if "outside the allowed output roots" in why:
        return (
            "start the runner with --output-root DIR (a folder holding --output-dir) and "
            "give `proxx plan` the same --output-root"
        )
    if "already exists" in why:
        return "move the existing proxies away, or choose another --output-dir or --template"
    if exit_code == ExitCode.SYSTEM and "Resolve" in why:
        return (
            "plan RAW clips on a host with DaVinci Resolve (`proxx validate` says what is missing)"
        )
    if "output_dir" in why:
        return "create the --output-dir folder, writable by you"
    if exit_code == ExitCode.SYSTEM:
        return "the engine cannot render on this host: `proxx validate` on the JobSpec says why"
    return "see the reason; `proxx validate` on the JobSpec says the same"


def report(plan: Plan, target: Target) -> None:
    """The table on stderr: each job, each clip (index, engine and why, output, source),
    then every file left out and why, then each refusal."""
    err = sys.stderr
    for job in plan.jobs:
        where = "stdout" if target.kind == "stdout" else target.file_for(job)
        err.write(f"job {job.name} → {where}: {len(job.clips)} clip(s)")
        if job.spec:
            err.write(
                f", {job.spec['proxy_profile']} {job.spec['codec']}/{job.spec['container']}"
                f" into {job.spec['output_dir']}, created_at {job.spec['created_at']}"
            )
        err.write("\n")
        width = max(3, len(str(len(job.clips))))
        for n, clip in enumerate(job.clips, 1):
            out = job.outputs[n - 1] if job.outputs else "?"
            layout = f" [{clip.layout}]" if clip.layout else ""
            err.write(f"  {n:0{width}d}  {clip.engine:<7}  {out}  ←  {clip.path}\n")
            err.write(f"  {'':{width}}  {'':7}  {clip.reason}{layout}\n")
        if job.refusal is not None:
            err.write(f"  REFUSED: {job.refusal}\n")
    if plan.left_out:
        err.write(f"left out: {len(plan.left_out)} file(s)\n")
        for item in plan.left_out:
            err.write(f"  {item.path}: {item.reason}\n")
    err.flush()


def write_jobs(jobs: list[Job], target: Target) -> int:
    """Write each JobSpec (all passed validation); 0, or 1 if one could not be written."""
    if target.kind == "stdout":
        sys.stdout.buffer.write(b"".join(jobspec_bytes(j.spec) for j in jobs))
        sys.stdout.flush()
        return 0
    taken = [target.file_for(j) for j in jobs if os.path.lexists(target.file_for(j))]
    if taken:  # found before the first is written: a plan is written whole or not at all
        for path in taken:
            tell(
                f"proxx plan: {path} already exists; Proxx never overwrites "
                "(fix: --name NAME, or move the old one away)",
                "ERROR",
            )
        return int(ExitCode.VALIDATION)
    for job in jobs:
        path = target.file_for(job)
        try:
            write_new(path, jobspec_bytes(job.spec))
        except FileExistsError:
            tell(
                f"proxx plan: {path} already exists; Proxx never overwrites "
                "(fix: --name NAME, or move the old one away)",
                "ERROR",
            )
            return int(ExitCode.VALIDATION)
        except OSError as exc:
            tell(f"proxx plan: cannot write {path}: {exc.strerror or exc}", "ERROR")
            return int(ExitCode.SYSTEM)
        tell(f"wrote {path}")
    return 0
