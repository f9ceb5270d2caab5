"""`proxx probe`, `proxx profiles` and `proxx schema`: what Proxx would do, without doing it."""

from __future__ import annotations

import json
import os
import sys

import click


@click.command()
# Plain strings: click.Path would stat each argument here, in the command, and a
# dead mount would hang it before any worker could take the deadline.
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the decisions as JSON.")
def probe(files: tuple[str, ...], as_json: bool) -> None:
    """Show which engine each FILE routes to (FFmpeg or DaVinci Resolve) and why.

    Each file is probed in a worker process, as a job's sources are: a file whose
    probe hangs (a dead mount) is reported as not probed after the probe limit
    (40 s), and the other files are still answered.

    Exit 0 if every file can be rendered, 1 if any is rejected or not probed.
    """
    from proxx.runtime.probing import probe_files

    rows = probe_files([os.path.abspath(f) for f in files])
    if as_json:
        click.echo(json.dumps([r.model_dump(exclude={"type"}) for r in rows], indent=2))
    else:
        for r in rows:
            click.echo(f"{r.path}: {r.engine or 'REJECTED'}: {r.reason}")
    sys.exit(0 if all(r.engine for r in rows) else 1)


@click.command()
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def profiles(as_json: bool) -> None:
    """List proxy profiles (engine, codecs, frame size, quality, audio policy), then the
    codec/container pairs and the fps modes a JobSpec may name."""
    from proxx.contract.profiles import CODEC_CONTAINERS, FPS_MODES, PROFILES

    rows = [p.row() for p in PROFILES.values()]
    if as_json:
        table = {
            "profiles": rows,
            "codec_containers": CODEC_CONTAINERS,
            "fps_modes": list(FPS_MODES),
        }
        click.echo(json.dumps(table, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['profile']:<28} {r['engine']:<8} {r['codecs']:<13} {r['frame_size']:<40}"
            f" {r['quality']} | audio: {r['audio']}"
        )
    _echo_codecs_and_rates()


def _echo_codecs_and_rates() -> None:
    """The codec → container pairs, then each fps_mode with the rate it forces."""
    from proxx.contract.profiles import CODEC_CONTAINERS, FORCED_RATES, FPS_MODES, fps_label

    click.echo("\ncodec → container(s):")
    for codec, containers in CODEC_CONTAINERS.items():
        click.echo(f"  {codec:<13} {', '.join(containers)}")
    click.echo("\nfps_mode:")
    click.echo(f"  {FPS_MODES[0]:<20} keep the source's frame rate")
    for mode in FPS_MODES[1:]:
        rate = FORCED_RATES[mode]
        exact = f" (exactly {rate})" if rate.denominator != 1 else ""
        click.echo(f"  {mode:<20} {fps_label(mode)} fps{exact}")
