"""`proxx demo`: sample clips made, a JobSpec written and rendered, in a run folder of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from proxx.contract.results import JobResult


@click.command()
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
    from proxx.cli.streams import tell
    from proxx.contract.errors import SystemError_
    from proxx.demo import write_demo
    from proxx.runtime.runjob import run_spec_file

    try:
        spec_path = write_demo(root.resolve())
    except (OSError, SystemError_, subprocess.CalledProcessError) as exc:
        tell(f"proxx demo: cannot prepare the demo in {root.resolve()}: {exc}", "ERROR")
        sys.exit(4)
    click.echo(f"demo JobSpec: {spec_path}", err=True)
    result = run_spec_file(str(spec_path))
    result_path = spec_path.with_suffix(".result.json")
    with open(result_path, "x") as fh:  # in this run's own folder: never over anything
        fh.write(result.to_json())
    _tell_demo(result, root, spec_path.parent, result_path)
    sys.exit(int(result.exit_code()))


def _tell_demo(result: JobResult, root: Path, run_dir: Path, result_path: Path) -> None:
    """On stderr: each clip's proxy, where the run's files are, and how to clean up."""
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
