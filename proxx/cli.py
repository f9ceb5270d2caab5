"""The command line. The only module that prints for the user, knows click, or exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from proxx import __version__
from proxx.contract import logs
from proxx.contract.errors import ExitCode

if TYPE_CHECKING:
    from proxx.contract.results import JobResult
    from proxx.runtime.executor import Executor

EXIT_CODES_HELP = """\b
Exit codes of `proxx run`:
  0  COMPLETED: every clip rendered and verified
  1  validation error: nothing was executed (see validation_error)
  2  execution error: the first clip failed
  3  PARTIAL: some clips completed, then one failed (rest SKIPPED)
  4  system error: engine missing, permission denied, disk full
  5  interrupted by SIGINT/SIGTERM (FFmpeg stopped, result written)"""


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="proxx")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log line format on stderr (default: PROXX_LOG_FORMAT, else text). "
    "json: one object per line with job_id, worker_id, jobspec, state, reason.",
)
def cli(log_format: str | None) -> None:
    """Proxx renders verified proxy media from a JobSpec, deterministically.

    Logs go to stderr (PROXX_LOG_LEVEL=DEBUG|INFO|WARNING|ERROR); results are
    JSON. `proxx COMMAND -h` explains each command.
    """
    logs.setup(fmt=log_format)


@cli.command()
@click.argument("spec", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report on stdout.")
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Resolve relative sources against DIR, as `proxx watch DIR` would "
    "(default: the JobSpec's own folder, as `proxx run` does).",
)
def validate(spec: str, as_json: bool, base_dir: str | None) -> None:
    """Check SPEC.json without rendering: exit 0 if valid, 1 if not (reason on stderr).

    Checks the JSON and every field, that sources exist and are readable media,
    that output_dir is writable, that the codec, container and profile fit the
    engine the sources route to, and that no output name collides or exists.
    Exit 4 if the routed engine (FFmpeg, DaVinci Resolve) cannot render on this
    host, with the reason `proxx run` would give.
    """
    from proxx.runtime.runjob import run_one

    ran = run_one(spec, "validate", base_dir=base_dir)
    result, planned = ran.result, ran.outcome.planned if ran.outcome else None
    report: dict[str, Any] = {
        "valid": False,
        "jobspec_path": result.metadata.jobspec_path,
        "validation_error": result.validation_error,
        "system_error": result.system_error,
        "interrupted": result.interrupted,
        "jobspec_fingerprint": result.jobspec_fingerprint,
        "execution_engine": result.execution_engine,
        "engine_routing_reason": result.engine_routing_reason,
        "clips": [],
    }
    code = int(result.exit_code())
    if planned is not None and ran.outcome is not None and ran.outcome.rejected is None:
        report["valid"] = True
        report["clips"] = [
            {"source_path": c.source_path, "output_path": c.output_path} for c in planned.clips
        ]
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if report["valid"]:
        click.echo(
            f"valid: {len(report['clips'])} clip(s) via {report['execution_engine']}", err=True
        )
        sys.exit(0)
    reason = result.validation_error or result.system_error or result.interrupted
    click.echo(f"invalid: {_naming(reason or '?', spec)}", err=True)
    sys.exit(code if code else 4)


def _naming(reason: str, path: str) -> str:
    """The message once, naming the JobSpec unless it already does."""
    return reason if os.path.abspath(path) in reason else f"{path}: {reason}"


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("spec", type=click.Path(path_type=str))
def run(spec: str) -> None:
    """Render SPEC.json: result JSON on stdout (and nothing else), logs on stderr.

    Relative source paths resolve against the JobSpec's own folder. Clips run
    one after another in a worker process; the first failure stops the job.
    """
    from proxx.runtime.runjob import run_spec_file

    _emit_result(run_spec_file(spec))


def _emit_result(result: JobResult) -> None:
    sys.stdout.write(result.to_json())
    sys.stdout.flush()
    reason = result.validation_error or result.system_error or result.interrupted
    if reason:
        path = result.metadata.jobspec_path or "?"
        click.echo(f"proxx: {result.status}: {_naming(reason, path)}", err=True)
    for clip in result.clips:
        if clip.status == "FAILED":
            click.echo(
                f"proxx: {clip.source_path}: {clip.failure_reason}: {clip.failure_detail}", err=True
            )
    sys.exit(int(result.exit_code()))


@cli.command()
@click.argument("folder", type=click.Path(path_type=str))
@click.option(
    "--max-workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes, each running one job at a time (clips in order).",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(0.05, 3600),
    default=2.0,
    show_default=True,
    help="Seconds between scans of pending/ (a finished job also triggers a scan).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Process what is in pending/ now, wait for it to finish, then exit.",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write Prometheus metrics here (atomically, each loop) for node_exporter's "
    "textfile collector, e.g. /var/lib/node_exporter/textfile/proxx.prom.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "slurm"]),
    default="local",
    show_default=True,
    help="Where jobs run: local worker processes, or one Slurm batch job each "
    "(see docs/SLURM.md; --max-workers is then the number of Slurm jobs in flight).",
)
@click.option(
    "--slurm-arg",
    "slurm_args",
    multiple=True,
    metavar="ARG",
    help="Extra sbatch argument for every job, e.g. --slurm-arg=--partition=render "
    "(repeatable; --executor slurm only).",
)
def watch(
    folder: str,
    max_workers: int,
    poll_seconds: float,
    once: bool,
    metrics_file: str | None,
    executor: str,
    slurm_args: tuple[str, ...],
) -> None:
    """Run jobs dropped into FOLDER/pending/ until SIGTERM/SIGINT (or --once).

    \b
    FOLDER/pending/    drop JobSpecs here (*.json; write elsewhere, then rename in)
    FOLDER/running/    claimed jobs, locked by their runner
    FOLDER/completed/  JOB.json + JOB.result.json when every clip completed
    FOLDER/failed/     JOB.json + JOB.result.json for everything else

    Relative source paths resolve against FOLDER. On SIGTERM/SIGINT running jobs
    are interrupted, their results written, and they move to failed/; exit 0.
    Exit 1 if FOLDER is missing or not writable.
    """
    from proxx.slurm.client import SlurmUnavailable, reserved_args
    from proxx.watch.folder import FatalWatchError
    from proxx.watch.supervisor import Supervisor

    if slurm_args and executor != "slurm":
        raise click.UsageError("--slurm-arg needs --executor slurm")
    if refused := reserved_args(slurm_args):
        raise click.UsageError("--slurm-arg cannot set " + "; ".join(refused))
    try:
        Supervisor(
            folder,
            max_workers=max_workers,
            poll_seconds=poll_seconds,
            once=once,
            metrics_file=metrics_file,
            executor=_executor(executor, folder, max_workers, slurm_args),
        ).run()
    except (FatalWatchError, SlurmUnavailable) as exc:
        click.echo(f"proxx watch: {exc}", err=True)
        sys.exit(1)


def _executor(name: str, folder: str, size: int, slurm_args: tuple[str, ...]) -> Executor | None:
    if name != "slurm":
        return None  # the supervisor's default: the local pool
    from proxx.slurm.executor import SlurmExecutor

    return SlurmExecutor(size=size, root=os.path.abspath(folder), extra_args=slurm_args)


@cli.command()
@click.argument("result_file", metavar="RESULT.json", type=click.Path(path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Write the new JobSpec here (never over an existing file) instead of stdout.",
)
def remainder(result_file: str, output: str | None) -> None:
    """Write a JobSpec for the clips of an unfinished job that did not complete.

    RESULT.json is the result of a PARTIAL, FAILED, interrupted or recovered job;
    its original JobSpec is found through the result (`_metadata`) or beside it.
    The new JobSpec keeps every field of the original and lists only the clips
    that are not COMPLETED, with absolute paths; their proxies get exactly the
    names the original job would have given them (with {index} in the template
    that takes JobSpec 1.1.0's source_indices). Exit 0 when written, 1 when
    there is nothing to resubmit or the result cannot be used (reason on stderr).
    """
    from proxx.remainder import RemainderRefused, write_new
    from proxx.remainder import remainder as build

    try:
        rem = build(result_file)
        if output is not None:
            write_new(os.path.abspath(output), rem)
    except RemainderRefused as exc:
        click.echo(f"proxx remainder: {exc}", err=True)
        sys.exit(1)
    if output is None:
        sys.stdout.write(rem.to_json())
    click.echo(
        f"job {rem.job_id} ({rem.status}): {len(rem.clips)} of {rem.total} clip(s) remain"
        f" (original JobSpec {rem.original_jobspec})",
        err=True,
    )
    for c in rem.clips:
        click.echo(f"  {c.number:>4} {c.status:<8} {c.source_path} → {c.output_name}", err=True)
    for path in rem.existing_outputs:
        click.echo(
            f"proxx remainder: warning: {path} already exists; the new job will refuse "
            "it until it is moved away (Proxx never overwrites)",
            err=True,
        )
    if output is not None:
        click.echo(
            f"wrote {os.path.abspath(output)}: check it with `proxx validate`, then run it "
            "or move it into the watch folder's pending/",
            err=True,
        )


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(folder: str, as_json: bool) -> None:
    """Show a watch folder: jobs per state, running jobs (age, worker, runner alive?)
    and the most recent failures with their reasons. Reads the folder only."""
    from proxx.watch.status import folder_status, render_text

    report = folder_status(folder)
    click.echo(json.dumps(report, indent=2) if as_json else render_text(report))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
def probe(files: tuple[str, ...], as_json: bool) -> None:
    """Show which engine each FILE routes to (FFmpeg or DaVinci Resolve) and why.

    Exit 0 if every file can be rendered, 1 if any is rejected.
    """
    from proxx.content.probe_report import probe_report

    rows = probe_report([os.path.abspath(f) for f in files])
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            click.echo(f"{row['path']}: {row['engine'] or 'REJECTED'}: {row['reason']}")
    sys.exit(0 if all(r["engine"] for r in rows) else 1)


@cli.command()
@click.argument("which", type=click.Choice(["jobspec", "result", "all"]), default="all")
def schema(which: str) -> None:
    """Print the JSON Schema of the JobSpec, the result, or both."""
    from proxx.content.spec import JobSpec
    from proxx.contract.results import JobResult

    schemas = {
        "jobspec": JobSpec.model_json_schema(),
        "result": JobResult.model_json_schema(by_alias=True),
    }
    out = schemas if which == "all" else schemas[which]
    click.echo(json.dumps(out, indent=2))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def profiles(as_json: bool) -> None:
    """List proxy profiles (engine, codecs, frame size, quality, audio policy), then the
    codec/container pairs and the fps modes a JobSpec may name."""
    from proxx.contract.profiles import (
        CODEC_CONTAINERS,
        FORCED_RATES,
        FPS_MODES,
        PROFILES,
        fps_label,
    )

    rows = [p.row() for p in PROFILES.values()]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "profiles": rows,
                    "codec_containers": CODEC_CONTAINERS,
                    "fps_modes": list(FPS_MODES),
                },
                indent=2,
            )
        )
        return
    for r in rows:
        click.echo(
            f"{r['profile']:<28} {r['engine']:<8} {r['codecs']:<13} {r['frame_size']:<40}"
            f" {r['quality']} | audio: {r['audio']}"
        )
    click.echo("\ncodec → container(s):")
    for codec, containers in CODEC_CONTAINERS.items():
        click.echo(f"  {codec:<13} {', '.join(containers)}")
    click.echo("\nfps_mode:")
    click.echo(f"  {FPS_MODES[0]:<20} keep the source's frame rate")
    for mode in FPS_MODES[1:]:
        rate = FORCED_RATES[mode]
        exact = f" (exactly {rate})" if rate.denominator != 1 else ""
        click.echo(f"  {mode:<20} {fps_label(mode)} fps{exact}")


@cli.command()
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("proxx-demo"),
    show_default=True,
    help="Parent folder: each run works in a new DIR/run-N of its own.",
)
def demo(root: Path) -> None:
    """Generate sample clips (timecode, audio), write a JobSpec, and render proxies.

    Every run creates a new DIR/run-N and works only there: nothing else in DIR
    (your files, earlier runs) is ever removed, replaced or reused.
    """
    from proxx.contract.errors import SystemError_
    from proxx.demo import write_demo
    from proxx.runtime.runjob import run_spec_file

    try:
        spec_path = write_demo(root.resolve())
    except (OSError, SystemError_, subprocess.CalledProcessError) as exc:
        click.echo(f"proxx demo: cannot prepare the demo in {root.resolve()}: {exc}", err=True)
        sys.exit(4)
    run_dir = spec_path.parent
    click.echo(f"demo JobSpec: {spec_path}", err=True)
    result = run_spec_file(str(spec_path))
    result_path = spec_path.with_suffix(".result.json")
    with open(result_path, "x") as fh:  # in this run's own folder: never over anything
        fh.write(result.to_json())
    for clip in result.clips:
        click.echo(
            f"  {clip.status:<9} {clip.source_path}\n        → {clip.output_path} "
            f"({clip.output_size_bytes} bytes)",
            err=True,
        )
    click.echo(
        f"demo {result.status}: proxies in {run_dir / 'proxies'}, result JSON in {result_path}",
        err=True,
    )
    click.echo(
        f"(each demo run keeps its own {root.resolve()}/run-N; remove old ones with "
        f"rm -r when you no longer want them)",
        err=True,
    )
    sys.exit(int(result.exit_code()))


def main() -> None:
    if sys.argv[1:2] in (["run"], ["validate"]) and not {"-h", "--help"} & set(sys.argv):
        # Their one worker starts now, so its start-up overlaps this process's
        # imports (the pool adopts it; see proxx.runtime.spawn).
        from proxx.runtime.signals import hold_stops
        from proxx.runtime.spawn import WORKER_TARGET, prespawn

        hold_stops()
        _, level, _, fmt = logs.chosen()
        prespawn(WORKER_TARGET, level, fmt)
    cli(prog_name="proxx")


__all__ = ["ExitCode", "main"]
