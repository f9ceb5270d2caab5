"""The tracker's actions, carried out on a Slurm job: there is no pipe to a batch job,
so both a cancel and a kill become `scancel`."""

from __future__ import annotations

import logging
import time

from proxx.runtime.tracker import Action, KillWorker, SendCancel
from proxx.slurm.client import SlurmClient, SlurmUnavailable
from proxx.slurm.task import SlurmTask

log = logging.getLogger("proxx.slurm")


def act(client: SlurmClient, task: SlurmTask, actions: list[Action]) -> None:
    for action in actions:
        if not isinstance(action, SendCancel | KillWorker) or task.slurm_id is None:
            continue
        if isinstance(action, KillWorker):
            log.error(
                "job %s: %s; cancelling Slurm job %s",
                task.tracker.job_id,
                action.why,
                task.slurm_id,
            )
        elif task.cancelled_at is not None:
            continue  # one SIGTERM is enough; KillWait escalates to KILL on the node
        task.cancelled_at = task.cancelled_at or time.monotonic()
        try:
            # KILL reaches only processes: a job still queued is cancelled instead
            kill = isinstance(action, KillWorker) and task.seen_running
            client.cancel(task.slurm_id, kill=kill)
        except SlurmUnavailable as exc:
            log.error("job %s: %s", task.tracker.job_id, exc)
