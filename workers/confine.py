"""Allowed roots: where a JobSpec's sources and output folder may be (issue 18, finding 3).

A JobSpec could name any file and any output folder the runner reaches (`/etc`,
root's `.ssh`). With roots given (`--source-root`, `--output-root`; `proxx watch`
always has the watch folder's own tree), every source and the output folder
must be inside one of them once every symlink and `..` is resolved
(`os.path.realpath`), or the job fails validation naming the roots it left.
Playlists, which would read further files, are refused by the media allow-list
(proxx.content.pictures) whatever they name.
"""

from __future__ import annotations

import os

from proxx.contract.errors import ValidationError
from proxx.contract.protocol import StartJob


def check(req: StartJob, sources: list[str], output_dir: str) -> None:
    """Raise ValidationError for the first source or output folder outside its roots."""
    if req.source_roots is not None:
        for source in sources:
            _inside(source, req.source_roots, "source", "source roots")
    if req.output_roots is not None:
        _inside(output_dir, req.output_roots, "output_dir", "output roots")


def _inside(path: str, roots: list[str], what: str, kind: str) -> None:
    real = os.path.realpath(path)
    for root in roots:
        top = os.path.realpath(root)
        if real == top or real.startswith(top.rstrip("/") + "/"):
            return
    via = "" if real == os.path.normpath(path) else f" (it resolves to {real})"
    raise ValidationError(
        f"{what} {path}{via} is outside the allowed {kind} {', '.join(roots)}: "
        "confinement (README, 'Security')"
    )
