"""`proxx remainder`: a JobSpec for exactly the clips of an unfinished job that did not complete.

The runbook tells operators to resubmit "the failed clips only". Removing the
finished sources from the original JobSpec would renumber `{index}`, so the
rest would get other names than the original job would have given them. The
remainder therefore keeps the original JobSpec's every field (`created_at`
included, so `{date}`/`{time}` stay the same) and, when the names need it,
becomes JobSpec 1.1.0 with `source_indices`/`source_count`, which keep each
clip's original number and padding.

Only Proxx's own files are read: the result (bounded) and the original
JobSpec it names, whose fingerprint must match the result's — unless the job
never reached a worker (no fingerprint, no clips): then nothing ran, and the
remainder is the original JobSpec's every clip.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from proxx.content.plan import output_names, resolve_sources
from proxx.content.spec import fingerprint, parse_json_object, validate_model
from proxx.contract import fsutil
from proxx.contract.errors import ProxxError, ValidationError
from proxx.contract.naming import template_tokens
from proxx.contract.protocol import MAX_SPEC_BYTES
from proxx.contract.results import MAX_RESULT_BYTES, NO_FINGERPRINT

REMAINDER_VERSION = "1.1.0"


class RemainderRefused(ProxxError):
    """No remainder can (or needs to) be written from this result; the message says why."""


@dataclass(frozen=True)
class RemainderClip:
    number: int  # 1-based position in the original job
    source_path: str
    output_name: str
    status: str  # FAILED or SKIPPED (or "not run" when the result lists no clips)


@dataclass(frozen=True)
class Remainder:
    spec: dict[str, Any]
    original_jobspec: str
    job_id: str
    status: str
    total: int
    clips: list[RemainderClip]
    existing_outputs: list[str]  # remaining outputs already on disk: the new job would refuse

    def to_json(self) -> str:
        return json.dumps(self.spec, indent=2, ensure_ascii=False) + "\n"


def remainder(result_path: str) -> Remainder:
    """Build the remainder JobSpec of the job whose result is at `result_path`."""
    res = _read_result(result_path)
    job_id, status = _unfinished(result_path, res)
    spec_path, obj = _original(result_path, res)
    try:
        spec = validate_model(obj)
    except ValidationError as exc:
        raise RemainderRefused(
            f"the original JobSpec {spec_path} no longer validates: {exc}"
        ) from None
    sources = resolve_sources(spec, _base_dir(res, spec_path))
    names = output_names(spec, sources)
    numbers, count = spec.index_numbers()
    left = _not_completed(res, sources)
    if not left:
        raise RemainderRefused(f"every clip of job {job_id} is COMPLETED; nothing remains")
    new = _new_spec(
        obj,
        spec.output_name_template,
        [sources[i] for i in left],
        [numbers[i] for i in left],
        count,
    )
    _check_same_names(new, [names[i] for i in left])
    clips = [RemainderClip(numbers[i], sources[i], names[i], st) for i, st in left.items()]
    return Remainder(
        spec=new,
        original_jobspec=spec_path,
        job_id=job_id,
        status=status,
        total=len(sources),
        clips=clips,
        existing_outputs=_existing(spec.output_dir, clips),
    )


def write_new(path: str, rem: Remainder) -> None:
    """Write the remainder JobSpec to `path`, atomically, never over an existing file."""
    if os.path.lexists(path):
        raise RemainderRefused(f"{path} already exists; Proxx never overwrites (choose another -o)")
    try:
        # A dot-name beside the target, renamed in without replacing: a watch folder's
        # intake never sees half a file, and a file that appeared meanwhile stays.
        fsutil.write_new(path, rem.to_json().encode("utf-8"))
    except FileExistsError:
        raise RemainderRefused(f"{path} appeared meanwhile; Proxx never overwrites") from None
    except OSError as exc:
        raise RemainderRefused(f"cannot write {path}: {exc.strerror or exc}") from None


# -- steps ---------------------------------------------------------------------------------
def _unfinished(result_path: str, res: dict[str, Any]) -> tuple[str, str]:
    """The job id and status of a result that ran and did not complete; else refused."""
    job_id = str(res.get("job_id"))
    status = res.get("status")
    if status == "COMPLETED":
        raise RemainderRefused(
            f"job {job_id} is COMPLETED: every clip was rendered and verified, nothing remains"
        )
    if status not in ("FAILED", "PARTIAL"):
        raise RemainderRefused(f"{result_path} has status {status!r}; not a Proxx result")
    if res.get("validation_error"):
        raise RemainderRefused(
            f"job {job_id} failed validation, so nothing ran and nothing remains to split off: "
            f"fix the JobSpec ({res['validation_error']}) and submit it again"
        )
    return job_id, str(status)


def _existing(output_dir: str, clips: list[RemainderClip]) -> list[str]:
    """Outputs of remaining clips already on disk: the new job would refuse them."""
    paths = [os.path.join(output_dir, c.output_name) for c in clips]
    return [p for p in paths if os.path.lexists(p)]


def _read_result(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_RESULT_BYTES + 1)
    except OSError as exc:
        raise RemainderRefused(f"cannot read result {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_RESULT_BYTES:
        raise RemainderRefused(f"{path} is larger than {MAX_RESULT_BYTES} bytes; not a result")
    try:
        res = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RemainderRefused(f"{path} is not JSON ({exc}); give a Proxx result file") from None
    if not isinstance(res, dict) or "clips" not in res or "jobspec_fingerprint" not in res:
        raise RemainderRefused(f"{path} is not a Proxx result (no clips or jobspec_fingerprint)")
    return res


def _original(result_path: str, res: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The original JobSpec: where the result says it went, else beside the result.

    Its fingerprint must be the result's: a JobSpec edited since (or another job's)
    would give a remainder that is not the rest of *this* job.
    """
    meta = res.get("_metadata") or {}
    candidates = [meta.get("final_jobspec_path"), meta.get("jobspec_path")]
    if result_path.endswith(".result.json"):
        candidates.append(result_path[: -len(".result.json")] + ".json")
    tried = []
    for cand in candidates:
        if not isinstance(cand, str) or cand in tried:
            continue
        tried.append(cand)
        try:
            with open(cand, "rb") as fh:
                data = fh.read(MAX_SPEC_BYTES + 1)
        except OSError:
            continue
        try:
            obj = parse_json_object(data)
        except ValidationError:
            continue
        if fingerprint(obj) == res["jobspec_fingerprint"] or _never_read(res):
            return cand, obj
        raise RemainderRefused(
            f"{cand} is not the JobSpec this result was made from (its fingerprint "
            f"{fingerprint(obj)} differs from the result's {res['jobspec_fingerprint']})"
        )
    raise RemainderRefused(
        "cannot find the original JobSpec; looked at: " + (", ".join(tried) or "nothing named")
    )


