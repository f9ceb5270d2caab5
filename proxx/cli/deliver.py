"""`proxx report`: the deliverables editorial opens, made from a finished job's result."""

from __future__ import annotations

import sys

import click


@click.command()
# A plain string: click.Path would stat it here, outside any deadline.
@click.argument("result_file")
@click.option(
    "-o", "--output", "html_out", metavar="REPORT.html", help="Write the HTML report here."
)
@click.option("--csv", "csv_out", metavar="FILE", help="Write the report's table as CSV.")
@click.option("--mhl", is_flag=True, help="Append an ASC MHL generation to the proxies' folder.")
@click.option(
    "--ale", "ale_out", metavar="FILE", help="Write an Avid ALE of the completed proxies."
)
@click.option(
    "--ale-rate", metavar="RATE", help="The frame rate of the ALE (25, 23.976, 24000/1001)."
)
def report(
    result_file: str,
    html_out: str | None,
    csv_out: str | None,
    mhl: bool,
    ale_out: str | None,
    ale_rate: str | None,
) -> None:
    """Make a relink report (HTML, CSV), an ASC MHL and an ALE from RESULT.json.

    The HTML report is one self-contained page (pictures embedded, no network): the
    job, then the clips that failed or whose facts differ, then one row per clip with
    source and proxy side by side and a picture of each at the source's middle frame.
    The same result gives the same bytes. Without -o, --csv, --mhl or --ale the HTML
    goes to stdout. Files are created new: an existing file is never overwritten.

    --mhl appends a generation (xxh64) to the proxies' folder's ascmhl/ history;
    --ale writes one line per completed proxy (Name, Tape, Start, End, Source File).
    Both need the `deliver` extra (pip install 'proxx[deliver]').

    Exit 0 when everything asked for was written, 1 when the result cannot be
    reported on or a deliverable was refused (the reason on stderr), 3 when written
    but a clip failed, differs from its source or no longer matches its hash.
    """
    from proxx.cli.streams import tell
    from proxx.deliver.report import Asked, make

    if ale_rate is not None and ale_out is None:
        tell("proxx report: --ale-rate chooses the rate of an ALE: give --ale FILE", "ERROR")
        sys.exit(1)
    asked = Asked(result_file, html_out, csv_out, mhl, ale_out, ale_rate)
    outcome = make(asked)
    for line in outcome.said:
        tell(f"proxx report: {line}", "ERROR" if outcome.exit_code else "INFO")
    if outcome.html_stdout is not None:
        sys.stdout.buffer.write(outcome.html_stdout)
    sys.exit(outcome.exit_code)
