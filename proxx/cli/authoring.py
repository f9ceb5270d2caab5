"""`proxx validate` and `proxx remainder`: a JobSpec checked, or rewritten, for its author.

These two may read a JobSpec or a preset in this process (`validate --preset`, and
`remainder`, which derives a new JobSpec from a result and its original): the caller
is the JobSpec's author, not a runner. `validate SPEC` itself still hands the JobSpec
to a worker, as `run` does, so a hostile file costs that worker only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from proxx.cli.jobs import naming
from proxx.cli.roots import roots_of, roots_options

if TYPE_CHECKING:
    from proxx.remainder import Remainder
    from proxx.runtime.runjob import Ran


@click.command()
@click.argument("spec", type=click.Path(path_type=str), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable report on stdout.")
@click.option(
    "--preset",
    default=None,
    metavar="FILE",
    help="Check a preset file (.toml or .json) alone instead of a JobSpec.",
)
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Resolve relative sources against DIR, as `proxx watch DIR` would "
    "(default: the JobSpec's own folder, as `proxx run` does).",
)
@roots_options
def validate(
    spec: str | None,
    as_json: bool,
    preset: str | None,
    base_dir: str | None,
    source_roots: tuple[str, ...],
    output_roots: tuple[str, ...],
) -> None:
    """Check SPEC.json without rendering: exit 0 if valid, 1 if not (reason on stderr).

    Checks the JSON and every field, that sources exist and are readable media,
    that output_dir is writable, that the codec, container and profile fit the
    engine the sources route to, and that no output name collides or exists.
    Exit 4 if the routed engine (FFmpeg, DaVinci Resolve) cannot render on this
    host, with the reason `proxx run` would give.

    With --preset FILE (and no SPEC): check that the preset alone settles into valid
    JobSpec fields (profile, codec/container pair, fps_mode, template); exit 0 or 1.
    """
    from proxx.cli.streams import say, write_stdout
    from proxx.contract.logs import user_line

    if (spec is None) == (preset is None):
        raise click.UsageError("give SPEC.json or --preset FILE (one of them)")
    if preset is not None:
        _validate_preset(preset, as_json)
    assert spec is not None
    from proxx.runtime.runjob import run_one

    ran = run_one(spec, "validate", base_dir=base_dir, roots=roots_of(source_roots, output_roots))
    report = _validation_report(ran)
    # The verdict decides the exit code, never a stdout whose reader is gone.
    if as_json and not write_stdout(json.dumps(report, indent=2, ensure_ascii=False) + "\n"):
        say("proxx validate: stdout was closed before the report could be printed")
    if report["valid"]:
        text = f"valid: {len(report['clips'])} clip(s) via {report['execution_engine']}"
        say(user_line(text))
        sys.exit(0)
    result = ran.result
    reason = result.validation_error or result.system_error or result.interrupted
    say(user_line(f"invalid: {naming(reason or '?', spec)}", level="ERROR"))
    code = int(result.exit_code())
    sys.exit(code if code else 4)


def _validate_preset(path: str, as_json: bool) -> None:
    from proxx.cli.streams import tell
    from proxx.content.preset import check_preset
    from proxx.contract.errors import ValidationError

    try:
        fields = check_preset(path)
    except ValidationError as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "preset": path, "error": str(exc)}, indent=2))
        tell(f"invalid: {exc}", "ERROR")
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"valid": True, "preset": path, "fields": fields.values}, indent=2))
    shown = ", ".join(f"{k}={v}" for k, v in fields.values.items() if k != "user_metadata")
    tell(f"valid preset: {shown}")
    sys.exit(0)


def _validation_report(ran: Ran) -> dict[str, Any]:
    """What `validate --json` prints: the verdict, the routing, and the planned clips."""
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
    if planned is not None and ran.outcome is not None and ran.outcome.rejected is None:
        report["valid"] = True
        report["clips"] = [
            {"source_path": c.source_path, "output_path": c.output_path} for c in planned.clips
        ]
    return report


@click.command()
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
    from proxx.cli.streams import tell
    from proxx.remainder import RemainderRefused, write_new
    from proxx.remainder import remainder as build

    try:
        rem = build(result_file)
        if output is not None:
            write_new(os.path.abspath(output), rem)
    except RemainderRefused as exc:
        tell(f"proxx remainder: {exc}", "ERROR")
        sys.exit(1)
    if output is None:
        sys.stdout.write(rem.to_json())
    _tell_remainder(rem, output)


def _tell_remainder(rem: Remainder, output: str | None) -> None:
    """On stderr: which clips remain, which of their outputs are in the way, where it went."""
    from proxx.cli.streams import tell

    job = rem.job_id
    tell(
        f"job {job} ({rem.status}): {len(rem.clips)} of {rem.total} clip(s) remain"
        f" (original JobSpec {rem.original_jobspec})",
        job_id=job,
    )
    for c in rem.clips:
        tell(f"  {c.number:>4} {c.status:<8} {c.source_path} → {c.output_name}", job_id=job)
    for path in rem.existing_outputs:
        tell(
            f"proxx remainder: warning: {path} already exists; the new job will refuse "
            "it until it is moved away (Proxx never overwrites)",
            "WARNING",
            job_id=job,
        )
    if output is not None:
        tell(
            f"wrote {os.path.abspath(output)}: check it with `proxx validate`, then run it "
            "or move it into the watch folder's pending/",
            job_id=job,
        )