def _never_read(res: dict[str, Any]) -> bool:
    """The job never reached a worker (cancelled in the queue, requeued at launch, its
    worker gone before it spoke) and its clips could not be listed either (a result of
    an older Proxx, or the lister failed: proxx.runtime.listing): no one read the
    JobSpec, so the result carries no fingerprint to compare, and no clip ran. The
    JobSpec the runner filed beside the result is then the whole remainder, as it is
    now. (Listed, such a result has the fingerprint and its clips, all SKIPPED.)"""
    return res.get("jobspec_fingerprint") == NO_FINGERPRINT and res.get("clips") == []


def _base_dir(res: dict[str, Any], spec_path: str) -> str:
    """Where the job resolved relative sources: the watch root or the JobSpec's folder.

    `_metadata.jobspec_path` is where the JobSpec was when it ran: `ROOT/running/X.json`
    under `proxx watch` (sources resolve against ROOT), the file itself under `run`.
    """
    ran_at = (res.get("_metadata") or {}).get("jobspec_path") or spec_path
    folder = os.path.dirname(os.path.abspath(ran_at))
    if os.path.basename(folder) == "running":
        return os.path.dirname(folder)
    return folder


def _not_completed(res: dict[str, Any], sources: list[str]) -> dict[int, str]:
    """Position → status of every clip that is not COMPLETED, in source order."""
    clips = res.get("clips")
    if not isinstance(clips, list):
        raise RemainderRefused("the result's clips field is not a list")
    if not clips:
        if res.get("interrupted") or res.get("system_error"):
            return dict.fromkeys(range(len(sources)), "not run")
        raise RemainderRefused(
            "the result lists no clips and says neither interrupted nor "
            "system_error; cannot tell what ran"
        )
    if len(clips) != len(sources):
        raise RemainderRefused(
            f"the result lists {len(clips)} clips but the JobSpec has "
            f"{len(sources)} sources; cannot match them"
        )
    left: dict[int, str] = {}
    for i, (clip, src) in enumerate(zip(clips, sources, strict=True)):
        if not isinstance(clip, dict) or clip.get("source_path") != src:
            got = clip.get("source_path") if isinstance(clip, dict) else clip
            raise RemainderRefused(
                f"clip {i + 1} of the result is {got!r}, but the JobSpec's "
                f"source {i + 1} resolves to {src!r}"
            )
        if clip.get("status") != "COMPLETED":
            left[i] = str(clip.get("status"))
    return left


def _new_spec(
    obj: dict[str, Any], template: str, sources: list[str], numbers: list[int], count: int
) -> dict[str, Any]:
    """The original JobSpec, field for field, with only the remaining sources.

    Sources become absolute (as the result recorded them), so the new JobSpec
    means the same files wherever it is submitted from.
    """
    new = {k: v for k, v in obj.items() if k not in ("source_indices", "source_count")}
    new["sources"] = sources
    renumbered = numbers != list(range(1, len(numbers) + 1)) or count != len(numbers)
    if "index" in template_tokens(template) and renumbered:
        new["jobspec_version"] = REMAINDER_VERSION
        new["source_indices"] = numbers
        new["source_count"] = count
    return new


def _check_same_names(new: dict[str, Any], expected: list[str]) -> None:
    """The promise itself, checked on the JobSpec we are about to hand out."""
    spec = validate_model(new)
    got = output_names(spec, list(spec.sources))
    if got != expected:
        raise ProxxError(f"internal error: remainder names {got} differ from {expected}")
