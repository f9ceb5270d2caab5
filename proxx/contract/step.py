"""How a Slurm step (workers/slurm_step.py) tells the supervisor how it ended.

Its exit code is the one word a step can say when its spool file cannot;
the supervisor side (proxx/slurm) reads it.
"""

from __future__ import annotations

# A RAW job's first batch job holds no GRES; its step exits with this code, having only
# read and routed the JobSpec, when the job needs DaVinci Resolve (workers.slurm_step).
EXIT_NEEDS_RESOLVE = 7
# A step whose worker was stopped (a SIGTERM): its results say `interrupted`. Slurm marks
# such a job FAILED when the signal reached only the step (`scancel --signal=TERM`,
# `--signal=B:TERM@60`); its own end state, when it ended the job, says more.
EXIT_INTERRUPTED = 5
