"""Output naming: template tokens resolved from the JobSpec alone (deterministic)."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping

from proxx.contract.errors import ValidationError

TOKENS: dict[str, str] = {
    "source_name": "source file name without its extension",
    "source_ext": "source extension without the dot (e.g. mov)",
    "index": "1-based position in `sources`, zero-padded to at least 3 digits",
    "codec": "the JobSpec codec",
    "profile": "the JobSpec proxy_profile",
    "fps": "23.976, 25, 29.97 … for forced rates; `source` for preserve_source",
    "date": "created_at's calendar date as written, YYYYMMDD",
    "time": "created_at's wall-clock time as written, HHMMSS",
}
_TOKEN = re.compile(r"\{([^{}]*)\}")
FS_NAME_BYTES = 255  # ext4, XFS, APFS and SMB all cap a name component here
JOB_ID_MAX_CHARS = 32  # job ids are 12 hex digits today; leave room for longer ones
# A clip renders first under partial_path()'s longer hidden name, which must fit too.
_PARTIAL_EXTRA_BYTES = len(f"..{'0' * JOB_ID_MAX_CHARS}.partial")
MAX_NAME_BYTES = FS_NAME_BYTES - _PARTIAL_EXTRA_BYTES


def template_tokens(template: str) -> list[str]:
    """The tokens a template uses; raises on unknown tokens or stray braces."""
    names = _TOKEN.findall(template)
    unknown = sorted({n for n in names if n not in TOKENS})
    if unknown:
        used = ", ".join("{" + u + "}" for u in unknown)
        raise ValidationError(
            f"output_name_template uses unknown token(s) {used}; "
            f"known tokens: {', '.join('{' + t + '}' for t in TOKENS)}"
        )
    if "{" in _TOKEN.sub("", template) or "}" in _TOKEN.sub("", template):
        raise ValidationError("output_name_template has an unbalanced '{' or '}'")
    return names


def render(template: str, values: Mapping[str, str], extension: str) -> str:
    """Fill the template and append the container's extension; reject unsafe names."""
    stem = _TOKEN.sub(lambda m: values[m.group(1)], template)
    name = f"{stem}.{extension}"
    check_component(stem, name)
    return name


def check_component(stem: str, name: str) -> None:
    shown = repr(name) if len(name) <= 80 else repr(name[:77]) + "…"
    if not stem.strip():
        raise ValidationError(f"output name {shown} resolves to an empty name")
    if "/" in name or "\\" in name or os.sep in name:
        raise ValidationError(f"output name {shown} contains a path separator")
    if stem in (".", "..") or ".." in stem.split("."):
        raise ValidationError(f"output name {shown} contains '..'")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValidationError(f"output name {shown} contains a control character (NUL, newline …)")
    if name.startswith("."):
        raise ValidationError(f"output name {shown} starts with '.', which hides it")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValidationError(
            f"output name {shown} is {len(name.encode('utf-8'))} bytes; the limit is "
            f"{MAX_NAME_BYTES} bytes (file systems allow {FS_NAME_BYTES}, and each proxy "
            f"is first rendered under a longer temporary name)"
        )


def private_dir(output_dir: str, job_id: str) -> str:
    """The job's own folder inside an output folder: mode 0700, created by the worker.

    Nobody but the runner can add a name in it, so the partials FFmpeg writes there
    cannot be replaced by a link to elsewhere (issue 18). Its name ends in `.partial`
    so that `proxx status` lists a finished job's leftovers as before.
    """
    return os.path.join(output_dir, f".proxx.{job_id}.partial")


def partial_path(output_path: str, job_id: str) -> str:
    """Where a clip renders before verification: hidden, in the job's private folder.

    Same filesystem as the final name, so publication is one atomic rename; the
    job id keeps concurrent jobs apart, and recovery can find it.
    """
    directory, name = os.path.split(output_path)
    return os.path.join(private_dir(directory, job_id), f".{name}.{job_id}.partial")


def record_path(partial: str) -> str:
    """The publication record of the clip rendered at `partial` (no longer than it)."""
    return partial.removesuffix(".partial") + ".record"


# ASC MHL appends (workers/mhl.py) in an output folder: their lock, and the private
# folders `ascmhl` works in (`.proxx-mhl.RANDOM.partial/`), which `proxx status`
# lists when a killed append left one.
MHL_LOCK = ".proxx-mhl.lock"
MHL_PRIVATE_PREFIX, MHL_PRIVATE_SUFFIX = ".proxx-mhl.", ".partial"


def is_mhl_private(name: str) -> bool:
    return name.startswith(MHL_PRIVATE_PREFIX) and name.endswith(MHL_PRIVATE_SUFFIX)
