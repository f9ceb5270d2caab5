"""The Slurm job id recorded with a claim, so ownership survives a supervisor restart.

`running/.NAME.json.slurm` is written (atomically) *before* sbatch runs, with no
job id, then again with the id sbatch printed. A runner that finds a claim
with a sidecar therefore knows the job may be running on the cluster even when
the claim's lock is free: it asks Slurm (by id, or by the job name when the
runner died between sbatch and the second write) before it recovers anything,
and never submits the job again.
"""

from __future__ import annotations

import contextlib
import os
import socket

from pydantic import BaseModel, ConfigDict, ValidationError

from proxx.contract.fsutil import (
    NotRegularFile,
    fit_name,
    read_regular,
    remove_temps_of,
    write_atomic,
)

SUFFIX = ".slurm"


class Sidecar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sidecar_version: int = 1
    job_id: str  # Proxx's job id
    job_name: str  # the Slurm job name, unique per claim
    slurm_job_id: str | None  # None: sbatch was about to run (or failed)
    submitted_at: str
    runner_host: str
    runner_pid: int
    gres: str | None = None  # what the current Slurm job asked for (RAW: resolve:1)


def sidecar_path(claim_path: str) -> str:
    """`running/NAME.json` → `running/.NAME.json.slurm` (a dot-file, like the owner record)."""
    folder, name = os.path.split(claim_path)
    return os.path.join(folder, fit_name(f".{name}", SUFFIX))


def write(claim_path: str, record: Sidecar) -> None:
    write_atomic(sidecar_path(claim_path), record.model_dump_json(indent=1).encode())


def read(claim_path: str) -> Sidecar | None:
    """The record, or None when there is none or it is unreadable (then nothing was
    submitted by a runner that finished writing it — see the module doc)."""
    try:  # a FIFO or link planted at the name is refused (and logged), never waited on
        data = read_regular(sidecar_path(claim_path))
    except (FileNotFoundError, NotADirectoryError, NotRegularFile):
        return None
    try:
        return Sidecar.model_validate_json(data)
    except ValidationError:
        return None


def remove(claim_path: str) -> None:
    """The record, and what a runner killed -9 while rewriting it left (`write_atomic`'s
    temp file): only the claim's holder writes the record, and the caller holds it."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(sidecar_path(claim_path))
    remove_temps_of(sidecar_path(claim_path))


def new(job_id: str, job_name: str, slurm_job_id: str | None, submitted_at: str) -> Sidecar:
    return Sidecar(
        job_id=job_id,
        job_name=job_name,
        slurm_job_id=slurm_job_id,
        submitted_at=submitted_at,
        runner_host=socket.gethostname(),
        runner_pid=os.getpid(),
    )
