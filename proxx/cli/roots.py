"""--source-root and --output-root: the allowed roots `run`, `validate` and `watch` take.

The worker checks them (workers/confine.py); here they only become absolute paths.
"""

from __future__ import annotations

import os
from typing import Any

import click


def roots_options(f: Any) -> Any:
    """--source-root and --output-root, for run, validate and watch (README, 'Security')."""
    f = click.option(
        "--output-root",
        "output_roots",
        multiple=True,
        type=click.Path(file_okay=False, path_type=str),
        metavar="DIR",
        help="Allow output folders only inside DIR (repeatable; links and '..' resolved).",
    )(f)
    return click.option(
        "--source-root",
        "source_roots",
        multiple=True,
        type=click.Path(file_okay=False, path_type=str),
        metavar="DIR",
        help="Allow sources only inside DIR (repeatable; links and '..' resolved).",
    )(f)


def roots_of(
    source_roots: tuple[str, ...], output_roots: tuple[str, ...], *always: str
) -> tuple[list[str] | None, list[str] | None]:
    """Absolute roots; a kind none was given for is not confined (unless `always`)."""

    def absolute(named: tuple[str, ...]) -> list[str] | None:
        roots = [os.path.abspath(r) for r in (*always, *named)]
        return roots or None

    return absolute(source_roots), absolute(output_roots)
