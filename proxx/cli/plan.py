"""`proxx plan`: from camera folders to JobSpecs an operator can read, diff and check.

The decisions are `proxx.cli.planner`'s; this module prints the table, checks
each JobSpec with `proxx validate`'s own worker, and only then writes anything
(`proxx.cli.planout`).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from proxx.cli.planout import Target, report, settle_options, validate_jobs, write_jobs
from proxx.cli.roots import roots_of, roots_options
from proxx.cli.streams import tell
from proxx.contract.profiles import CODECS, CONTAINERS, FPS_MODES

if TYPE_CHECKING:
    from proxx.content.preset import Fields
    from proxx.runtime.runjob import Roots


def _metadata(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in value:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        out[key] = val
    return out


@click.command()
# Plain strings: click.Path would stat in the command before any deadline applies.
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--output-dir",
    default=None,
    help="Where the proxies go (absolute once resolved; default: the preset's output_dir).",
)
@click.option("--profile", "proxy_profile", default=None, help="proxy_profile (`proxx profiles`).")
@click.option("--preset", default=None, help="A preset file (.toml or .json): docs/PLANNING.md.")
@click.option(
    "--template",
    "output_name_template",
    default=None,
    help="output_name_template (default {source_name}_proxy; "
    "{index}_{source_name}_proxy when names would collide).",
)
@click.option(
    "--codec",
    type=click.Choice(CODECS),
    default=None,
    help="codec (default: what the profile renders).",
)
@click.option(
    "--container", type=click.Choice(CONTAINERS), default=None, help="container (default mov)."
)
@click.option(
    "--fps-mode",
    type=click.Choice(FPS_MODES),
    default=None,
    help="fps_mode (default preserve_source).",
)
@click.option(
    "--user-metadata",
    multiple=True,
    callback=_metadata,
    metavar="KEY=VALUE",
    help="user_metadata entry (a string); repeat for more.",
)
@click.option(
    "--created-at",
    default=None,
    metavar="ISO|now",
    help="created_at (default: the newest clip's mtime, so a re-run gives the "
    "same bytes; `now` for the clock).",
)
@click.option(
    "-o",
    "--output",
    default=None,
    metavar="FILE",
    help="Write the JobSpec here (never over a file); with --split-by folder, a folder.",
)
@click.option(
    "--into",
    default=None,
    metavar="WATCH",
    help="Write into WATCH/pending/ (temp name, then rename: a runner never sees half).",
)
@click.option(
    "--split-by",
    type=click.Choice(["folder"]),
    default=None,
    help="One JobSpec per camera roll (card or folder), named after it.",
)
@click.option("--name", default=None, help="The JobSpec's file name (default: the first SOURCE's).")
@click.option("--dry-run", is_flag=True, help="Print the table and the checks; write nothing.")
@roots_options
def plan(
    sources: tuple[str, ...],
    output: str | None,
    into: str | None,
    split_by: str | None,
    name: str | None,
    dry_run: bool,
    preset: str | None,
    created_at: str | None,
    source_roots: tuple[str, ...],
    output_roots: tuple[str, ...],
    **options: object,
) -> None:
    """Write a JobSpec for the media under SOURCE… (files or folders, recursive).

    Files are probed in worker processes, as `proxx probe` does; sidecars, stills,
    audio-only and unreadable files are left out and listed with the reason, and a
    camera card gives one source per clip (RED .RDC spans, XDCAM, Sony XAVC, Canon
    XF, AVCHD). The table goes to stderr; the JobSpec to stdout unless -o or --into.
    Each JobSpec is checked by `proxx validate`'s worker before anything is written,
    confined as the runner will confine it: with --into WATCH, sources and the output
    folder must be inside WATCH or a --source-root/--output-root given here (give the
    ones the runner was started with); without --into, only roots given here apply.

    Exit 0 written (or --dry-run clean), 1 refused (nothing written), 4 when the
    clips' engine cannot render on this host.
    """
    from proxx.contract.errors import ValidationError

    try:
        fields, stamp, target = settle_options(
            preset, options, created_at, output, into, split_by is not None, name
        )
    except ValidationError as exc:
        tell(f"proxx plan: {exc}", "ERROR")
        sys.exit(1)
    # The runner allows its own folder's tree plus the roots it was given (README,
    # 'Security'); checked here too, a JobSpec --into a folder never fails on them.
    watch = [os.path.dirname(target.path)] if target.kind == "into" else []
    roots = roots_of(source_roots, output_roots, *watch)
    try:
        _plan(sources, fields, stamp, target, split_by is not None, name, dry_run, roots)
    except KeyboardInterrupt:  # a probe worker is ended in a finally (and has PDEATHSIG)
        tell("proxx plan: interrupted (SIGINT)", "ERROR")
        sys.exit(5)


def _plan(
    sources: tuple[str, ...],
    fields: Fields,
    stamp: str | None,
    target: Target,
    split: bool,
    name: str | None,
    dry_run: bool,
    roots: Roots,
) -> None:
    from proxx.cli.planner import PLAN_PROBE_TARGET, build_plan
    from proxx.runtime.probing import probe_files

    built = build_plan(
        [os.path.abspath(s) for s in sources],
        fields,
        created_at=stamp,
        split_by_folder=split,
        name=name,
        prober=lambda paths: probe_files(paths, target=PLAN_PROBE_TARGET),
    )
    report(built, target)  # the table first: validation takes a worker's start-up
    code = validate_jobs(built.jobs, roots)
    if code or dry_run:
        sys.exit(code)
    sys.exit(write_jobs(built.jobs, target))


__all__ = ["Target", "plan"]
