"""Running watch-folder jobs as Slurm batch jobs (`proxx watch --executor slurm`).

The supervisor still only moves names: each claimed JobSpec becomes one
`sbatch --no-requeue` job whose step (`workers.slurm_step`) runs the worker
code for that one job on a node and appends the worker's protocol messages,
as JSON lines, to a spool file beside the claim in `running/`. The supervisor
tails the spool and polls Slurm; Slurm's end state decides how a job that did
not report its own end failed. Modules:

- `executor`: `SlurmExecutor`, the supervisor's Executor; it keeps the jobs and
  wires the parts below
- `task`: one Slurm job's record (claim, job name, spool, logs, what Slurm said)
- `launch`: sbatch for a claim, the sidecar around it, a failed sbatch, outages
- `poll`: the spools and `squeue`/`scontrol` → each job's tracker and end time
- `finish`: an ended job → its outcome (Slurm's reasons win), `running/` cleared
- `cancel`: the tracker's actions as `scancel`
- `states`: parsing `squeue`/`scontrol` output, Slurm end state → failure reason
- `client`: the `sbatch`/`squeue`/`scontrol`/`scancel` calls, with timeouts
- `spool`: incremental, bounded reading of a spool file
- `sidecar`: the Slurm job id recorded with a claim, for re-attaching after a restart
"""
